// Command gateway serves the user and task services as a REST/JSON API
// (grpc-gateway), with the OpenAPI document at /openapi.json, liveness at
// /healthz and readiness at /readyz. It is configured from the environment
// (see config) and stops gracefully on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"

	"github.com/todo-platform/todo/pkg/admin"
	"github.com/todo-platform/todo/pkg/cli"
	"github.com/todo-platform/todo/pkg/envcfg"
	"github.com/todo-platform/todo/pkg/grpcclient"
	"github.com/todo-platform/todo/pkg/httpserver"
	"github.com/todo-platform/todo/pkg/telemetry"
	"github.com/todo-platform/todo/services/gateway/internal/gateway"
)

// config is the gateway's configuration, read from the environment.
type config struct {
	// HTTPAddr is the listen address: a TCP address or "fd:N".
	HTTPAddr string `env:"HTTP_ADDR" envDefault:":8080"`
	// AdminAddr is the admin port's listen address (metrics, health,
	// pprof; see package admin); empty turns it off.
	AdminAddr       string `env:"ADMIN_ADDR" envDefault:":9090"`
	UserServiceAddr string `env:"USER_SERVICE_ADDR" envDefault:"localhost:50051"`
	TaskServiceAddr string `env:"TASK_SERVICE_ADDR" envDefault:"localhost:50052"`
	// UpstreamTLS is the TLS of the calls to the services
	// (UPSTREAM_CA_FILE, …); unset: plaintext.
	envcfg.UpstreamTLS
	// ServerTLS is the HTTP listener's TLS (TLS_CERT_FILE, …): HTTPS, with
	// Strict-Transport-Security on every response; unset: plain HTTP.
	envcfg.ServerTLS

	MaxBodyBytes           int64         `env:"MAX_BODY_BYTES" envDefault:"1048576"`
	MaxHeaderBytes         int           `env:"MAX_HEADER_BYTES" envDefault:"65536"`
	UpstreamDefaultTimeout time.Duration `env:"UPSTREAM_DEFAULT_TIMEOUT" envDefault:"10s"`
	UpstreamMaxTimeout     time.Duration `env:"UPSTREAM_MAX_TIMEOUT" envDefault:"60s"`
	ReadyTimeout           time.Duration `env:"READY_TIMEOUT" envDefault:"2s"`

	ReadHeaderTimeout time.Duration `env:"HTTP_READ_HEADER_TIMEOUT" envDefault:"5s"`
	ReadTimeout       time.Duration `env:"HTTP_READ_TIMEOUT" envDefault:"30s"`
	WriteTimeout      time.Duration `env:"HTTP_WRITE_TIMEOUT" envDefault:"75s"`
	IdleTimeout       time.Duration `env:"HTTP_IDLE_TIMEOUT" envDefault:"120s"`
	envcfg.Shutdown

	CORSAllowedOrigins []string `env:"CORS_ALLOWED_ORIGINS" envSeparator:","`
	TrustProxyHeaders  bool     `env:"TRUST_PROXY_HEADERS" envDefault:"false"`
}

// Validate names each variable whose value cannot work.
func (c config) Validate() error {
	var p envcfg.Problems
	p.Check(c.UserServiceAddr != "", "USER_SERVICE_ADDR must not be empty")
	p.Check(c.TaskServiceAddr != "", "TASK_SERVICE_ADDR must not be empty")
	p.Check(c.MaxBodyBytes > 0, "MAX_BODY_BYTES must be positive")
	p.Check(c.MaxHeaderBytes > 0, "MAX_HEADER_BYTES must be positive")
	p.Check(c.UpstreamDefaultTimeout > 0, "UPSTREAM_DEFAULT_TIMEOUT must be positive")
	p.Check(c.UpstreamMaxTimeout >= c.UpstreamDefaultTimeout, "UPSTREAM_MAX_TIMEOUT must be at least UPSTREAM_DEFAULT_TIMEOUT")
	p.Check(c.ReadyTimeout > 0, "READY_TIMEOUT must be positive")
	p.Check(c.WriteTimeout > c.UpstreamMaxTimeout, fmt.Sprintf(
		"HTTP_WRITE_TIMEOUT (%s) must exceed UPSTREAM_MAX_TIMEOUT (%s), or responses to long calls are cut", c.WriteTimeout, c.UpstreamMaxTimeout))
	p.Add(c.Shutdown.Validate())
	return p.Err()
}

func main() { cli.Main("gateway", run) }

// run serves until ctx ends, then shuts the HTTP server down, letting
// in-flight requests finish within the shutdown timeout.
func run(ctx context.Context, log *slog.Logger, args []string) (err error) {
	if _, _, err := cli.Parse(args, "usage: gateway [serve] (configured from the environment)", "serve"); err != nil {
		return err
	}
	cfg, err := envcfg.Load[config]()
	if err != nil {
		return err
	}
	log.InfoContext(ctx, "starting gateway", slog.Any("config", envcfg.LogValue(cfg)))
	tel, err := telemetry.New(ctx, "gateway")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, tel.Shutdown(context.WithoutCancel(ctx))) }()

	upstreamTLS, err := cfg.UpstreamTLS.Config()
	if err != nil {
		return err
	}
	serverTLS, err := cfg.ServerTLS.Config()
	if err != nil {
		return err
	}
	dialOpts := slices.Clip(append(tel.DialOptions(), grpcclient.WithTLS(upstreamTLS)))
	// Each upstream may be several replicas: balanced, health-checked,
	// reads retried (grpcclient.ForService).
	user, err := grpcclient.Dial(cfg.UserServiceAddr, append(dialOpts, grpcclient.ForService(userv1.UserService_ServiceDesc.ServiceName))...)
	if err != nil {
		return fmt.Errorf("USER_SERVICE_ADDR: %w", err)
	}
	defer user.Close()
	task, err := grpcclient.Dial(cfg.TaskServiceAddr, append(dialOpts, grpcclient.ForService(taskv1.TaskService_ServiceDesc.ServiceName))...)
	if err != nil {
		return fmt.Errorf("TASK_SERVICE_ADDR: %w", err)
	}
	defer task.Close()

	gcfg := gateway.Config{
		MaxBodyBytes:       cfg.MaxBodyBytes,
		MaxHeaderBytes:     cfg.MaxHeaderBytes,
		DefaultTimeout:     cfg.UpstreamDefaultTimeout,
		MaxTimeout:         cfg.UpstreamMaxTimeout,
		ReadyTimeout:       cfg.ReadyTimeout,
		CORSAllowedOrigins: cfg.CORSAllowedOrigins,
		TrustProxyHeaders:  cfg.TrustProxyHeaders,
		HSTS:               serverTLS != nil,
		Telemetry:          &gateway.Telemetry{Registerer: tel.Registry, TracerProvider: tel.TracerProvider, Propagator: tel.Propagator, Recording: tel.Exporting},
	}
	// The handler's registrations live as long as the process; they must not
	// end with ctx, or requests in flight at SIGTERM would fail.
	handler, err := gateway.New(context.WithoutCancel(ctx), log, gcfg, user, task)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Addr:      cfg.HTTPAddr,
		Handler:   handler,
		TLSConfig: serverTLS,
		// Headers up to MAX_HEADER_BYTES + 4 MiB reach the handler, which
		// refuses those above MAX_HEADER_BYTES with a JSON 431.
		MaxHeaderBytes:    gcfg.ServerMaxHeaderBytes(),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	adm := admin.Config{Addr: cfg.AdminAddr, Gatherer: tel.Registry, Ready: gateway.ReadyHandler(log, cfg.ReadyTimeout, user, task)}
	return admin.Run(ctx, log, adm, cfg.ShutdownTimeout, func(ctx context.Context) error {
		return httpserver.ListenAndServe(ctx, log, srv, cfg.ShutdownTimeout)
	})
}
