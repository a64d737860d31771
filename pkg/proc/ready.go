package proc

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Ready reports whether the server at addr (host:port) is ready: nil when
// it is, else what it answered. It is called repeatedly, each time with a
// short deadline in ctx, until it returns nil.
type Ready func(ctx context.Context, addr string) error

// GRPCHealth returns a Ready that asks the server's grpc.health.v1 service
// about service ("" for the server as a whole) and requires SERVING.
func GRPCHealth(service string) Ready {
	return func(ctx context.Context, addr string) error {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return fmt.Errorf("health check: %w", err)
		}
		defer conn.Close()
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service}, grpc.WaitForReady(true))
		if err != nil {
			return fmt.Errorf("health check %q: %w", service, err)
		}
		if st := resp.GetStatus(); st != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("health check %q: %s", service, st)
		}
		return nil
	}
}

// HTTPOK returns a Ready that requires GET http://addr/path to answer 200.
func HTTPOK(path string) Ready {
	return func(ctx context.Context, addr string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
		if err != nil {
			return fmt.Errorf("GET %s: %w", path, err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("GET %s: %w", path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s: %s", path, resp.Status, body)
		}
		return nil
	}
}
