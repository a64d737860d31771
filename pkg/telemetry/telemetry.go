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

// ServerOptions are the gRPC server options of a service: outermost, the
// trace context (the otelgrpc stats handler when spans are exported; when
// they are not, an interceptor that only starts the non-recording server
// span from the caller's traceparent, whose ids the log lines carry), the
// request id (from the x-request-id metadata into the context, for the
// logs), then the Prometheus server metrics (grpc_server_handled_total by
// method and code, grpc_server_handling_seconds). Call InitServerMetrics
// once the services are registered.
func (t *Telemetry) ServerOptions() []grpc.ServerOption {
	if !t.Exporting {
		tc := serverTraceContext{tracer: t.TracerProvider.Tracer(tracerName), prop: t.Propagator}
		return []grpc.ServerOption{
			grpc.ChainUnaryInterceptor(tc.unary, t.serverMetrics.UnaryServerInterceptor()),
			grpc.ChainStreamInterceptor(tc.stream, t.serverMetrics.StreamServerInterceptor()),
		}
	}
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
// platform's services: the trace context sent as traceparent (by the
// otelgrpc stats handler when spans are exported, else by an interceptor
// that writes the context's span context and records nothing), the
// Prometheus client metrics (grpc_client_handled_total,
// grpc_client_handling_seconds), and the request id of the context passed on
// as x-request-id.
func (t *Telemetry) DialOptions() []grpc.DialOption {
	if !t.Exporting {
		tc := clientTraceContext{t.Propagator}
		return []grpc.DialOption{
			grpc.WithChainUnaryInterceptor(t.clientMetrics.UnaryClientInterceptor(), tc.unary),
			grpc.WithChainStreamInterceptor(t.clientMetrics.StreamClientInterceptor(), tc.stream),
		}
	}
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
	return handler(withIncomingRequestID(ctx), req)
}

// withIncomingRequestID returns ctx carrying, for the logs, the caller's
// x-request-id if it sent one.
func withIncomingRequestID(ctx context.Context) context.Context {
	// ValueFromIncomingContext, unlike FromIncomingContext, does not copy
	// all the metadata.
	if v := metadata.ValueFromIncomingContext(ctx, RequestIDMetadata); len(v) > 0 && v[0] != "" {
		return logging.WithRequestID(ctx, v[0])
	}
	return ctx
}

// clientRequestID passes the context's request id on to the service called.
func clientRequestID(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if id, ok := requestIDToPass(ctx); ok {
		ctx = metadata.AppendToOutgoingContext(ctx, RequestIDMetadata, id)
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

// requestIDToPass returns the context's request id when the outgoing
// metadata does not carry one already.
func requestIDToPass(ctx context.Context) (string, bool) {
	id := logging.RequestID(ctx)
	if id == "" {
		return "", false
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	return id, len(md.Get(RequestIDMetadata)) == 0
}

// tracerName is the instrumentation scope of the spans started here.
const tracerName = "github.com/todo-platform/todo/pkg/telemetry"

// serverTraceContext is what the otelgrpc server handler keeps of a call
// when spans are not recorded: a server span parented by the caller's
// traceparent (so that the log lines carry its trace_id and the calls this
// one makes pass it on), and the request id, in one context, without
// otelgrpc's attributes, message events and metadata copies.
type serverTraceContext struct {
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
}

func (tc serverTraceContext) context(ctx context.Context, method string) (context.Context, trace.Span) {
	ctx = tc.prop.Extract(ctx, incomingCarrier{ctx})
	ctx, span := tc.tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer))
	return withIncomingRequestID(ctx), span
}

func (tc serverTraceContext) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, span := tc.context(ctx, info.FullMethod)
	defer span.End()
	return handler(ctx, req)
}

func (tc serverTraceContext) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, span := tc.context(ss.Context(), info.FullMethod)
	defer span.End()
	return handler(srv, &contextStream{ServerStream: ss, ctx: ctx})
}

// contextStream is a server stream with another context.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }

// incomingCarrier reads a propagator's keys from the incoming metadata
// without copying it (Extract only calls Get).
type incomingCarrier struct{ ctx context.Context }

func (c incomingCarrier) Get(key string) string {
	if v := metadata.ValueFromIncomingContext(c.ctx, key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (incomingCarrier) Set(string, string) {}

func (c incomingCarrier) Keys() []string {
	md, _ := metadata.FromIncomingContext(c.ctx)
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	return keys
}

// clientTraceContext passes the context's span context on (traceparent,
// through the propagator) and its request id as x-request-id, in one
// metadata append, when spans are not recorded (otelgrpc's client handler
// does the former otherwise).
type clientTraceContext struct{ prop propagation.TextMapPropagator }

func (tc clientTraceContext) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return invoker(tc.outgoing(ctx), method, req, reply, cc, opts...)
}

func (tc clientTraceContext) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return streamer(tc.outgoing(ctx), desc, cc, method, opts...)
}

func (tc clientTraceContext) outgoing(ctx context.Context) context.Context {
	kv := make(outgoingCarrier, 0, 6)
	if trace.SpanContextFromContext(ctx).IsValid() {
		tc.prop.Inject(ctx, &kv)
	}
	if id, ok := requestIDToPass(ctx); ok {
		kv = append(kv, RequestIDMetadata, id)
	}
	if len(kv) > 0 {
		ctx = metadata.AppendToOutgoingContext(ctx, kv...)
	}
	return ctx
}

// outgoingCarrier collects what a propagator injects as metadata key-value
// pairs.
type outgoingCarrier []string

func (c *outgoingCarrier) Set(key, value string) { *c = append(*c, key, value) }
func (*outgoingCarrier) Get(string) string       { return "" }
func (*outgoingCarrier) Keys() []string          { return nil }
