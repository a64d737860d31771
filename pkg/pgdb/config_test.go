package pgdb_test

import (
	"testing"
	"time"

	"github.com/todo-platform/todo/pkg/pgdb"
)

func TestParseConfig_BareDSNHasTheDefaults(t *testing.T) {
	t.Setenv("PGCONNECT_TIMEOUT", "")
	for _, dsn := range []string{
		"postgres://app@db.example.com:5432/todo",
		"host=db.example.com port=5432 user=app dbname=todo",
	} {
		cfg, err := pgdb.ParseConfig(dsn)
		if err != nil {
			t.Fatalf("ParseConfig(%q): %v", dsn, err)
		}
		p := cfg.Pool
		if p.MinConns != 2 || p.MaxConns != 10 || p.MaxConnIdleTime != 300*time.Second ||
			p.ConnConfig.ConnectTimeout != 30*time.Second || cfg.StatementTimeout != 60*time.Second {
			t.Errorf("ParseConfig(%q): min %d max %d idle %v connect %v statement %v; want 2 10 5m0s 30s 1m0s",
				dsn, p.MinConns, p.MaxConns, p.MaxConnIdleTime, p.ConnConfig.ConnectTimeout, cfg.StatementTimeout)
		}
		if _, ok := p.ConnConfig.RuntimeParams["statement_timeout"]; ok {
			t.Errorf("ParseConfig(%q): statement_timeout is a startup parameter", dsn)
		}
	}
}

func TestParseConfig_DSNOverridesDefaults(t *testing.T) {
	for _, dsn := range []string{
		"postgres://app@db.example.com/todo?pool_min_conns=1&pool_max_conns=3&pool_max_conn_idle_time=7s&connect_timeout=4&statement_timeout=5s&application_name=todo",
		"host=db.example.com user=app dbname=todo pool_min_conns=1 pool_max_conns=3 pool_max_conn_idle_time=7s connect_timeout=4 statement_timeout='5s' application_name=todo",
	} {
		cfg, err := pgdb.ParseConfig(dsn)
		if err != nil {
			t.Fatalf("ParseConfig(%q): %v", dsn, err)
		}
		p := cfg.Pool
		if p.MinConns != 1 || p.MaxConns != 3 || p.MaxConnIdleTime != 7*time.Second ||
			p.ConnConfig.ConnectTimeout != 4*time.Second || cfg.StatementTimeout != 5*time.Second {
			t.Errorf("ParseConfig(%q): min %d max %d idle %v connect %v statement %v; want 1 3 7s 4s 5s",
				dsn, p.MinConns, p.MaxConns, p.MaxConnIdleTime, p.ConnConfig.ConnectTimeout, cfg.StatementTimeout)
		}
		params := p.ConnConfig.RuntimeParams
		if _, ok := params["statement_timeout"]; ok {
			t.Errorf("ParseConfig(%q): statement_timeout is a startup parameter", dsn)
		}
		if params["application_name"] != "todo" {
			t.Errorf("ParseConfig(%q): application_name = %q, want todo (other parameters stay)", dsn, params["application_name"])
		}
	}
}

func TestParseConfig_StatementTimeoutForms(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"5s", 5 * time.Second},
		{"1500", 1500 * time.Millisecond},
		{"0", 0},
		{"2min", 2 * time.Minute},
		{"250ms", 250 * time.Millisecond},
		{"1h30m", 90 * time.Minute},
	}
	for _, tt := range tests {
		cfg, err := pgdb.ParseConfig("postgres://app@localhost/todo?statement_timeout=" + tt.in)
		if err != nil {
			t.Errorf("statement_timeout=%s: %v", tt.in, err)
			continue
		}
		if cfg.StatementTimeout != tt.want {
			t.Errorf("statement_timeout=%s: got %v, want %v", tt.in, cfg.StatementTimeout, tt.want)
		}
	}
	for _, bad := range []string{"soon", "-5", "5 fortnights"} {
		if _, err := pgdb.ParseConfig("postgres://app@localhost/todo?statement_timeout=" + bad); err == nil {
			t.Errorf("statement_timeout=%s: no error", bad)
		}
	}
}

func TestParseConfig_RejectsBadPoolSettings(t *testing.T) {
	for _, dsn := range []string{
		"postgres://app@localhost/todo?pool_min_conns=5&pool_max_conns=2",
		"postgres://app@localhost/todo?pool_max_conns=0",
		"postgres://app@localhost/todo?pool_max_conn_idle_time=soon",
		"host=localhost user=app dbname=todo pool_min_conns=20",
	} {
		if _, err := pgdb.ParseConfig(dsn); err == nil {
			t.Errorf("ParseConfig(%q): no error", dsn)
		}
	}
}
