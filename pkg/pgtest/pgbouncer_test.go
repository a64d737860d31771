package pgtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/todo-platform/todo/pkg/pgbouncer"
	"github.com/todo-platform/todo/pkg/pgtest"
)

// TestViaPgBouncer_TransactionMode checks that the bouncer really pools per
// transaction: two clients, each holding its own connection to the bouncer,
// run on the one server connection the pool has, and a transaction-local
// setting does not outlive its transaction.
func TestViaPgBouncer_TransactionMode(t *testing.T) {
	db := pgtest.New(t)
	p := pgtest.ViaPgBouncerWith(t, db, pgbouncer.Config{PoolSize: 1})
	ctx := context.Background()
	var conns []*pgx.Conn
	for range 2 {
		c, err := pgx.Connect(ctx, p.TaskAppURL)
		if err != nil {
			t.Fatalf("connect through pgbouncer: %v", err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		conns = append(conns, c)
	}
	var pids [2]int32
	for i, c := range conns {
		if err := c.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pids[i]); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	if pids[0] != pids[1] {
		t.Errorf("two clients ran on server backends %d and %d, want the one backend of a pool of size 1", pids[0], pids[1])
	}

	tx, err := conns[0].Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT set_config('todo.test', 'x', true)"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := conns[1].QueryRow(ctx, "SELECT coalesce(current_setting('todo.test', true), '')").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != "" {
		t.Errorf("a transaction-local setting outlived its transaction: %q", got)
	}
}
