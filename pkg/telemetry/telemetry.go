// Package telemetry sets up what every binary exports about itself: a
// Prometheus registry of its own (Go runtime and process collectors, gRPC
// server and client metrics from go-grpc-middleware's prometheus provider,
// pgxpool statistics), and OpenTelemetry tracing (otelgrpc on servers and
// clients, a pgx tracer) with W3C trace context propagation.
//
// Tracing is configured only by the standard OTEL_* environment variables:
// it exports (through autoexport: OTLP over gRPC or HTTP, per
// OTEL_EXPORTER_OTLP_PROTOCOL) when OTEL_TRACES_EXPORTER or an OTLP endpoint
// variable is set, and samples as OTEL_TRACES_SAMPLER says (parent-based,
// always on, by default). When none is set nothing is recorded or exported,
// but the trace context is still propagated, so that log lines keep joining.
package telemetry

import (
	"context"
	"fmt"
	"os"

	"github.com/exaring/otelpgx"
	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/todo-platform/todo/pkg/logging"
)

// exportEnv are the variables whose presence turns trace export on.
var exportEnv = []string{"OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"}

// RequestIDMetadata is the gRPC metadata key of the request id the gateway
// gives each request; servers log it and clients pass it on.
const RequestIDMetadata = "x-request-id"

// Telemetry is one process's metrics registry and tracer provider.
type Telemetry struct {
	// Registry holds every metric the process exports on its admin port.
	Registry *prometheus.Registry
	// TracerProvider makes the process's spans; Propagator reads and writes
	// the W3C traceparent (no baggage).
	TracerProvider trace.TracerProvider
	Propagator     propagation.TextMapPropagator
	// Exporting reports whether spans are recorded and exported.
	Exporting bool

	sdk           *sdktrace.TracerProvider
	serverMetrics *grpcprom.ServerMetrics
	clientMetrics *grpcprom.ClientMetrics
}

// New sets up the telemetry of the process named service (the
// service.name of its spans unless OTEL_SERVICE_NAME says otherwise). Call
// Shutdown when the process ends, to flush spans.
func New(ctx context.Context, service string) (*Telemetry, error) {
	reg := prometheus.NewRegistry()
	server := grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram())
	client := grpcprom.NewClientMetrics(grpcprom.WithClientHandlingTimeHistogram())
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		server, client,
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("telemetry: register metrics: %w", err)
		}
	}
	t := &Telemetry{
		Registry:      reg,
		Propagator:    propagation.TraceContext{},
		serverMetrics: server,
		clientMetrics: client,
	}

	res, err := resource.New(ctx, resource.WithAttributes(attribute.String("service.name", service)), resource.WithFromEnv())
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if exportConfigured() {
		exp, err := autoexport.NewSpanExporter(ctx)
		if err != nil {
			return nil, fmt.Errorf("telemetry: span exporter (OTEL_* variables): %w", err)
		}
		if !autoexport.IsNoneSpanExporter(exp) {
			t.Exporting = true
			opts = append(opts, sdktrace.WithBatcher(exp))
		}
	}
	if !t.Exporting {
		// Spans carry the trace context on (and into the logs) but are
		// neither recorded nor exported.
		opts = append(opts, sdktrace.WithSampler(sdktrace.NeverSample()))
	}
	t.sdk = sdktrace.NewTracerProvider(opts...)
	t.TracerProvider = t.sdk
	return t, nil
}

func exportConfigured() bool {
	for _, k := range exportEnv {
		if os.Getenv(k) != "" {
			return true
		}
	}
	return false
}

// Shutdown flushes and stops the tracer provider.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if err := t.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("telemetry: shut down tracing: %w", err)
	}
	return nil
}

// ServerOptions are the gRPC server options of a service: the otelgrpc
// stats handler, then, outermost of the interceptors, the request id (from
// the x-request-id metadata into the context, for the logs) and the
// Prometheus server metrics (grpc_server_handled_total by method and code,
// grpc_server_handling_seconds). Call InitServerMetrics once the services
// are registered.
func (t *Telemetry) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.StatsHandler(otelgrpc.NewServerHandler(
			otelgrpc.WithTracerProvider(t.TracerProvider),
			otelgrpc.WithPropagators(t.Propagator),
			otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider()),
		)),
		grpc.ChainUnaryInterceptor(serverRequestID, t.serverMetrics.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(t.serverMetrics.StreamServerInterceptor()),
	}
}

// InitServerMetrics makes every method of s appear in the server metrics
// with zero counts.
func (t *Telemetry) InitServerMetrics(s *grpc.Server) { t.serverMetrics.InitializeMetrics(s) }

// DialOptions are the gRPC client options of a connection to one of the
// platform's services: the otelgrpc stats handler (it sends traceparent),
// the Prometheus client metrics (grpc_client_handled_total,
// grpc_client_handling_seconds), and the request id of the context passed on
// as x-request-id.
func (t *Telemetry) DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(
			otelgrpc.WithTracerProvider(t.TracerProvider),
			otelgrpc.WithPropagators(t.Propagator),
			otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider()),
		)),
		grpc.WithChainUnaryInterceptor(t.clientMetrics.UnaryClientInterceptor(), clientRequestID),
		grpc.WithChainStreamInterceptor(t.clientMetrics.StreamClientInterceptor()),
	}
}

// PgxTracer returns the tracer for a pgx connection configuration: one
// span per SQL round trip (query, batch, prepare), named by the statement,
// without argument values; nil when spans are not exported, so that the
// database path costs nothing extra.
func (t *Telemetry) PgxTracer() pgx.QueryTracer {
	if !t.Exporting {
		return nil
	}
	return otelpgx.NewTracer(
		otelpgx.WithTracerProvider(t.TracerProvider),
		otelpgx.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelpgx.WithDisableAcquireTracer(),
		otelpgx.WithTracerAttributes(attribute.String("db.system.name", "postgresql")),
	)
}

// serverRequestID puts the caller's x-request-id into the context, for the
// log lines of the call.
func serverRequestID(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	// ValueFromIncomingContext, unlike FromIncomingContext, does not copy
	// all the metadata.
	if v := metadata.ValueFromIncomingContext(ctx, RequestIDMetadata); len(v) > 0 && v[0] != "" {
		ctx = logging.WithRequestID(ctx, v[0])
	}
	return handler(ctx, req)
}

// clientRequestID passes the context's request id on to the service called.
func clientRequestID(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if id := logging.RequestID(ctx); id != "" {
		if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get(RequestIDMetadata)) == 0 {
			ctx = metadata.AppendToOutgoingContext(ctx, RequestIDMetadata, id)
		}
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}
