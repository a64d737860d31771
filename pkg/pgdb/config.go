// Package pgdb builds the services' PostgreSQL connection pool and runs their
// work in short transactions that carry their own settings.
//
// Nothing here depends on session state surviving a transaction: the
// statement timeout and the row-level security settings are set with
// set_config(…, true) at the start of every transaction, so the services work
// through PgBouncer in transaction mode (Neon's pooled endpoint). Choose the
// query exec mode for a pooler with pgx's own DSN parameter
// default_query_exec_mode (for example exec or simple_protocol when the
// pooler does not keep prepared statements).
//
// TLS is whatever the DSN says (sslmode=…, sslrootcert=…; pgx's default is
// prefer), but OpenRuntime refuses a DSN that may reach a host that is not
// on this machine without TLS (see CheckTransport). Use sslmode=verify-full
// for any database that is not on loopback.
package pgdb

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The pool defaults, used where the DSN does not say otherwise.
const (
	DefaultMinConns         = 2
	DefaultMaxConns         = 10
	DefaultConnectTimeout   = 30 * time.Second
	DefaultMaxConnIdleTime  = 300 * time.Second
	DefaultStatementTimeout = 60 * time.Second
)

// Config is a parsed pool configuration.
type Config struct {
	// Pool is the pgxpool configuration, defaults applied.
	Pool *pgxpool.Config
	// StatementTimeout is set at the start of every transaction (0 disables it).
	StatementTimeout time.Duration
	// AllowInsecure turns off OpenRuntime's refusal of a DSN that may reach
	// another machine without TLS (see CheckTransport).
	AllowInsecure bool
}

// ParseConfig parses a libpq/pgx DSN, in URL (postgres://…) or keyword/value
// form, and applies the defaults where the DSN (or the PG* environment
// pgx reads) does not set them: pool_min_conns 2, pool_max_conns 10,
// connect_timeout 30 s, pool_max_conn_idle_time 300 s and statement_timeout
// 60 s. A connect_timeout of 0 counts as unset.
//
// statement_timeout in the DSN is a Go duration ("5s"), a number of
// milliseconds ("5000") or a PostgreSQL time value ("5min"). It is removed
// from the startup parameters, because poolers such as Neon's reject unknown
// ones, and set per transaction by [DB.Send] and [DB.InTx] instead.
func ParseConfig(dsn string) (*Config, error) {
	// pgx leaves unknown keys, including pgxpool's, in RuntimeParams: parse
	// once without pgxpool to see which keys the DSN sets.
	probe, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse database DSN: %w", err)
	}
	pool, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse database DSN: %w", err)
	}
	set := func(key string) bool {
		_, ok := probe.RuntimeParams[key]
		return ok
	}
	if !set("pool_min_conns") {
		pool.MinConns = DefaultMinConns
	}
	if !set("pool_max_conns") {
		pool.MaxConns = DefaultMaxConns
	}
	if pool.MinConns > pool.MaxConns {
		return nil, fmt.Errorf("parse database DSN: pool_min_conns %d is more than pool_max_conns %d", pool.MinConns, pool.MaxConns)
	}
	if !set("pool_max_conn_idle_time") {
		pool.MaxConnIdleTime = DefaultMaxConnIdleTime
	}
	if pool.ConnConfig.ConnectTimeout == 0 {
		pool.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}

	cfg := &Config{Pool: pool, StatementTimeout: DefaultStatementTimeout}
	if s, ok := pool.ConnConfig.RuntimeParams["statement_timeout"]; ok {
		d, err := parseTimeout(s)
		if err != nil {
			return nil, fmt.Errorf("parse database DSN: statement_timeout %q: %w", s, err)
		}
		cfg.StatementTimeout = d
		delete(pool.ConnConfig.RuntimeParams, "statement_timeout")
	}
	return cfg, nil
}

// parseTimeout reads a timeout the way PostgreSQL does (a bare number is
// milliseconds; units us, ms, s, min, h, d) and also accepts Go durations.
func parseTimeout(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("negative")
		}
		return time.Duration(n) * time.Millisecond, nil
	}
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i > 0 {
		num, unit := s[:i], strings.TrimSpace(s[i:])
		units := map[string]time.Duration{
			"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second,
			"min": time.Minute, "h": time.Hour, "d": 24 * time.Hour,
		}
		if u, ok := units[unit]; ok {
			f, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, err
			}
			return time.Duration(f * float64(u)), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("want milliseconds or a duration such as 5s")
	}
	if d < 0 {
		return 0, fmt.Errorf("negative")
	}
	return d, nil
}
