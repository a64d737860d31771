package pgtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/todo-platform/todo/pkg/pgbouncer"
)

// Pooled is a test database reached through a PgBouncer of the test's own
// (see ViaPgBouncer).
type Pooled struct {
	// Bouncer is the running PgBouncer; the test may Stop it early.
	Bouncer *pgbouncer.Bouncer
	// UserAppURL and TaskAppURL are the DB's login-role URLs through the
	// bouncer, with default_query_exec_mode=exec (pgbouncer.ExecMode).
	UserAppURL, TaskAppURL string
}

// ViaPgBouncer starts a PgBouncer in transaction mode (as Neon's pooled
// endpoint) in front of db's cluster, for the two login roles, and stops it
// when the test ends. Migrations and superuser work keep using db's direct
// URLs.
func ViaPgBouncer(t testing.TB, db *DB) *Pooled {
	t.Helper()
	return ViaPgBouncerWith(t, db, pgbouncer.Config{})
}

// ViaPgBouncerWith is ViaPgBouncer with cfg's PoolMode and PoolSize (its
// server address and users are db's).
func ViaPgBouncerWith(t testing.TB, db *DB, cfg pgbouncer.Config) *Pooled {
	t.Helper()
	server, err := pgconn.ParseConfig(db.OwnerURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	cfg.Host, cfg.Port = server.Host, int(server.Port)
	cfg.Users = map[string]string{UserAppRoleName: appRolePassword, TaskAppRoleName: appRolePassword}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := pgbouncer.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pgbouncer log:\n%s", b.Log())
		}
		if err := b.Stop(); err != nil {
			t.Errorf("pgtest: stop pgbouncer: %v", err)
		}
	})
	p := &Pooled{Bouncer: b}
	for _, u := range []struct {
		from string
		to   *string
	}{{db.UserAppURL, &p.UserAppURL}, {db.TaskAppURL, &p.TaskAppURL}} {
		if *u.to, err = b.Pooled(u.from); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
	}
	return p
}
