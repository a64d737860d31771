// Package httpserver runs an HTTP server for the life of a context and then
// shuts it down gracefully, as package grpcserver does for gRPC: it stops
// accepting connections, lets the requests in flight finish within a
// shutdown timeout, and closes the connections of those still running after
// it.
package httpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/todo-platform/todo/pkg/listen"
)

// ListenAndServe listens on srv.Addr, a TCP address such as ":8080" or
// "fd:N" for an inherited socket (see package listen), logs the address it
// listens on ("HTTP server listening", addr), and calls Serve.
func ListenAndServe(ctx context.Context, log *slog.Logger, srv *http.Server, shutdownTimeout time.Duration) error {
	lis, err := listen.Listen(ctx, srv.Addr)
	if err != nil {
		return fmt.Errorf("httpserver: %w", err)
	}
	log.InfoContext(ctx, "HTTP server listening", slog.String("addr", lis.Addr().String()))
	return Serve(ctx, log, srv, lis, shutdownTimeout)
}

// Serve serves srv on lis until ctx ends or the server fails. When ctx ends
// it closes lis, waits up to shutdownTimeout for the requests in flight to
// finish (http.Server.Shutdown; a timeout of 0 does not wait), then closes
// the connections that remain. Requests do not see ctx end: their contexts
// end when they are done or their connection is closed. Serve returns nil
// when it stopped because ctx ended, also when the timeout forced the close
// (which it logs), or because srv was shut down or closed by someone else;
// it returns the server's error otherwise. With srv.TLSConfig set it serves
// HTTPS (HTTP/2 and HTTP/1.1) with that configuration's certificates.
func Serve(ctx context.Context, log *slog.Logger, srv *http.Server, lis net.Listener, shutdownTimeout time.Duration) error {
	served := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			// The certificates come from TLSConfig (GetCertificate).
			served <- srv.ServeTLS(lis, "", "")
			return
		}
		served <- srv.Serve(lis)
	}()

	select {
	case err := <-served:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("httpserver: serve on %s: %w", lis.Addr(), err)
	case <-ctx.Done():
	}

	log.InfoContext(ctx, "HTTP server stopping", slog.String("timeout", shutdownTimeout.String()))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.WarnContext(ctx, "HTTP graceful shutdown timed out; closing the remaining connections",
			slog.String("timeout", shutdownTimeout.String()), slog.Any("error", err))
		if err := srv.Close(); err != nil {
			return fmt.Errorf("httpserver: close: %w", err)
		}
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("httpserver: serve on %s: %w", lis.Addr(), err)
	}
	log.InfoContext(ctx, "HTTP server stopped")
	return nil
}
