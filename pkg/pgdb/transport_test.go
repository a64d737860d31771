package pgdb_test

import (
	"strings"
	"testing"

	"github.com/todo-platform/todo/pkg/pgdb"
)

func TestCheckTransport(t *testing.T) {
	tests := []struct {
		dsn     string
		refused bool
	}{
		{"postgres://app@db.example.com/todo", true}, // unset: prefer
		{"postgres://app@db.example.com/todo?sslmode=disable", true},
		{"postgres://app@db.example.com/todo?sslmode=allow", true},
		{"postgres://app@db.example.com/todo?sslmode=prefer", true},
		{"host=10.0.0.7 user=app dbname=todo sslmode=disable", true},
		{"postgres://app@db.example.com/todo?sslmode=require", false},
		{"postgres://app@db.example.com/todo?sslmode=verify-full", false},
		{"postgres://app@localhost/todo?sslmode=disable", false},
		{"postgres://app@127.0.0.1/todo?sslmode=disable", false},
		{"postgres://app@[::1]/todo?sslmode=disable", false},
		{"postgres://app@/todo?host=/tmp/pg&sslmode=disable", false},
		// One insecure host among several is enough to refuse.
		{"postgres://app@localhost,db.example.com/todo?sslmode=disable", true},
	}
	for _, tt := range tests {
		cfg, err := pgdb.ParseConfig(tt.dsn)
		if err != nil {
			t.Fatalf("ParseConfig(%q): %v", tt.dsn, err)
		}
		err = pgdb.CheckTransport(&cfg.Pool.ConnConfig.Config, false)
		if got := err != nil; got != tt.refused {
			t.Errorf("CheckTransport(%q) = %v, want refused %v", tt.dsn, err, tt.refused)
		}
		if err != nil && !strings.Contains(err.Error(), "DATABASE_ALLOW_INSECURE") {
			t.Errorf("CheckTransport(%q): %v does not say how to override", tt.dsn, err)
		}
		if err := pgdb.CheckTransport(&cfg.Pool.ConnConfig.Config, true); err != nil {
			t.Errorf("CheckTransport(%q, allowInsecure): %v", tt.dsn, err)
		}
	}
}
