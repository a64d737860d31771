package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/logging"
)

// Telemetry is what the handler reports to: HTTP metrics by route
// template, and spans whose trace context it reads from the request's
// traceparent and returns in the response's.
type Telemetry struct {
	Registerer     prometheus.Registerer
	TracerProvider trace.TracerProvider
	Propagator     propagation.TextMapPropagator
	// Recording says whether the spans of TracerProvider are recorded
	// (exported). When they are not, the server span is started without
	// otelhttp, whose attributes, metrics and response wrappers would be
	// thrown away: only its trace context is kept, for the log lines, the
	// response's traceparent and the calls to the services.
	Recording bool
}

// unmatchedRoute is the route label of requests that matched no route.
const unmatchedRoute = "unmatched"

type routeKey struct{}

// routeHolder carries a request's route template out of the mux, where it
// is known, to the metrics around it.
type routeHolder struct{ route string }

func routeFrom(ctx context.Context) string {
	if h, ok := ctx.Value(routeKey{}).(*routeHolder); ok && h.route != "" {
		return h.route
	}
	return unmatchedRoute
}

// routeMiddleware runs inside the mux, once the route is known: it records
// the route template for the metrics, names the span after it, and puts the
// request id where the logs of the call find it. Each pattern's template
// is worked out once.
func routeMiddleware() runtime.Middleware {
	var templates sync.Map // pattern → route template
	return func(next runtime.HandlerFunc) runtime.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
			ctx := r.Context()
			if p, ok := runtime.HTTPPattern(ctx); ok {
				pattern := p.String()
				t, ok := templates.Load(pattern)
				if !ok {
					t, _ = templates.LoadOrStore(pattern, routeTemplate(pattern))
				}
				route := t.(string)
				if h, ok := ctx.Value(routeKey{}).(*routeHolder); ok {
					h.route = route
				}
				if span := trace.SpanFromContext(ctx); span.IsRecording() {
					span.SetName(r.Method + " " + route)
					span.SetAttributes(semconv.HTTPRoute(route))
				}
			}
			if id := requestIDFrom(ctx); id != "" {
				ctx = logging.WithRequestID(ctx, id)
			}
			next(w, r.WithContext(ctx), params)
		}
	}
}

// wildcardVar is a path variable that matches one segment, as
// runtime.Pattern.String writes it ("{id=*}").
var wildcardVar = regexp.MustCompile(`\{([a-z_.]+)=\*\}`)

// routeTemplate writes a pattern's variables as the OpenAPI document does:
// "/v1/tasks/{id=*}" becomes "/v1/tasks/{id}".
func routeTemplate(pattern string) string { return wildcardVar.ReplaceAllString(pattern, "{$1}") }

// withTelemetry wraps h, outermost: otelhttp (a server span, parented by
// the request's traceparent; without otelhttp when t.Recording is false),
// the traceparent of that span in the response, and the HTTP metrics
// http_requests_total and http_request_duration_seconds by method, route
// template and code.
func withTelemetry(h http.Handler, t *Telemetry) (http.Handler, error) {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "http_requests_total",
		Help: "HTTP requests answered, by method, route template and status code.",
	}, []string{"method", "route", "code"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "http_request_duration_seconds",
		Help:    "Time to answer HTTP requests, by method, route template and status code.",
		Buckets: prometheus.DefBuckets,
	}, []string{"method", "route", "code"})
	for _, c := range []prometheus.Collector{requests, duration} {
		if err := t.Registerer.Register(c); err != nil {
			return nil, err
		}
	}
	route := promhttp.WithLabelFromCtx("route", routeFrom)
	h = promhttp.InstrumentHandlerDuration(duration, promhttp.InstrumentHandlerCounter(requests, h, route), route)
	if !t.Recording {
		return traceContext(h, t.TracerProvider.Tracer(tracerName), t.Propagator), nil
	}
	inner := h
	h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Propagator.Inject(r.Context(), propagation.HeaderCarrier(w.Header()))
		inner.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), routeKey{}, &routeHolder{})))
	})
	return otelhttp.NewHandler(h, "http",
		otelhttp.WithTracerProvider(t.TracerProvider),
		otelhttp.WithPropagators(t.Propagator),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
	), nil
}

// tracerName is the instrumentation scope of the gateway's own spans.
const tracerName = "github.com/todo-platform/todo/services/gateway"

// traceContext is what otelhttp keeps of a request when spans are not
// recorded: a server span parented by the request's traceparent (whose ids
// the log lines carry and the gRPC calls pass on), its traceparent in the
// response, and the route holder of the metrics, in one context.
func traceContext(h http.Handler, tracer trace.Tracer, prop propagation.TextMapPropagator) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := tracer.Start(ctx, "http", trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		prop.Inject(ctx, propagation.HeaderCarrier(w.Header()))
		h.ServeHTTP(w, r.WithContext(context.WithValue(ctx, routeKey{}, &routeHolder{})))
	})
}

// ReadyHandler is the gateway's readiness (the same as /readyz on the
// public port: both services SERVING on grpc.health.v1, which they are
// only while their database answers), for the admin port.
func ReadyHandler(log *slog.Logger, timeout time.Duration, user, task *grpc.ClientConn) http.Handler {
	ready := readiness(log, timeout,
		Upstream{Name: "user", Service: userv1.UserService_ServiceDesc.ServiceName, Conn: user},
		Upstream{Name: "task", Service: taskv1.TaskService_ServiceDesc.ServiceName, Conn: task},
	)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ready(w, r, nil) })
}
