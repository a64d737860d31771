// Package grpcservertest runs a grpcserver.Server in process for tests: on a
// loopback listener, stopped when the test ends.
package grpcservertest

import (
	"context"
	"net"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/todo-platform/todo/pkg/grpcserver"
)

// Start serves srv on 127.0.0.1 and returns its address and a function that
// stops it gracefully (as SIGTERM would), failing the test if serving
// failed. The server is stopped when the test ends, if it was not already.
func Start(t testing.TB, srv *grpcserver.Server) (addr string, stop func()) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("grpcservertest: Serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return lis.Addr().String(), stop
}

// Serve starts srv (see Start) and returns a plaintext client connection to
// it, with opts added, closed when the test ends before the server stops.
func Serve(t testing.TB, srv *grpcserver.Server, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	addr, _ := Start(t, srv)
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}
