// Package grpcserver is the gRPC server bootstrap both services use: keepalive
// enforcement, stream and message size limits, structured logging and panic
// recovery from go-grpc-middleware, protovalidate request validation, the
// grpc.health.v1 health service, server reflection and a graceful stop.
package grpcserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"slices"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"

	"github.com/todo-platform/todo/api/apidesc"
	"github.com/todo-platform/todo/pkg/envcfg"
	"github.com/todo-platform/todo/pkg/grpcerr"
	"github.com/todo-platform/todo/pkg/listen"
	applog "github.com/todo-platform/todo/pkg/logging"
)

// Defaults applied by New to zero fields of Config.
const (
	DefaultMaxConcurrentStreams  = 1000
	DefaultMaxRecvMsgBytes       = 4 << 20
	DefaultShutdownTimeout       = envcfg.DefaultShutdownTimeout
	DefaultKeepaliveMinTime      = 10 * time.Second
	DefaultKeepaliveTime         = 1 * time.Minute
	DefaultKeepaliveTimeout      = 20 * time.Second
	DefaultMaxConnectionIdle     = 5 * time.Minute
	DefaultMaxConnectionAge      = 5 * time.Minute
	DefaultMaxConnectionAgeGrace = 30 * time.Second
)

// LivenessService is the grpc.health.v1 service name that is SERVING from
// the start of Serve until the server stops, whatever SetServing says: a
// liveness probe asks for it (the process answers), a readiness probe for
// the API's own service name (which follows the database).
const LivenessService = "liveness"

// Config configures a Server. Zero fields take the Default* values.
type Config struct {
	// Addr is the address ListenAndServe listens on: a TCP address such as
	// ":50051", or "fd:N" for an inherited socket (see package listen).
	Addr string
	// MaxConcurrentStreams bounds the concurrent RPCs per client connection.
	MaxConcurrentStreams uint32
	// MaxRecvMsgBytes bounds the size of one request message.
	MaxRecvMsgBytes int
	// ShutdownTimeout bounds how long Serve waits for in-flight RPCs after its
	// context ends before it cancels them.
	ShutdownTimeout time.Duration

	// KeepaliveMinTime is the shortest client ping interval the server accepts;
	// a client pinging more often is disconnected. Pings without active
	// streams are permitted.
	KeepaliveMinTime time.Duration
	// KeepaliveTime is how long a connection may be quiet before the server
	// pings the client.
	KeepaliveTime time.Duration
	// KeepaliveTimeout is how long the server waits for the ping's answer
	// before closing the connection.
	KeepaliveTimeout time.Duration
	// MaxConnectionIdle is how long a connection without RPCs stays open.
	MaxConnectionIdle time.Duration
	// MaxConnectionAge is how long any connection stays open (gracefully
	// closed then, with MaxConnectionAgeGrace for its RPCs to finish), so
	// that clients balancing over a DNS name that lists the replicas
	// resolve it again and find the ones added since (a Kubernetes
	// headless Service scaled out).
	MaxConnectionAge      time.Duration
	MaxConnectionAgeGrace time.Duration

	// TLS, when set, makes the server speak TLS only (see package
	// tlsconfig for certificates reloaded on change and mutual TLS); nil
	// serves plaintext.
	TLS *tls.Config

	// Options are added before the standard server options, so their
	// interceptors run outermost (telemetry: stats handlers, metrics).
	Options []grpc.ServerOption

	// StreamInterceptors run in streaming calls where New's interceptors
	// run in unary ones: after logging and recovery, before the text
	// check (e.g. grpcauth.StreamServerInterceptor).
	StreamInterceptors []grpc.StreamServerInterceptor
}

func (c Config) withDefaults() Config {
	if c.MaxConcurrentStreams == 0 {
		c.MaxConcurrentStreams = DefaultMaxConcurrentStreams
	}
	if c.MaxRecvMsgBytes == 0 {
		c.MaxRecvMsgBytes = DefaultMaxRecvMsgBytes
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.KeepaliveMinTime == 0 {
		c.KeepaliveMinTime = DefaultKeepaliveMinTime
	}
	if c.KeepaliveTime == 0 {
		c.KeepaliveTime = DefaultKeepaliveTime
	}
	if c.KeepaliveTimeout == 0 {
		c.KeepaliveTimeout = DefaultKeepaliveTimeout
	}
	if c.MaxConnectionIdle == 0 {
		c.MaxConnectionIdle = DefaultMaxConnectionIdle
	}
	if c.MaxConnectionAge == 0 {
		c.MaxConnectionAge = DefaultMaxConnectionAge
	}
	if c.MaxConnectionAgeGrace == 0 {
		c.MaxConnectionAgeGrace = DefaultMaxConnectionAgeGrace
	}
	return c
}

// Server is a gRPC server with health checking, reflection and the standard
// interceptor chain. Register services on GRPC() before calling Serve.
type Server struct {
	log    *slog.Logger
	cfg    Config
	grpc   *grpc.Server
	health *health.Server
}

// New builds a Server. Its unary interceptor chain runs, outermost first:
// logging (one slog line per call, never the payload), panic recovery (the
// panic and stack are logged; the client gets Internal "internal error"), the
// given interceptors in order (e.g. authentication), then request
// validation: the text of every string field (no NUL, valid UTF-8), then
// the protovalidate rules (InvalidArgument with a google.rpc.BadRequest
// naming each violated field path, such as "task.title"). Stream calls get
// logging, recovery and the text check of every message received. Requests
// are decoded by a codec that turns invalid UTF-8 into InvalidArgument
// naming the field instead of grpc-go's Internal (see codec). The
// grpc.health.v1 health service and server reflection are
// registered.
func New(log *slog.Logger, cfg Config, interceptors ...grpc.UnaryServerInterceptor) *Server {
	cfg = cfg.withDefaults()
	lg := logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		applog.Log(ctx, log, slog.Level(lvl), msg, fields...)
	})
	logOpts := []logging.Option{logging.WithLogOnEvents(logging.FinishCall)}
	recOpts := []recovery.Option{recovery.WithRecoveryHandlerContext(recoverPanic(log))}

	unary := make([]grpc.UnaryServerInterceptor, 0, len(interceptors)+3)
	unary = append(unary,
		logging.UnaryServerInterceptor(lg, logOpts...),
		recovery.UnaryServerInterceptor(recOpts...),
	)
	unary = append(unary, interceptors...)
	val := newValidator(log)
	unary = append(unary, val.unary)

	opts := slices.Clip(cfg.Options)
	if cfg.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg.TLS)))
	}
	gs := grpc.NewServer(append(opts,
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             cfg.KeepaliveMinTime,
			PermitWithoutStream: true,
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle:     cfg.MaxConnectionIdle,
			MaxConnectionAge:      cfg.MaxConnectionAge,
			MaxConnectionAgeGrace: cfg.MaxConnectionAgeGrace,
			Time:                  cfg.KeepaliveTime,
			Timeout:               cfg.KeepaliveTimeout,
		}),
		grpc.MaxConcurrentStreams(cfg.MaxConcurrentStreams),
		grpc.MaxRecvMsgSize(cfg.MaxRecvMsgBytes),
		grpc.ForceServerCodecV2(newCodec()),
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(slices.Concat(
			[]grpc.StreamServerInterceptor{
				logging.StreamServerInterceptor(lg, logOpts...),
				recovery.StreamServerInterceptor(recOpts...),
			},
			cfg.StreamInterceptors,
			[]grpc.StreamServerInterceptor{val.stream},
		)...),
	)...)
	hs := health.NewServer()
	// Nothing is SERVING until Serve starts.
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(gs, hs)
	registerReflection(log, gs)
	return &Server{log: log, cfg: cfg, grpc: gs, health: hs}
}

// registerReflection registers server reflection (v1 and v1alpha) serving the
// API descriptors with their doc comments (api/apidesc), so that
// `grpcurl describe` prints the documented services. Should the embedded
// descriptors not load, it falls back to the comment-less linked-in ones.
func registerReflection(log *slog.Logger, gs *grpc.Server) {
	opts := reflection.ServerOptions{Services: gs}
	if r, err := apidesc.NewResolver(); err != nil {
		log.Warn("reflection serves descriptors without comments", slog.Any("error", err))
	} else {
		opts.DescriptorResolver = r
	}
	reflectionv1.RegisterServerReflectionServer(gs, reflection.NewServerV1(opts))
	reflectionv1alpha.RegisterServerReflectionServer(gs, reflection.NewServer(opts))
}

// recoverPanic logs a handler panic with its stack and turns it into
// Internal "internal error".
func recoverPanic(log *slog.Logger) recovery.RecoveryHandlerFuncContext {
	return func(ctx context.Context, p any) error {
		method, _ := grpc.Method(ctx)
		log.ErrorContext(ctx, "panic in gRPC handler",
			slog.String("grpc.method", method),
			slog.String("panic", fmt.Sprint(p)),
			slog.String("stack", string(debug.Stack())),
		)
		return status.Error(codes.Internal, grpcerr.InternalMessage)
	}
}

// GRPC returns the underlying grpc.Server, on which services are registered
// before Serve is called.
func (s *Server) GRPC() *grpc.Server { return s.grpc }

// Config returns the configuration in use, defaults applied.
func (s *Server) Config() Config { return s.cfg }

// Serve serves on lis until ctx ends or the server fails. It first marks the
// server ("") and every registered service SERVING. When ctx ends it sets every
// health status to NOT_SERVING, stops accepting connections and waits up to
// ShutdownTimeout for in-flight RPCs to finish, then cancels the rest. It
// returns nil when it stopped because ctx ended (also when the timeout forced
// the stop, which it logs) or because GRPC().Stop was called, and the
// server's error otherwise.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	s.health.SetServingStatus(LivenessService, healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	for name := range s.grpc.GetServiceInfo() {
		s.health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}

	served := make(chan error, 1)
	go func() { served <- s.grpc.Serve(lis) }()

	select {
	case err := <-served:
		s.health.Shutdown()
		if err != nil {
			return fmt.Errorf("grpcserver: serve on %s: %w", lis.Addr(), err)
		}
		return nil
	case <-ctx.Done():
	}

	s.log.InfoContext(ctx, "gRPC server stopping", slog.String("timeout", s.cfg.ShutdownTimeout.String()))
	s.health.Shutdown()
	stopped := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(stopped)
	}()
	timer := time.NewTimer(s.cfg.ShutdownTimeout)
	defer timer.Stop()
	select {
	case <-stopped:
		s.log.InfoContext(ctx, "gRPC server stopped")
	case <-timer.C:
		s.log.WarnContext(ctx, "gRPC graceful stop timed out; cancelling remaining RPCs",
			slog.String("timeout", s.cfg.ShutdownTimeout.String()))
		s.grpc.Stop()
		<-stopped
	}
	if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("grpcserver: serve on %s: %w", lis.Addr(), err)
	}
	return nil
}

// ListenAndServe listens on the configured Addr (TCP) and calls Serve.
func (s *Server) ListenAndServe(ctx context.Context) error {
	lis, err := listen.Listen(ctx, s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("grpcserver: %w", err)
	}
	s.log.InfoContext(ctx, "gRPC server listening", slog.String("addr", lis.Addr().String()))
	return s.Serve(ctx, lis)
}

// SetServing marks the server ("") and every registered service SERVING or
// NOT_SERVING on grpc.health.v1, for a readiness condition such as the
// database answering. Serve marks them SERVING when it starts; once it has
// begun to stop, SetServing changes nothing.
func (s *Server) SetServing(serving bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if serving {
		st = healthpb.HealthCheckResponse_SERVING
	}
	s.health.SetServingStatus("", st)
	for name := range s.grpc.GetServiceInfo() {
		s.health.SetServingStatus(name, st)
	}
}
