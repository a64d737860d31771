package grpcserver_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/grpcserver"
)

// logBuffer collects the server's JSON log lines; the server writes from many
// goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testServer is a grpcserver.Server serving on a loopback listener.
type testServer struct {
	srv      *grpcserver.Server
	conn     *grpc.ClientConn
	logs     *logBuffer
	cancel   context.CancelFunc
	done     chan struct{} // closed when Serve has returned
	serveErr error         // Serve's result, set before done is closed
}

// start builds a server with cfg and interceptors, lets register add services,
// serves it on 127.0.0.1 and dials it. The server is stopped in t.Cleanup,
// where a non-nil Serve result fails the test.
func start(t *testing.T, cfg grpcserver.Config, register func(*grpc.Server), interceptors ...grpc.UnaryServerInterceptor) *testServer {
	t.Helper()
	logs := &logBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := grpcserver.New(log, cfg, interceptors...)
	if register != nil {
		register(srv.GRPC())
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{srv: srv, logs: logs, cancel: cancel, done: make(chan struct{})}
	go func() {
		ts.serveErr = srv.Serve(ctx, lis)
		close(ts.done)
	}()
	ts.conn, err = grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() {
		_ = ts.conn.Close()
		if err := ts.stopAndWait(); err != nil {
			t.Errorf("Serve = %v, want nil", err)
		}
	})
	return ts
}

// stopAndWait cancels the Serve context and returns Serve's result.
func (ts *testServer) stopAndWait() error {
	ts.cancel()
	<-ts.done
	return ts.serveErr
}

// userServer is a UserService whose methods the tests need: GetPublicKeys
// blocks until released (when entered is set), GetUser panics, CreateUser and
// ChangePassword answer OK.
type userServer struct {
	userv1.UnimplementedUserServiceServer
	entered chan struct{} // closed by GetPublicKeys when it starts, if not nil
	release chan struct{} // GetPublicKeys returns when this is closed, if not nil
}

func (s *userServer) GetPublicKeys(ctx context.Context, _ *userv1.GetPublicKeysRequest) (*userv1.GetPublicKeysResponse, error) {
	if s.entered != nil {
		close(s.entered)
	}
	if s.release != nil {
		select {
		case <-s.release:
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	return &userv1.GetPublicKeysResponse{Keys: []*userv1.PublicKey{{Kid: "k1"}}}, nil
}

func (s *userServer) GetUser(context.Context, *userv1.GetUserRequest) (*userv1.User, error) {
	panic("boom: secret detail")
}

func (s *userServer) CreateUser(_ context.Context, req *userv1.CreateUserRequest) (*userv1.User, error) {
	return &userv1.User{Id: 1, Email: new(req.GetEmail()), Username: req.GetUsername()}, nil
}

func (s *userServer) ChangePassword(context.Context, *userv1.ChangePasswordRequest) (*userv1.ChangePasswordResponse, error) {
	return &userv1.ChangePasswordResponse{}, nil
}

func (s *userServer) ListUsers(context.Context, *userv1.ListUsersRequest) (*userv1.ListUsersResponse, error) {
	return &userv1.ListUsersResponse{}, nil
}

func registerUser(s *userServer) func(*grpc.Server) {
	return func(g *grpc.Server) { userv1.RegisterUserServiceServer(g, s) }
}

func TestServe_HealthIsServingForServerAndEachService(t *testing.T) {
	ts := start(t, grpcserver.Config{}, registerUser(&userServer{}))
	hc := healthpb.NewHealthClient(ts.conn)
	for _, service := range []string{"", "todo.user.v1.UserService", "grpc.health.v1.Health"} {
		resp, err := hc.Check(t.Context(), &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			t.Fatalf("Check(%q): %v", service, err)
		}
		if got, want := resp.GetStatus(), healthpb.HealthCheckResponse_SERVING; got != want {
			t.Errorf("Check(%q) = %v, want %v", service, got, want)
		}
	}
	_, err := hc.Check(t.Context(), &healthpb.HealthCheckRequest{Service: "todo.nope.v1.Nope"})
	if got, want := status.Code(err), codes.NotFound; got != want {
		t.Errorf("Check(unknown service) code = %v, want %v", got, want)
	}
}

// TestServe_LivenessIgnoresSetServing checks that LivenessService stays
// SERVING while SetServing(false) marks the server and its services
// NOT_SERVING (the database is down: unready, but alive).
func TestServe_LivenessIgnoresSetServing(t *testing.T) {
	ts := start(t, grpcserver.Config{}, registerUser(&userServer{}))
	hc := healthpb.NewHealthClient(ts.conn)
	// An answer means Serve has set the statuses it starts with.
	if _, err := hc.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	ts.srv.SetServing(false)
	for service, want := range map[string]healthpb.HealthCheckResponse_ServingStatus{
		grpcserver.LivenessService: healthpb.HealthCheckResponse_SERVING,
		"todo.user.v1.UserService": healthpb.HealthCheckResponse_NOT_SERVING,
		"":                         healthpb.HealthCheckResponse_NOT_SERVING,
	} {
		resp, err := hc.Check(t.Context(), &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			t.Fatalf("Check(%q): %v", service, err)
		}
		if got := resp.GetStatus(); got != want {
			t.Errorf("Check(%q) after SetServing(false) = %v, want %v", service, got, want)
		}
	}
}

func TestServe_ReflectionListsServices(t *testing.T) {
	ts := start(t, grpcserver.Config{}, registerUser(&userServer{}))
	stream, err := reflectionpb.NewServerReflectionClient(ts.conn).ServerReflectionInfo(t.Context())
	if err != nil {
		t.Fatalf("ServerReflectionInfo: %v", err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatalf("send: %v", err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("recv: %v", err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	for _, want := range []string{"grpc.health.v1.Health", "todo.user.v1.UserService", "grpc.reflection.v1.ServerReflection"} {
		if !slices.Contains(names, want) {
			t.Errorf("reflection lists %v, missing %q", names, want)
		}
	}
	_ = stream.CloseSend()
}

// TestServe_ReflectionServesDocComments is what `grpcurl describe` relies on:
// the file descriptor served for a service carries its proto comments.
func TestServe_ReflectionServesDocComments(t *testing.T) {
	ts := start(t, grpcserver.Config{}, registerUser(&userServer{}))
	stream, err := reflectionpb.NewServerReflectionClient(ts.conn).ServerReflectionInfo(t.Context())
	if err != nil {
		t.Fatalf("ServerReflectionInfo: %v", err)
	}
	defer func() { _ = stream.CloseSend() }()
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "todo.user.v1.UserService"},
	}); err != nil {
		t.Fatalf("send: %v", err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("recv: %v", err)
	}
	raw := resp.GetFileDescriptorResponse().GetFileDescriptorProto()
	if len(raw) == 0 {
		t.Fatalf("no file descriptor in %v", resp)
	}
	var fd descriptorpb.FileDescriptorProto
	if err := proto.Unmarshal(raw[0], &fd); err != nil {
		t.Fatal(err)
	}
	var documented bool
	for _, loc := range fd.GetSourceCodeInfo().GetLocation() {
		if strings.Contains(loc.GetLeadingComments(), "UserService owns accounts") {
			documented = true
		}
	}
	if !documented {
		t.Errorf("%s served without the UserService doc comment", fd.GetName())
	}
}

func TestServe_GracefulStopLetsInFlightRPCFinish(t *testing.T) {
	us := &userServer{entered: make(chan struct{}), release: make(chan struct{})}
	ts := start(t, grpcserver.Config{ShutdownTimeout: time.Minute}, registerUser(us))

	// Watch health before shutdown: the stream survives the graceful stop and
	// reports the change to NOT_SERVING.
	// The timeout only turns a hang into a failure.
	watchCtx, stopWatch := context.WithTimeout(t.Context(), time.Minute)
	defer stopWatch()
	watch, err := healthpb.NewHealthClient(ts.conn).Watch(watchCtx, &healthpb.HealthCheckRequest{Service: "todo.user.v1.UserService"})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if got := recvStatus(t, watch); got != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first health status = %v, want SERVING", got)
	}

	type result struct {
		resp *userv1.GetPublicKeysResponse
		err  error
	}
	rpc := make(chan result, 1)
	go func() {
		resp, err := userv1.NewUserServiceClient(ts.conn).GetPublicKeys(context.Background(), &userv1.GetPublicKeysRequest{})
		rpc <- result{resp, err}
	}()
	<-us.entered

	ts.cancel() // SIGTERM
	if got := recvStatus(t, watch); got != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health status after stop began = %v, want NOT_SERVING", got)
	}
	stopWatch()

	select {
	case <-ts.done:
		t.Fatalf("Serve returned %v while an RPC was in flight", ts.serveErr)
	case r := <-rpc:
		t.Fatalf("in-flight RPC ended before release: %v", r.err)
	default:
	}

	close(us.release)
	r := <-rpc
	if r.err != nil {
		t.Fatalf("in-flight RPC failed: %v", r.err)
	}
	if got := r.resp.GetKeys()[0].GetKid(); got != "k1" {
		t.Errorf("in-flight RPC answer kid = %q, want k1", got)
	}
	if err := ts.stopAndWait(); err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
}

func recvStatus(t *testing.T, w healthpb.Health_WatchClient) healthpb.HealthCheckResponse_ServingStatus {
	t.Helper()
	resp, err := w.Recv()
	if err != nil {
		t.Fatalf("health watch: %v", err)
	}
	return resp.GetStatus()
}

func TestServe_ShutdownTimeoutCancelsStuckRPC(t *testing.T) {
	us := &userServer{entered: make(chan struct{}), release: make(chan struct{})}
	ts := start(t, grpcserver.Config{ShutdownTimeout: 50 * time.Millisecond}, registerUser(us))
	rpc := make(chan error, 1)
	go func() {
		_, err := userv1.NewUserServiceClient(ts.conn).GetPublicKeys(context.Background(), &userv1.GetPublicKeysRequest{})
		rpc <- err
	}()
	<-us.entered
	if err := ts.stopAndWait(); err != nil {
		t.Errorf("Serve = %v, want nil after a forced stop", err)
	}
	if err := <-rpc; err == nil {
		t.Error("stuck RPC succeeded, want it cancelled by the forced stop")
	}
	if !strings.Contains(ts.logs.String(), "graceful stop timed out") {
		t.Errorf("log does not report the forced stop:\n%s", ts.logs.String())
	}
}

func TestServe_PanicIsInternalAndServerStaysUp(t *testing.T) {
	ts := start(t, grpcserver.Config{}, registerUser(&userServer{}))
	client := userv1.NewUserServiceClient(ts.conn)
	for range 2 {
		_, err := client.GetUser(t.Context(), &userv1.GetUserRequest{Id: 7})
		st := status.Convert(err)
		if got, want := st.Code(), codes.Internal; got != want {
			t.Fatalf("code = %v, want %v (%v)", got, want, err)
		}
		if got, want := st.Message(), "internal error"; got != want {
			t.Errorf("message = %q, want %q", got, want)
		}
	}
	resp, err := healthpb.NewHealthClient(ts.conn).Check(t.Context(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health after panic = %v, %v; want SERVING", resp.GetStatus(), err)
	}
	logs := ts.logs.String()
	for _, want := range []string{"panic in gRPC handler", "boom: secret detail", "goroutine", `"grpc.code":"Internal"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("server log lacks %q:\n%s", want, logs)
		}
	}
}

func TestServe_LogsNeverContainRequestPayload(t *testing.T) {
	ts := start(t, grpcserver.Config{}, registerUser(&userServer{}))
	client := userv1.NewUserServiceClient(ts.conn)
	const password = "correct-horse-battery-staple"
	if _, err := client.CreateUser(t.Context(), &userv1.CreateUserRequest{
		Email: "a@example.com", Username: "alice", Password: password,
	}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	// An invalid request is logged too; the password must not be in it either.
	_, err := client.CreateUser(t.Context(), &userv1.CreateUserRequest{
		Email: "nope", Username: "alice", Password: password,
	})
	if got, want := status.Code(err), codes.InvalidArgument; got != want {
		t.Fatalf("code = %v, want %v", got, want)
	}
	logs := ts.logs.String()
	if !strings.Contains(logs, `"grpc.method":"CreateUser"`) {
		t.Errorf("no call log line for CreateUser:\n%s", logs)
	}
	if strings.Contains(logs, password) {
		t.Errorf("log contains the password:\n%s", logs)
	}
}

func TestServe_CallerInterceptorsRunBeforeValidation(t *testing.T) {
	var order []string
	var mu sync.Mutex
	record := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		mu.Lock()
		order = append(order, info.FullMethod)
		mu.Unlock()
		return nil, status.Error(codes.Unauthenticated, "no")
	}
	ts := start(t, grpcserver.Config{}, registerUser(&userServer{}), record)
	// An invalid request is stopped by the caller's interceptor first.
	_, err := userv1.NewUserServiceClient(ts.conn).CreateUser(t.Context(), &userv1.CreateUserRequest{Email: "bad"})
	if got, want := status.Code(err), codes.Unauthenticated; got != want {
		t.Errorf("code = %v, want %v", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{userv1.UserService_CreateUser_FullMethodName}; !slices.Equal(order, want) {
		t.Errorf("interceptor saw %v, want %v", order, want)
	}
}

func TestListenAndServe_ServesOnAddr(t *testing.T) {
	log := slog.New(slog.NewJSONHandler(&logBuffer{}, nil))
	srv := grpcserver.New(log, grpcserver.Config{Addr: "127.0.0.1:0"})
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // ListenAndServe must still listen, then stop cleanly.
	if err := srv.ListenAndServe(ctx); err != nil {
		t.Errorf("ListenAndServe = %v, want nil", err)
	}
	srv2 := grpcserver.New(log, grpcserver.Config{Addr: "256.0.0.1:1"})
	if err := srv2.ListenAndServe(t.Context()); err == nil {
		t.Error("ListenAndServe on a bad address = nil, want an error")
	}
}

func TestNew_AppliesDefaults(t *testing.T) {
	srv := grpcserver.New(slog.New(slog.DiscardHandler), grpcserver.Config{})
	cfg := srv.Config()
	if cfg.MaxConcurrentStreams != 1000 || cfg.MaxRecvMsgBytes != 4<<20 || cfg.ShutdownTimeout != 8*time.Second ||
		cfg.KeepaliveMinTime != 10*time.Second {
		t.Errorf("defaults = %+v", cfg)
	}
}

func TestServe_MessageSizeLimit(t *testing.T) {
	ts := start(t, grpcserver.Config{MaxRecvMsgBytes: 1024}, registerUser(&userServer{}))
	_, err := userv1.NewUserServiceClient(ts.conn).CreateUser(t.Context(), &userv1.CreateUserRequest{
		Email: "a@example.com", Username: "alice", Password: "p", FullName: strings.Repeat("x", 2000),
	})
	if got, want := status.Code(err), codes.ResourceExhausted; got != want {
		t.Errorf("code = %v, want %v (%v)", got, want, err)
	}
}
