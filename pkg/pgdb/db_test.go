package pgdb_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/pkg/schema"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// openOneConn opens a pool of exactly one connection on dsn plus params, so
// consecutive calls share a session.
func openOneConn(t *testing.T, dsn, params string) *pgdb.DB {
	t.Helper()
	cfg, err := pgdb.ParseConfig(dsn + "&pool_min_conns=0&pool_max_conns=1" + params)
	if err != nil {
		t.Fatal(err)
	}
	db, err := pgdb.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

func TestSend_SettingsHoldForTheBatchOnly(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	ctx := context.Background()
	// Every exec mode a pooler may need: the settings must reach the
	// batch's queries in all of them.
	for _, mode := range []string{"cache_statement", "cache_describe", "describe_exec", "exec", "simple_protocol"} {
		t.Run(mode, func(t *testing.T) {
			db := openOneConn(t, tdb.UserAppURL, "&statement_timeout=1500&default_query_exec_mode="+mode)

			var user, admin, timeout string
			err := db.Send(ctx, pgdb.RetrySafe,
				[]pgdb.Setting{{Name: "app.user_id", Value: "42"}, {Name: "app.is_admin", Value: "true"}},
				func(b *pgx.Batch) {
					b.Queue(`SELECT current_setting('app.user_id'), current_setting('app.is_admin'), current_setting('statement_timeout')`)
				},
				func(br pgx.BatchResults) error { return br.QueryRow().Scan(&user, &admin, &timeout) })
			if err != nil {
				t.Fatal(err)
			}
			if user != "42" || admin != "true" || timeout != "1500ms" {
				t.Errorf("in the batch: app.user_id %q app.is_admin %q statement_timeout %q; want 42 true 1500ms", user, admin, timeout)
			}

			// The same session afterwards: nothing survived the batch's transaction.
			if err := db.Pool.QueryRow(ctx,
				`SELECT coalesce(current_setting('app.user_id', true), ''), current_setting('statement_timeout')`).Scan(&user, &timeout); err != nil {
				t.Fatal(err)
			}
			if user != "" || timeout != "0" {
				t.Errorf("after the batch: app.user_id %q statement_timeout %q; want empty and 0 (session untouched)", user, timeout)
			}
		})
	}
}

func TestSend_StatementTimeoutIsErrStatementTimeout(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	db := openOneConn(t, tdb.UserAppURL, "&statement_timeout=50ms")
	err := db.Send(context.Background(), pgdb.RetrySafe, nil,
		func(b *pgx.Batch) { b.Queue(`SELECT pg_sleep(10)`) },
		func(br pgx.BatchResults) error { _, err := br.Exec(); return err })
	var pgErr *pgconn.PgError
	if !errors.Is(err, pgdb.ErrStatementTimeout) || !errors.As(err, &pgErr) || pgErr.Code != "57014" {
		t.Errorf("slow query under a 50ms statement timeout: got %v, want ErrStatementTimeout wrapping query_canceled (57014)", err)
	}
}

func TestInTx_SettingsHoldForTheTransactionOnly(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	ctx := context.Background()
	db := openOneConn(t, tdb.UserAppURL, "&statement_timeout=2s")

	var user, timeout string
	err := db.InTx(ctx, pgdb.RetrySafe, []pgdb.Setting{{Name: "app.user_id", Value: "7"}}, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT current_setting('app.user_id'), current_setting('statement_timeout')`).Scan(&user, &timeout)
	})
	if err != nil {
		t.Fatal(err)
	}
	if user != "7" || timeout != "2s" {
		t.Errorf("in the transaction: app.user_id %q statement_timeout %q; want 7 and 2s", user, timeout)
	}
	if err := db.Pool.QueryRow(ctx, `SELECT coalesce(current_setting('app.user_id', true), ''), current_setting('statement_timeout')`).Scan(&user, &timeout); err != nil {
		t.Fatal(err)
	}
	if user != "" || timeout != "0" {
		t.Errorf("after the transaction: app.user_id %q statement_timeout %q; want empty and 0 (session untouched: the DSN's statement_timeout is no startup parameter)", user, timeout)
	}
}

func TestInTx_ErrorRollsBack(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	ctx := context.Background()
	errStop := errors.New("stop")
	err := tdb.UserApp.InTx(ctx, pgdb.RetrySafe, nil, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO "user" (email, username, password_hash) VALUES ('a@example.com', 'a', 'h')`); err != nil {
			return err
		}
		return errStop
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("InTx returned %v, want fn's error", err)
	}
	var n int
	if err := tdb.Owner.QueryRow(ctx, `SELECT count(*) FROM "user"`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d users after a rolled back insert, want 0", n)
	}
}

// roleURL creates a LOGIN role name (with extra CREATE ROLE options) and
// returns a DSN for it on the test database; the role is dropped at cleanup.
func roleURL(t *testing.T, tdb *pgtest.DB, name, options string) string {
	t.Helper()
	ctx := context.Background()
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := tdb.Owner.Exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD 'pw' %s", ident, options)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, q := range []string{"DROP OWNED BY " + ident, "DROP ROLE " + ident} {
			if _, err := tdb.Owner.Exec(context.Background(), q); err != nil {
				t.Errorf("%s: %v", q, err)
			}
		}
	})
	u, err := url.Parse(tdb.UserAppURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(name, "pw")
	return u.String()
}

func checkRole(t *testing.T, dsn, group string) error {
	t.Helper()
	cfg, err := pgdb.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db, err := pgdb.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return db.CheckRuntimeRole(context.Background(), group)
}

func TestCheckRuntimeRole(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	suffix := strings.TrimPrefix(tdb.Name, "t_")
	suffix = suffix[len(suffix)-12:]

	if err := tdb.UserApp.CheckRuntimeRole(context.Background(), schema.UserRole); err != nil {
		t.Errorf("user login role (member of %s, owns nothing): %v", schema.UserRole, err)
	}
	if err := tdb.TaskApp.CheckRuntimeRole(context.Background(), schema.TaskRole); err != nil {
		t.Errorf("task login role (member of %s, owns nothing): %v", schema.TaskRole, err)
	}

	owner := roleURL(t, tdb, "owner_"+suffix, "IN ROLE todo_user_svc")
	if _, err := tdb.Owner.Exec(context.Background(), "CREATE TABLE mine (id int); ALTER TABLE mine OWNER TO "+pgx.Identifier{"owner_" + suffix}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		dsn   string
		group string
		want  []string // substrings of the error
	}{
		{"superuser", tdb.OwnerURL, schema.UserRole, []string{`role "postgres"`, "superuser", "member of todo_user_svc", "CREATE ROLE todo_user_login", "IN ROLE todo_user_svc"}},
		{"bypassrls", roleURL(t, tdb, "bypass_"+suffix, "BYPASSRLS IN ROLE todo_task_svc"), schema.TaskRole, []string{"BYPASSRLS"}},
		{"not a member", roleURL(t, tdb, "outsider_"+suffix, ""), schema.TaskRole, []string{"is not a member of todo_task_svc", "GRANT todo_task_svc TO"}},
		{"the other service's login", tdb.TaskAppURL, schema.UserRole, []string{"is not a member of todo_user_svc", "GRANT todo_user_svc TO"}},
		{"the shared group of old", roleURL(t, tdb, "shared_"+suffix, "IN ROLE todo_app"), schema.UserRole, []string{"is not a member of todo_user_svc"}},
		{"no such group", tdb.UserAppURL, "todo_nosuch_svc", []string{"todo_nosuch_svc: that role does not exist"}},
		{"owner", owner, schema.UserRole, []string{"owns", "relation mine"}},
	}
	for _, tt := range tests {
		err := checkRole(t, tt.dsn, tt.group)
		if err == nil {
			t.Errorf("%s: CheckRuntimeRole = nil, want an error", tt.name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", tt.name, err, w)
			}
		}
	}
}

func TestOpen_FailsWhenDatabaseIsUnreachable(t *testing.T) {
	t.Parallel()
	cfg, err := pgdb.ParseConfig("postgres://app@127.0.0.1:1/todo?sslmode=disable&connect_timeout=5")
	if err != nil {
		t.Fatal(err)
	}
	if db, err := pgdb.Open(context.Background(), cfg); err == nil {
		db.Close()
		t.Fatal("Open of an unreachable database succeeded")
	}
}
