package proc

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
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
	return grpcHealth(service, insecure.NewCredentials())
}

// GRPCHealthTLS is GRPCHealth over TLS with cfg.
func GRPCHealthTLS(service string, cfg *tls.Config) Ready {
	return grpcHealth(service, credentials.NewTLS(cfg))
}

func grpcHealth(service string, creds credentials.TransportCredentials) Ready {
	return func(ctx context.Context, addr string) error {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
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
	return httpOK("http", http.DefaultClient, path)
}

// HTTPSOK is HTTPOK over HTTPS, verifying the server with cfg.
func HTTPSOK(path string, cfg *tls.Config) Ready {
	return httpOK("https", &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}}, path)
}

func httpOK(scheme string, client *http.Client, path string) Ready {
	return func(ctx context.Context, addr string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+addr+path, nil)
		if err != nil {
			return fmt.Errorf("GET %s: %w", path, err)
		}
		resp, err := client.Do(req)
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
