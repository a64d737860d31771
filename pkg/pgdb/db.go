package pgdb

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DB is a connection pool plus the statement timeout applied to each of its
// transactions.
type DB struct {
	Pool             *pgxpool.Pool
	StatementTimeout time.Duration

	sweeping atomic.Bool // a dropDeadIdle is running
}

// Open creates the pool described by cfg and checks that the database answers.
func Open(ctx context.Context, cfg *Config) (*DB, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg.Pool)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database %s@%s:%d/%s: %w",
			cfg.Pool.ConnConfig.User, cfg.Pool.ConnConfig.Host, cfg.Pool.ConnConfig.Port, cfg.Pool.ConnConfig.Database, err)
	}
	return &DB{Pool: pool, StatementTimeout: cfg.StatementTimeout}, nil
}

// OpenRuntime opens the pool a service runs on: it parses dsn (see
// ParseConfig), opens the pool, and checks with CheckRuntimeRole that the
// role it logs in as is fit to run the service whose NOLOGIN group is group
// (schema.UserRole, schema.TaskRole), refusing to start otherwise.
// The errors name DATABASE_URL, where the DSN comes from. Before it
// connects it refuses a DSN that may reach another machine without TLS (see
// CheckTransport; WithAllowInsecure turns that off). opts change the parsed
// configuration before the pool opens.
func OpenRuntime(ctx context.Context, dsn, group string, opts ...Option) (*DB, error) {
	cfg, err := ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	for _, o := range opts {
		o(cfg)
	}
	if err := CheckTransport(&cfg.Pool.ConnConfig.Config, cfg.AllowInsecure); err != nil {
		return nil, fmt.Errorf("refusing to start: DATABASE_URL: %w", err)
	}
	db, err := Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := db.CheckRuntimeRole(ctx, group); err != nil {
		db.Close()
		return nil, fmt.Errorf("refusing to start: %w", err)
	}
	return db, nil
}

// Option changes a Config before OpenRuntime opens the pool.
type Option func(*Config)

// WithAllowInsecure makes OpenRuntime accept a DSN that may reach another
// machine without TLS when allow is true (DATABASE_ALLOW_INSECURE).
func WithAllowInsecure(allow bool) Option {
	return func(c *Config) { c.AllowInsecure = allow }
}

// WithTracer makes tracer trace every connection's queries (nil: none).
func WithTracer(tracer pgx.QueryTracer) Option {
	return func(c *Config) { c.Pool.ConnConfig.Tracer = tracer }
}

// Ping checks, within ctx, that the database answers on a connection of
// the pool (a readiness check).
func (db *DB) Ping(ctx context.Context) error {
	if err := db.Pool.Ping(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	return nil
}

// Close closes the pool, waiting for acquired connections to be released.
func (db *DB) Close() {
	db.Pool.Close()
}

// Setting is a configuration parameter set for one transaction only, with
// set_config(Name, Value, true); for example the row-level security settings
// app.user_id and app.is_admin.
type Setting struct {
	Name, Value string
}

// setConfigSQL sets every (name, value) pair for the current transaction, in order.
const setConfigSQL = `SELECT set_config(s.name, s.value, true) FROM unnest($1::text[], $2::text[]) AS s(name, value)`

// settingsArgs returns the arguments of setConfigSQL: the statement timeout
// first, then settings.
func (db *DB) settingsArgs(settings []Setting) ([]string, []string) {
	names := make([]string, 0, len(settings)+1)
	values := make([]string, 0, len(settings)+1)
	names = append(names, "statement_timeout")
	values = append(values, strconv.FormatInt(db.StatementTimeout.Milliseconds(), 10))
	for _, s := range settings {
		names = append(names, s.Name)
		values = append(values, s.Value)
	}
	return names, values
}

// CheckRuntimeRole returns an error, saying what is wrong and how to fix it,
// unless the pool's role is fit to run the service whose NOLOGIN group is
// group (e.g. todo_user_svc): it is not a superuser, has no BYPASSRLS, is a
// member of group, and neither it nor a role it belongs to owns a relation,
// function, schema or the database itself (an owner can switch row-level
// security off).
func (db *DB) CheckRuntimeRole(ctx context.Context, group string) error {
	const q = `
SELECT r.rolname, r.rolsuper, r.rolbypassrls,
       a.oid IS NOT NULL,
       coalesce(pg_has_role(r.oid, a.oid, 'MEMBER'), false),
       array(
         SELECT kind || ' ' || name FROM (
           SELECT 'relation' AS kind, c.oid::regclass::text AS name, c.relowner AS owner FROM pg_class c
            WHERE c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
              AND c.relnamespace::regnamespace::text NOT LIKE 'pg_toast%'
           UNION ALL
           SELECT 'function', p.oid::regprocedure::text, p.proowner FROM pg_proc p
            WHERE p.pronamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
           UNION ALL
           SELECT 'schema', n.nspname, n.nspowner FROM pg_namespace n
           UNION ALL
           SELECT 'database', d.datname, d.datdba FROM pg_database d WHERE d.datname = current_database()
         ) o
         WHERE pg_has_role(r.oid, o.owner, 'MEMBER')
         ORDER BY 1 LIMIT 5)
FROM pg_roles r
LEFT JOIN pg_roles a ON a.rolname = $1
WHERE r.rolname = current_user`
	var (
		name                     string
		super, bypass, appExists bool
		member                   bool
		owned                    []string
	)
	if err := db.Pool.QueryRow(ctx, q, group).Scan(&name, &super, &bypass, &appExists, &member, &owned); err != nil {
		return fmt.Errorf("check database role: %w", err)
	}
	var problems []string
	if super {
		problems = append(problems, "is a superuser (superusers bypass row-level security)")
	}
	if bypass {
		problems = append(problems, "has BYPASSRLS")
	}
	switch {
	case !appExists:
		problems = append(problems, fmt.Sprintf("cannot be a member of %s: that role does not exist (run the migrations first: migrate up)", group))
	case !member:
		problems = append(problems, fmt.Sprintf("is not a member of %s, the group this service's privileges are granted to (GRANT %s TO %s)",
			group, group, pgx.Identifier{name}.Sanitize()))
	}
	if len(owned) > 0 {
		problems = append(problems, fmt.Sprintf("owns (itself or through a role it belongs to) %s (an owner can switch row-level security off)", strings.Join(owned, ", ")))
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("database role %q %s: this service must connect as a LOGIN role that is not superuser, has no BYPASSRLS, owns nothing and is a member of %s, for example: CREATE ROLE %s LOGIN PASSWORD '…' IN ROLE %s; then use it in DATABASE_URL (migrations still run as the owner)",
		name, strings.Join(problems, "; "), group, strings.TrimSuffix(group, "_svc")+"_login", group)
}
