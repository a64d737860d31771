// Package grpcclient dials the platform's own gRPC services (the gateway's
// upstreams, the task service's user service) with one reconnection policy.
package grpcclient

import (
	"crypto/tls"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// Reconnection: gRPC's default backoff grows to 120 s and a connection
// attempt may take 20 s, so a service that starts after its client, or
// restarts, would be unreachable for minutes. These bound the wait after it
// comes back to a few seconds.
const (
	BackoffBaseDelay  = 250 * time.Millisecond
	BackoffMultiplier = 1.6
	BackoffJitter     = 0.2
	BackoffMaxDelay   = 2 * time.Second
	MinConnectTimeout = 4 * time.Second
)

// Dial returns a client connection to the gRPC service at addr (plaintext
// unless opts hold WithTLS), with opts added after the defaults. It connects lazily, on the first call,
// and reconnects by itself at most BackoffMaxDelay apart while the service is
// down. Callers share one connection per upstream for the life of the
// process and close it at shutdown.
//
// addr may name several instances of the service: a host name that
// resolves to several addresses (host:port or dns:///host:port, as a
// Kubernetes headless Service does), or a comma-separated list of
// host:port. Calls are balanced round_robin over them; with ForService in
// opts, only over those whose health status is SERVING, and the service's
// idempotent methods are retried on UNAVAILABLE. Service configs from DNS
// are ignored.
func Dial(addr string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	tgt, targetOpts, err := target(addr)
	if err != nil {
		return nil, fmt.Errorf("dial %q: %w", addr, err)
	}
	opts = append([]grpc.DialOption{
		grpc.WithDisableServiceConfig(),
		grpc.WithDefaultServiceConfig(ServiceConfig("")),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay:  BackoffBaseDelay,
				Multiplier: BackoffMultiplier,
				Jitter:     BackoffJitter,
				MaxDelay:   BackoffMaxDelay,
			},
			MinConnectTimeout: MinConnectTimeout,
		}),
	}, append(targetOpts, opts...)...)
	conn, err := grpc.NewClient(tgt, opts...)
	if err != nil {
		return nil, fmt.Errorf("dial %q: %w", addr, err)
	}
	return conn, nil
}

// WithTLS makes Dial speak TLS with cfg (see package tlsconfig): the
// server's certificate is checked against cfg's roots and the host of the
// address dialled. A nil cfg changes nothing (plaintext).
func WithTLS(cfg *tls.Config) grpc.DialOption {
	if cfg == nil {
		return grpc.EmptyDialOption{}
	}
	return grpc.WithTransportCredentials(credentials.NewTLS(cfg))
}
