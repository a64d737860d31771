package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestRun_AnswersWhatTheServerSays runs the probe against a real gRPC
// health server and a real HTTP server on loopback listeners.
func TestRun_AnswersWhatTheServerSays(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	hs.SetServingStatus("todo.task.v1.TaskService", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("todo.user.v1.UserService", healthpb.HealthCheckResponse_NOT_SERVING)

	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(ok.Close)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	t.Cleanup(down.Close)

	for _, c := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"grpc", lis.Addr().String(), "todo.task.v1.TaskService"}, true},
		{[]string{"grpc", lis.Addr().String(), "todo.user.v1.UserService"}, false},
		{[]string{"grpc", lis.Addr().String(), "unknown.Service"}, false},
		{[]string{"http", ok.URL + "/healthz"}, true},
		{[]string{"http", down.URL + "/healthz"}, false},
		{[]string{"bogus"}, false},
	} {
		if err := run(c.args); (err == nil) != c.ok {
			t.Errorf("probe %v = %v, want ok=%v", c.args, err, c.ok)
		}
	}
}
