// Package gateway builds the REST/JSON front end of the todo platform: the
// grpc-gateway handlers of the user and task services on one mux, the
// OpenAPI document, health and readiness endpoints, and the HTTP middleware
// around them (request ids, access log, header and body limits, upstream
// deadlines, CORS). Every request is checked before it is decoded (path,
// query, Content-Type, body: input.go), and every error, the gateway's own
// and the services', is one JSON shape (errors.go).
//
// The gateway holds no business logic: every API request becomes one gRPC
// call to the service that owns it, and the call's status becomes the HTTP
// status of the response.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/rs/cors"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"

	// The error details the services send (google.rpc.BadRequest and
	// friends) must be in the proto registry, or their JSON rendering fails.
	_ "google.golang.org/genproto/googleapis/rpc/errdetails"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/api/openapi"
)

// Config is what the handler needs to know beyond its upstreams.
type Config struct {
	// MaxBodyBytes is the largest request body accepted; larger bodies are
	// refused with 413 before any upstream call.
	MaxBodyBytes int64
	// MaxHeaderBytes is the largest request line and headers accepted
	// (0: DefaultMaxHeaderBytes); larger ones are refused with 431. Serve
	// the handler with http.Server.MaxHeaderBytes set to
	// ServerMaxHeaderBytes, or net/http refuses them first, in plain text.
	MaxHeaderBytes int
	// DefaultTimeout is the deadline of an upstream call when the client
	// sends no Grpc-Timeout header.
	DefaultTimeout time.Duration
	// MaxTimeout caps the deadline a client may ask for with Grpc-Timeout.
	MaxTimeout time.Duration
	// ReadyTimeout bounds each health check that /readyz makes.
	ReadyTimeout time.Duration
	// CORSAllowedOrigins lists the origins browsers may call the API from;
	// empty turns CORS off (no CORS headers are ever sent).
	CORSAllowedOrigins []string
	// TrustProxyHeaders keeps client-sent X-Forwarded-For and
	// X-Forwarded-Host headers. Leave it off unless a proxy that sets them
	// stands in front of the gateway; otherwise they are dropped and the
	// services see only the peer address.
	TrustProxyHeaders bool
	// HSTS adds Strict-Transport-Security to every response; set it when
	// the gateway serves HTTPS (see withSecurityHeaders).
	HSTS bool
	// Telemetry, when set, gets HTTP metrics and spans (see withTelemetry).
	Telemetry *Telemetry
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.MaxBodyBytes <= 0:
		return errors.New("the body limit must be positive")
	case c.MaxHeaderBytes < 0:
		return errors.New("the header limit must not be negative")
	case c.DefaultTimeout <= 0:
		return errors.New("the default upstream timeout must be positive")
	case c.MaxTimeout < c.DefaultTimeout:
		return errors.New("the maximum upstream timeout must be at least the default")
	case c.ReadyTimeout <= 0:
		return errors.New("the readiness timeout must be positive")
	}
	return nil
}

// Upstream names one gRPC service behind the gateway and the connection to
// reach it.
type Upstream struct {
	// Name is the short name /readyz reports it under ("user", "task").
	Name string
	// Service is the fully qualified service name whose health is checked.
	Service string
	// Conn is the client connection every request to the service reuses.
	Conn *grpc.ClientConn
}

// setQueryParser installs queryParser, once per process: the query parser
// is a variable of the runtime package, not of a mux.
var setQueryParser sync.Once

// New returns the gateway's HTTP handler, with the user service reached
// through user and the task service through task.
func New(ctx context.Context, log *slog.Logger, cfg Config, user, task *grpc.ClientConn) (http.Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("gateway config: %w", err)
	}
	if user == nil || task == nil {
		return nil, errors.New("gateway: both upstream connections are required")
	}

	routes, err := newBindings(userv1.UserService_ServiceDesc.ServiceName, taskv1.TaskService_ServiceDesc.ServiceName)
	if err != nil {
		return nil, fmt.Errorf("gateway routes: %w", err)
	}
	opts := []runtime.ServeMuxOption{
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{
			Marshaler: jsonMarshaler{&runtime.JSONPb{
				// Scalars are always written (false, 0, ""), but an unset
				// message (a timestamp) or proto3 optional field (assigned_to)
				// is left out: absent means absent, never null or 0.
				MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true, EmitDefaultValues: true},
				UnmarshalOptions: unmarshalOptions,
			}},
		}),
		// Only Authorization (which grpc-gateway always forwards) and the
		// request id below reach the services: no client header, and in
		// particular no Grpc-Metadata-* header, becomes metadata.
		runtime.WithIncomingHeaderMatcher(func(string) (string, bool) { return "", false }),
		runtime.WithMetadata(requestIDMetadata),
		runtime.WithErrorHandler(errorHandler(log, cfg.MaxBodyBytes)),
		runtime.WithRoutingErrorHandler(routingErrorHandler),
		runtime.WithDisablePathLengthFallback(),
		// Path, query, Content-Type and body are checked before the
		// handlers parse them (input.go); no gRPC metadata goes out as
		// headers or trailers.
		runtime.WithMiddlewares(routeMiddleware(), checkInput(routes, cfg.MaxBodyBytes)),
		runtime.WithOutgoingHeaderMatcher(noMetadata),
		runtime.WithOutgoingTrailerMatcher(noMetadata),
	}
	setQueryParser.Do(func() { opts = append(opts, runtime.SetQueryParameterParser(queryParser{})) })
	mux := runtime.NewServeMux(opts...)

	if err := userv1.RegisterUserServiceHandler(ctx, mux, user); err != nil {
		return nil, fmt.Errorf("register user service: %w", err)
	}
	if err := taskv1.RegisterTaskServiceHandler(ctx, mux, task); err != nil {
		return nil, fmt.Errorf("register task service: %w", err)
	}

	ready := readiness(log, cfg.ReadyTimeout,
		Upstream{Name: "user", Service: userv1.UserService_ServiceDesc.ServiceName, Conn: user},
		Upstream{Name: "task", Service: taskv1.TaskService_ServiceDesc.ServiceName, Conn: task},
	)
	for path, h := range map[string]runtime.HandlerFunc{
		"/healthz":      healthz,
		"/readyz":       ready,
		"/openapi.json": serveOpenAPI,
		"/docs":         serveDocs,
		"/docs/{file}":  serveDocs,
	} {
		if err := mux.HandlePath(http.MethodGet, path, h); err != nil {
			return nil, fmt.Errorf("register %s: %w", path, err)
		}
	}

	var h http.Handler = mux
	h = withDeadline(h, cfg.DefaultTimeout, cfg.MaxTimeout)
	h = withBodyLimit(h, cfg.MaxBodyBytes)
	h = withCleanHeaders(h, cfg.TrustProxyHeaders)
	h = withHeaderLimit(h, cfg.maxHeaderBytes())
	if len(cfg.CORSAllowedOrigins) > 0 {
		h = cors.New(cors.Options{
			AllowedOrigins:   cfg.CORSAllowedOrigins,
			AllowedMethods:   []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete},
			AllowedHeaders:   []string{"Authorization", "Content-Type", "Grpc-Timeout", "X-Request-Id"},
			ExposedHeaders:   []string{"X-Request-Id"},
			AllowCredentials: false,
			MaxAge:           600,
		}).Handler(h)
	}
	h = withSecurityHeaders(h, cfg.HSTS)
	h = withAccessLog(h, log)
	h = withRequestID(h)
	if cfg.Telemetry != nil {
		var err error
		if h, err = withTelemetry(h, cfg.Telemetry); err != nil {
			return nil, fmt.Errorf("gateway telemetry: %w", err)
		}
	}
	return h, nil
}

func healthz(w http.ResponseWriter, _ *http.Request, _ map[string]string) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func serveOpenAPI(w http.ResponseWriter, _ *http.Request, _ map[string]string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openapi.JSON)
}
