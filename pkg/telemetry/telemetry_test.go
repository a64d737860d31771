package telemetry_test

import (
	"context"
	"net"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/todo-platform/todo/pkg/logging"
	"github.com/todo-platform/todo/pkg/telemetry"
	"github.com/todo-platform/todo/pkg/testkit"
)

// seen is what a health server saw of its calls' contexts.
type seen struct {
	healthpb.UnimplementedHealthServer
	calls chan callContext
}

type callContext struct {
	sc        trace.SpanContext
	requestID string
}

func (s *seen) record(ctx context.Context) {
	s.calls <- callContext{sc: trace.SpanContextFromContext(ctx), requestID: logging.RequestID(ctx)}
}

func (s *seen) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	s.record(ctx)
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func (s *seen) Watch(_ *healthpb.HealthCheckRequest, stream grpc.ServerStreamingServer[healthpb.HealthCheckResponse]) error {
	s.record(stream.Context())
	return stream.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING})
}

// TestNotExporting_TraceContextAndRequestIDCrossTheHop: without OTEL_*
// variables the server and client options record nothing, yet the trace
// context and the request id of a caller reach the called server, for unary
// and streaming calls, and a call without either starts its own trace.
func TestNotExporting_TraceContextAndRequestIDCrossTheHop(t *testing.T) {
	for _, k := range []string{"OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"} {
		t.Setenv(k, "")
	}
	ctx := testkit.Context(t)
	tel, err := telemetry.New(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	if tel.Exporting {
		t.Fatal("Exporting without OTEL_* variables")
	}

	srv := &seen{calls: make(chan callContext, 4)}
	gs := grpc.NewServer(tel.ServerOptions()...)
	healthpb.RegisterHealthServer(gs, srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), append(tel.DialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	client := healthpb.NewHealthClient(conn)

	// The caller's context: a sampled remote parent, as the gateway's span
	// would be, and a request id.
	parent := propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{
		"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	})
	parentSC := trace.SpanContextFromContext(parent)
	callCtx := logging.WithRequestID(parent, "req-1")

	check := func(name string, got callContext) {
		t.Helper()
		if got.sc.TraceID() != parentSC.TraceID() {
			t.Errorf("%s: server trace id = %s, want the caller's %s", name, got.sc.TraceID(), parentSC.TraceID())
		}
		if !got.sc.IsValid() || got.sc.SpanID() == parentSC.SpanID() {
			t.Errorf("%s: server span id = %s, want a span of its own under %s", name, got.sc.SpanID(), parentSC.SpanID())
		}
		if got.requestID != "req-1" {
			t.Errorf("%s: server request id = %q, want req-1", name, got.requestID)
		}
	}

	if _, err := client.Check(callCtx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	check("unary", <-srv.calls)

	stream, err := client.Watch(callCtx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	check("stream", <-srv.calls)

	if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	got := <-srv.calls
	if !got.sc.IsValid() || got.sc.TraceID() == parentSC.TraceID() || got.sc.IsSampled() {
		t.Errorf("a call without a traceparent: server span context = %+v, want a valid, unsampled one of a new trace", got.sc)
	}
	if got.requestID != "" {
		t.Errorf("a call without a request id: server request id = %q, want none", got.requestID)
	}
}
