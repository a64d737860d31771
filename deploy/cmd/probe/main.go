// Command probe is the container images' health check (the images have no
// shell, curl or grpcurl): it exits 0 when the process in the container is
// healthy and 1 otherwise.
//
//	probe grpc ADDR SERVICE   grpc.health.v1 Check of SERVICE at ADDR is SERVING
//	probe http URL            GET URL answers 200
//
// docker-compose.yml's healthchecks run it; Kubernetes probes the
// containers natively instead (deploy/k8s).
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// timeout bounds one probe.
const timeout = 3 * time.Second

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	switch {
	case len(args) == 3 && args[0] == "grpc":
		return probeGRPC(ctx, args[1], args[2])
	case len(args) == 2 && args[0] == "http":
		return probeHTTP(ctx, args[1])
	}
	return errors.New("usage: probe grpc ADDR SERVICE | probe http URL")
}

func probeGRPC(ctx context.Context, addr, service string) error {
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("dial %s: %w", addr, err)
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return fmt.Errorf("health check of %q at %s: %w", service, addr, err)
	}
	if s := resp.GetStatus(); s != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("%q at %s is %s", service, addr, s)
	}
	return nil
}

func probeHTTP(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
