package pgdb_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/pkg/pgtest"
)

// terminateApp ends every backend of the app role in db's database, as an
// administrator (or a PostgreSQL restart) would.
func terminateApp(t *testing.T, db *pgtest.DB) int {
	t.Helper()
	var n int
	err := db.Owner.QueryRow(t.Context(), `
SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
FROM pg_stat_activity WHERE datname = current_database() AND usename = $1`, pgtest.AppRoleName).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func selectOne(ctx context.Context, db *pgdb.DB, retry pgdb.Retry) (int, error) {
	var n int
	err := db.Send(ctx, retry, nil, func(b *pgx.Batch) { b.Queue(`SELECT 1`) },
		func(br pgx.BatchResults) error { return br.QueryRow().Scan(&n) })
	return n, err
}

func TestSend_ReadAfterTerminatedBackendsSucceeds(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := t.Context()
	for round := range 3 {
		// Warm every connection of the pool, then kill them all.
		for range 4 {
			if _, err := selectOne(ctx, db.App, pgdb.RetrySafe); err != nil {
				t.Fatal(err)
			}
		}
		if n := terminateApp(t, db); n == 0 {
			t.Fatalf("round %d: no backend to terminate", round)
		}
		n, err := selectOne(ctx, db.App, pgdb.RetrySafe)
		if err != nil || n != 1 {
			t.Fatalf("round %d: read after terminate = %d, %v; want 1, nil", round, n, err)
		}
	}
}

func TestSend_WriteAfterTerminatedBackendsIsUnavailableOrDone(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := t.Context()
	if _, err := selectOne(ctx, db.App, pgdb.RetrySafe); err != nil {
		t.Fatal(err)
	}
	terminateApp(t, db)
	_, err := selectOne(ctx, db.App, pgdb.RetryIfNotSent)
	if err != nil && !errors.Is(err, pgdb.ErrUnavailable) {
		t.Errorf("write after terminate = %v, want success or ErrUnavailable", err)
	}
	if _, err := selectOne(ctx, db.App, pgdb.RetryIfNotSent); err != nil {
		t.Errorf("the next write = %v, want success on a fresh connection", err)
	}
}

func TestSend_DatabaseDownIsErrUnavailable(t *testing.T) {
	t.Parallel()
	db, cluster := pgtest.NewPrivate(t)
	ctx := t.Context()
	if _, err := selectOne(ctx, db.App, pgdb.RetrySafe); err != nil {
		t.Fatal(err)
	}
	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, retry := range []pgdb.Retry{pgdb.RetrySafe, pgdb.RetryIfNotSent} {
		if _, err := selectOne(ctx, db.App, retry); !errors.Is(err, pgdb.ErrUnavailable) {
			t.Errorf("retry %v with the database down = %v, want ErrUnavailable", retry, err)
		}
	}
	err := db.App.InTx(ctx, pgdb.RetrySafe, nil, func(pgx.Tx) error { return nil })
	if !errors.Is(err, pgdb.ErrUnavailable) {
		t.Errorf("InTx with the database down = %v, want ErrUnavailable", err)
	}
}
