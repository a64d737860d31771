package taskstore

import (
	"log/slog"
	"testing"
)

// TestNewListener_ParsesTheDSNAsThePoolsDo: a DATABASE_URL with pool keys
// (which DATABASE_LISTEN_URL falls back to) does not send them to the server
// as run-time parameters, and a DSN that fails the transport check fails
// at construction, not on every reconnect.
func TestNewListener_ParsesTheDSNAsThePoolsDo(t *testing.T) {
	l, err := NewListener(slog.Default(), "postgres://todo@127.0.0.1:5432/todo?pool_max_conns=4&sslmode=disable", false)
	if err != nil {
		t.Fatalf("NewListener with pool keys: %v", err)
	}
	if _, ok := l.cfg.RuntimeParams["pool_max_conns"]; ok {
		t.Errorf("pool_max_conns is sent to the server as a run-time parameter: %v", l.cfg.RuntimeParams)
	}
	if _, err := NewListener(slog.Default(), "postgres://todo@db.example.com/todo?sslmode=disable", false); err == nil {
		t.Error("NewListener accepted plaintext to a remote host")
	}
	if _, err := NewListener(slog.Default(), "postgres://todo@db.example.com/todo?sslmode=bogus", true); err == nil {
		t.Error("NewListener accepted an unparsable DSN")
	}
}
