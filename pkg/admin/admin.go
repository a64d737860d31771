// Package admin is the operators' port of every binary (ADMIN_ADDR), apart
// from the public one: /metrics (Prometheus), /healthz (the process is up),
// /readyz (it can serve: its checks pass within a short timeout) and
// /debug/pprof/. Kubernetes probes and Prometheus use it; the public ports
// serve none of these paths.
package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/todo-platform/todo/pkg/httpserver"
)

// DefaultCheckTimeout bounds each readiness check when Config.CheckTimeout
// is zero.
const DefaultCheckTimeout = 2 * time.Second

// Check reports whether one thing the process needs is available: nil
// when it is.
type Check func(ctx context.Context) error

// Config says what the admin port serves.
type Config struct {
	// Addr is the listen address (a TCP address or "fd:N"); empty turns the
	// admin port off.
	Addr string
	// Gatherer is what /metrics serves.
	Gatherer prometheus.Gatherer
	// Checks are /readyz's checks, by name; /readyz is 200 when every one
	// passes within CheckTimeout.
	Checks map[string]Check
	// CheckTimeout bounds each check.
	CheckTimeout time.Duration
	// Ready, when set, answers /readyz instead of Checks (the gateway's own
	// readiness handler).
	Ready http.Handler
}

// Handler returns the admin port's handler.
func Handler(log *slog.Logger, cfg Config) http.Handler {
	if cfg.CheckTimeout == 0 {
		cfg.CheckTimeout = DefaultCheckTimeout
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	if cfg.Ready != nil {
		mux.Handle("GET /readyz", cfg.Ready)
	} else {
		mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
			ready(w, r, log, cfg.Checks, cfg.CheckTimeout)
		})
	}
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// ready runs every check at once and answers 200 {"status":"ready"} or 503
// {"status":"not ready","checks":{name:"error"}}.
func ready(w http.ResponseWriter, r *http.Request, log *slog.Logger, checks map[string]Check, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	type result struct {
		name string
		err  error
	}
	results := make(chan result, len(checks))
	for name, check := range checks {
		go func() { results <- result{name, check(ctx)} }()
	}
	failed := map[string]string{}
	for range checks {
		res := <-results
		if res.err != nil {
			failed[res.name] = res.err.Error()
		}
	}
	if len(failed) > 0 {
		log.WarnContext(r.Context(), "not ready", slog.Any("checks", failed))
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "checks": failed})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// Serve serves the admin port of cfg until ctx ends, then stops within
// shutdownTimeout (see httpserver.Serve). With cfg.Addr empty it returns
// nil at once.
func Serve(ctx context.Context, log *slog.Logger, cfg Config, shutdownTimeout time.Duration) error {
	if cfg.Addr == "" {
		return nil
	}
	srv := &http.Server{
		Addr:              cfg.Addr,
		Handler:           Handler(log, cfg),
		ReadHeaderTimeout: 5 * time.Second,
		// pprof's profile and trace run for up to their seconds parameter.
		WriteTimeout: 5 * time.Minute,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return httpserver.ListenAndServe(ctx, log.With(slog.String("server", "admin")), srv, shutdownTimeout)
}

// Run runs serve (the process's public server) and the admin port of cfg
// side by side until serve returns; then it stops the admin port and
// returns serve's error. Should the admin port fail (its address taken),
// serve's context is cancelled, so it stops gracefully, and the admin error
// is returned.
func Run(ctx context.Context, log *slog.Logger, cfg Config, shutdownTimeout time.Duration, serve func(ctx context.Context) error) error {
	adminCtx, stopAdmin := context.WithCancel(ctx)
	serveCtx, stopServe := context.WithCancel(ctx)
	defer stopServe()
	adminErr := make(chan error, 1)
	go func() {
		err := Serve(adminCtx, log, cfg, shutdownTimeout)
		if err != nil {
			stopServe()
		}
		adminErr <- err
	}()
	err := serve(serveCtx)
	stopAdmin()
	if aerr := <-adminErr; aerr != nil {
		return fmt.Errorf("admin port: %w", aerr)
	}
	return err
}

// GRPCHealth returns a Check that asks the grpc.health.v1 service on conn
// about service and requires SERVING.
func GRPCHealth(conn grpc.ClientConnInterface, service string) Check {
	client := healthpb.NewHealthClient(conn)
	return func(ctx context.Context) error {
		resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			return fmt.Errorf("health of %s: %w", service, err)
		}
		if st := resp.GetStatus(); st != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("health of %s: %s", service, st)
		}
		return nil
	}
}

// Watch runs check every interval, under timeout, until ctx ends, calls set
// with whether it passed each time, and logs each change of the answer. The services use it to mark their
// gRPC health NOT_SERVING while their database does not answer, so that
// the gateway's readiness follows.
func Watch(ctx context.Context, log *slog.Logger, interval, timeout time.Duration, check Check, set func(ok bool)) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	first, last := true, false
	for {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		err := check(cctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		ok := err == nil
		if first || ok != last {
			if ok {
				log.InfoContext(ctx, "ready")
			} else {
				log.WarnContext(ctx, "not ready", slog.Any("error", err))
			}
			first, last = false, ok
		}
		set(ok)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}
