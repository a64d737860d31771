package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

// TestRun_ServeIsTheOnlySubcommand: deploy/run.sh starts every binary as
// "<binary> serve", so the gateway must accept serve as well as nothing.
func TestRun_ServeIsTheOnlySubcommand(t *testing.T) {
	t.Setenv("HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("ADMIN_ADDR", "127.0.0.1:0")
	log := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // serve, then stop at once
	for _, args := range [][]string{nil, {"serve"}} {
		if err := run(ctx, log, args); err != nil {
			t.Errorf("run(%q) = %v, want a clean stop", args, err)
		}
	}
	for _, args := range [][]string{{"--help"}, {"serve", "now"}} {
		err := run(ctx, log, args)
		if err == nil || !strings.Contains(err.Error(), "usage: gateway") {
			t.Errorf("run(%q) = %v, want a usage error", args, err)
		}
	}
}
