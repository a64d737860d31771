package pgtest_test

import (
	"context"
	"os"
	"testing"

	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/pkg/schema"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestNew_GivesMigratedDatabaseAndAppRoles(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()

	for _, r := range []struct {
		pool        *pgdb.DB
		login, role string
	}{
		{db.UserApp, pgtest.UserAppRoleName, schema.UserRole},
		{db.TaskApp, pgtest.TaskAppRoleName, schema.TaskRole},
	} {
		var user string
		var super, bypass bool
		if err := r.pool.Pool.QueryRow(ctx,
			`SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`).Scan(&user, &super, &bypass); err != nil {
			t.Fatal(err)
		}
		if user != r.login || super || bypass {
			t.Errorf("app pool role = %s (super %v, bypassrls %v), want %s, not super, no bypassrls", user, super, bypass, r.login)
		}
		if err := r.pool.CheckRuntimeRole(ctx, r.role); err != nil {
			t.Errorf("CheckRuntimeRole(%s, %s) = %v", r.login, r.role, err)
		}
	}
	var shared bool
	if err := db.Owner.QueryRow(ctx, `SELECT pg_has_role($1, $2, 'MEMBER') OR pg_has_role($2, $1, 'MEMBER')`,
		pgtest.UserAppRoleName, pgtest.TaskAppRoleName).Scan(&shared); err != nil {
		t.Fatal(err)
	}
	if shared {
		t.Errorf("the login roles %s and %s are members of one another", pgtest.UserAppRoleName, pgtest.TaskAppRoleName)
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
