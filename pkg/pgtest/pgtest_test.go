package pgtest_test

import (
	"context"
	"os"
	"testing"

	"github.com/todo-platform/todo/pkg/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestNew_GivesMigratedDatabaseAndAppRole(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()

	var user string
	var super, bypass bool
	if err := db.App.Pool.QueryRow(ctx,
		`SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`).Scan(&user, &super, &bypass); err != nil {
		t.Fatal(err)
	}
	if user != pgtest.AppRoleName || super || bypass {
		t.Errorf("app pool role = %s (super %v, bypassrls %v), want %s, not super, no bypassrls", user, super, bypass, pgtest.AppRoleName)
	}
	if err := db.App.CheckRuntimeRole(ctx); err != nil {
		t.Errorf("CheckRuntimeRole(app) = %v", err)
	}
	for _, table := range []string{`"user"`, "task"} {
		var n int
		if err := db.Owner.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Errorf("table %s: %v", table, err)
		}
	}
}

func TestNew_DatabasesAreIsolated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := pgtest.New(t), pgtest.New(t)
	if a.Name == b.Name {
		t.Fatalf("two New calls gave the same database %s", a.Name)
	}
	if _, err := a.Owner.Exec(ctx, `INSERT INTO "user" (email, username, password_hash) VALUES ('a@example.com', 'a', 'x')`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := b.Owner.QueryRow(ctx, `SELECT count(*) FROM "user"`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("database b has %d users after an insert into a, want 0", n)
	}
}

func TestNew_DropsDatabaseAtCleanup(t *testing.T) {
	var name string
	t.Run("inner", func(t *testing.T) {
		name = pgtest.New(t).Name
	})
	ctx := context.Background()
	db := pgtest.New(t)
	var exists bool
	if err := db.Owner.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("database %s of a finished test still exists", name)
	}
}

func TestNewPrivate_StopTakesTheDatabaseAway(t *testing.T) {
	db, cluster := pgtest.NewPrivate(t)
	ctx := t.Context()
	var n int
	if err := db.Owner.QueryRow(ctx, `SELECT count(*) FROM "user"`).Scan(&n); err != nil {
		t.Fatalf("private database not migrated: %v", err)
	}
	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := db.Owner.Ping(ctx); err == nil {
		t.Error("the database still answers after Stop")
	}
	if err := cluster.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestSeedUser_InsertsAnActiveOrAdminUser(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	id := db.SeedUser(t, pgtest.User{Name: "carol", Active: false, Admin: true})
	var (
		email         string
		active, admin bool
	)
	if err := db.Owner.QueryRow(t.Context(), `SELECT email, is_active, is_admin FROM "user" WHERE id = $1`, id).Scan(&email, &active, &admin); err != nil {
		t.Fatal(err)
	}
	if email != "carol@example.com" || active || !admin {
		t.Errorf("seeded (%s, active %v, admin %v), want (carol@example.com, false, true)", email, active, admin)
	}
}
