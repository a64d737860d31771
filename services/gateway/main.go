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
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/todo-platform/todo/services/gateway/internal/gateway"
)

// config is the gateway's configuration, read from the environment.
type config struct {
	HTTPAddr        string `env:"HTTP_ADDR" envDefault:":8080"`
	UserServiceAddr string `env:"USER_SERVICE_ADDR" envDefault:"localhost:50051"`
	TaskServiceAddr string `env:"TASK_SERVICE_ADDR" envDefault:"localhost:50052"`

	MaxBodyBytes           int64         `env:"MAX_BODY_BYTES" envDefault:"1048576"`
	UpstreamDefaultTimeout time.Duration `env:"UPSTREAM_DEFAULT_TIMEOUT" envDefault:"10s"`
	UpstreamMaxTimeout     time.Duration `env:"UPSTREAM_MAX_TIMEOUT" envDefault:"60s"`
	ReadyTimeout           time.Duration `env:"READY_TIMEOUT" envDefault:"2s"`

	ReadHeaderTimeout time.Duration `env:"HTTP_READ_HEADER_TIMEOUT" envDefault:"5s"`
	ReadTimeout       time.Duration `env:"HTTP_READ_TIMEOUT" envDefault:"30s"`
	WriteTimeout      time.Duration `env:"HTTP_WRITE_TIMEOUT" envDefault:"75s"`
	IdleTimeout       time.Duration `env:"HTTP_IDLE_TIMEOUT" envDefault:"120s"`
	ShutdownTimeout   time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"20s"`

	CORSAllowedOrigins []string `env:"CORS_ALLOWED_ORIGINS" envSeparator:","`
	TrustProxyHeaders  bool     `env:"TRUST_PROXY_HEADERS" envDefault:"false"`

	LogLevel slog.Level `env:"LOG_LEVEL" envDefault:"info"`
}

func (c config) validate() error {
	if c.WriteTimeout <= c.UpstreamMaxTimeout {
		return fmt.Errorf("HTTP_WRITE_TIMEOUT (%s) must exceed UPSTREAM_MAX_TIMEOUT (%s), or responses to long calls are cut", c.WriteTimeout, c.UpstreamMaxTimeout)
	}
	if c.ShutdownTimeout <= 0 {
		return errors.New("SHUTDOWN_TIMEOUT must be positive")
	}
	return nil
}

func main() {
	level := new(slog.LevelVar)
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("service", "gateway")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, level); err != nil {
		log.Error("gateway stopped", "error", err)
		stop()
		os.Exit(1)
	}
}

// run serves until ctx ends, then shuts the HTTP server down, letting
// in-flight requests finish within the shutdown timeout.
func run(ctx context.Context, log *slog.Logger, level *slog.LevelVar) error {
	cfg, err := env.ParseAs[config]()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	level.Set(cfg.LogLevel)
	log.Info("starting", "config", cfg)

	user, err := gateway.Dial(cfg.UserServiceAddr)
	if err != nil {
		return err
	}
	defer user.Close()
	task, err := gateway.Dial(cfg.TaskServiceAddr)
	if err != nil {
		return err
	}
	defer task.Close()

	// The handler's registrations live as long as the process; they must not
	// end with ctx, or requests in flight at SIGTERM would fail.
	handler, err := gateway.New(context.WithoutCancel(ctx), log, gateway.Config{
		MaxBodyBytes:       cfg.MaxBodyBytes,
		DefaultTimeout:     cfg.UpstreamDefaultTimeout,
		MaxTimeout:         cfg.UpstreamMaxTimeout,
		ReadyTimeout:       cfg.ReadyTimeout,
		CORSAllowedOrigins: cfg.CORSAllowedOrigins,
		TrustProxyHeaders:  cfg.TrustProxyHeaders,
	}, user, task)
	if err != nil {
		return err
	}

	srv := &http.Server{
		Addr:              cfg.HTTPAddr,
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	lis, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
	}
	log.Info("serving", "addr", lis.Addr().String())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}
