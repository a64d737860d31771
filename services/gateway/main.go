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
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/todo-platform/todo/pkg/grpcclient"
	"github.com/todo-platform/todo/pkg/listen"

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
	ShutdownTimeout   time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"8s"`

	CORSAllowedOrigins []string `env:"CORS_ALLOWED_ORIGINS" envSeparator:","`
	TrustProxyHeaders  bool     `env:"TRUST_PROXY_HEADERS" envDefault:"false"`
}

// LogValue logs the configuration under its environment variable names.
// None of it is secret.
func (c config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("HTTP_ADDR", c.HTTPAddr),
		slog.String("USER_SERVICE_ADDR", c.UserServiceAddr),
		slog.String("TASK_SERVICE_ADDR", c.TaskServiceAddr),
		slog.Int64("MAX_BODY_BYTES", c.MaxBodyBytes),
		slog.String("UPSTREAM_DEFAULT_TIMEOUT", c.UpstreamDefaultTimeout.String()),
		slog.String("UPSTREAM_MAX_TIMEOUT", c.UpstreamMaxTimeout.String()),
		slog.String("READY_TIMEOUT", c.ReadyTimeout.String()),
		slog.String("HTTP_READ_HEADER_TIMEOUT", c.ReadHeaderTimeout.String()),
		slog.String("HTTP_READ_TIMEOUT", c.ReadTimeout.String()),
		slog.String("HTTP_WRITE_TIMEOUT", c.WriteTimeout.String()),
		slog.String("HTTP_IDLE_TIMEOUT", c.IdleTimeout.String()),
		slog.String("SHUTDOWN_TIMEOUT", c.ShutdownTimeout.String()),
		slog.Any("CORS_ALLOWED_ORIGINS", c.CORSAllowedOrigins),
		slog.Bool("TRUST_PROXY_HEADERS", c.TrustProxyHeaders),
	)
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
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, log)
	stop()
	if err != nil {
		log.Error("gateway failed", slog.Any("error", err))
		os.Exit(1)
	}
}

// run serves until ctx ends, then shuts the HTTP server down, letting
// in-flight requests finish within the shutdown timeout.
func run(ctx context.Context, log *slog.Logger) error {
	cfg, err := env.ParseAs[config]()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	log.Info("starting gateway", slog.Any("config", cfg))

	user, err := grpcclient.Dial(cfg.UserServiceAddr)
	if err != nil {
		return err
	}
	defer user.Close()
	task, err := grpcclient.Dial(cfg.TaskServiceAddr)
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
	lis, err := listen.Listen(ctx, cfg.HTTPAddr)
	if err != nil {
		return err
	}
	log.Info("serving", "addr", lis.Addr().String())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", slog.String("timeout", cfg.ShutdownTimeout.String()))
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
