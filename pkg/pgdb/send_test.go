package pgdb_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/pkg/testkit"
)

func selectOne(ctx context.Context, db *pgdb.DB, retry pgdb.Retry) (int, error) {
	var n int
	err := db.Send(ctx, retry, nil, func(b *pgx.Batch) { b.Queue(`SELECT 1`) },
		func(br pgx.BatchResults) error { return br.QueryRow().Scan(&n) })
	return n, err
}

// warmThenTerminate uses db's app pool (its minimum connections are open), then ends
// every backend of the app role, as a PostgreSQL restart would.
func warmThenTerminate(t *testing.T, db *pgtest.DB) {
	t.Helper()
	for range 4 {
		if _, err := selectOne(t.Context(), db.UserApp, pgdb.RetrySafe); err != nil {
			t.Fatal(err)
		}
	}
	if n := db.TerminateApp(t); n == 0 {
		t.Fatal("no backend to terminate")
	}
}

func TestSend_ReadAfterTerminatedBackendsSucceeds(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := t.Context()
	for round := range 3 {
		warmThenTerminate(t, db)
		n, err := selectOne(ctx, db.UserApp, pgdb.RetrySafe)
		if err != nil || n != 1 {
			t.Fatalf("round %d: read after terminate = %d, %v; want 1, nil", round, n, err)
		}
	}
}

func TestSend_WriteAfterTerminatedBackendsIsUnavailableOrDone(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := t.Context()
	if _, err := selectOne(ctx, db.UserApp, pgdb.RetrySafe); err != nil {
		t.Fatal(err)
	}
	db.TerminateApp(t)
	_, err := selectOne(ctx, db.UserApp, pgdb.RetryIfNotSent)
	if err != nil && !errors.Is(err, pgdb.ErrUnavailable) {
		t.Errorf("write after terminate = %v, want success or ErrUnavailable", err)
	}
	if _, err := selectOne(ctx, db.UserApp, pgdb.RetryIfNotSent); err != nil {
		t.Errorf("the next write = %v, want success on a fresh connection", err)
	}
}

func TestSend_DatabaseDownIsErrUnavailable(t *testing.T) {
	t.Parallel()
	db, cluster := pgtest.NewPrivate(t)
	ctx := t.Context()
	if _, err := selectOne(ctx, db.UserApp, pgdb.RetrySafe); err != nil {
		t.Fatal(err)
	}
	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, retry := range []pgdb.Retry{pgdb.RetrySafe, pgdb.RetryIfNotSent} {
		if _, err := selectOne(ctx, db.UserApp, retry); !errors.Is(err, pgdb.ErrUnavailable) {
			t.Errorf("retry %v with the database down = %v, want ErrUnavailable", retry, err)
		}
	}
	err := db.UserApp.InTx(ctx, pgdb.RetrySafe, nil, func(pgx.Tx) error { return nil })
	if !errors.Is(err, pgdb.ErrUnavailable) {
		t.Errorf("InTx with the database down = %v, want ErrUnavailable", err)
	}
}

// createAttempts creates a table the app role may read and write, for
// counting how many times a write ran.
func createAttempts(t *testing.T, db *pgtest.DB) {
	t.Helper()
	if _, err := db.Owner.Exec(t.Context(), `CREATE TABLE attempts (n int); GRANT SELECT, INSERT ON attempts TO todo_user_svc`); err != nil {
		t.Fatal(err)
	}
}

func countAttempts(t *testing.T, db *pgtest.DB) int {
	t.Helper()
	var n int
	if err := db.Owner.QueryRow(t.Context(), `SELECT count(*) FROM attempts`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSend_WriteThatCommittedBeforeTheConnectionFailedRunsOnce sends a
// batch whose insert commits (an explicit COMMIT ends the batch's implicit
// transaction) before the server terminates the session, the case where a
// write reached the database but its answer did not reach the caller. Under
// RetryIfNotSent the batch is not sent again: one row, and ErrUnavailable.
// Under RetrySafe it is, which shows that the test sees a second run: two
// rows (the second attempt, finding a row, does not terminate itself).
func TestSend_WriteThatCommittedBeforeTheConnectionFailedRunsOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		retry    pgdb.Retry
		wantRows int
		wantErr  error
	}{
		{pgdb.RetryIfNotSent, 1, pgdb.ErrUnavailable},
		{pgdb.RetrySafe, 2, nil},
	} {
		t.Run(tc.retry.String(), func(t *testing.T) {
			t.Parallel()
			db := pgtest.New(t)
			createAttempts(t, db)
			err := db.UserApp.Send(t.Context(), tc.retry, nil, func(b *pgx.Batch) {
				b.Queue(`INSERT INTO attempts VALUES (1)`)
				b.Queue(`COMMIT`)
				b.Queue(`SELECT pg_terminate_backend(pg_backend_pid()) FROM attempts HAVING count(*) = 1`)
			}, func(br pgx.BatchResults) error {
				for range 3 {
					if _, err := br.Exec(); err != nil {
						return err
					}
				}
				return nil
			})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Errorf("Send = %v, want %v", err, tc.wantErr)
			}
			if got := countAttempts(t, db); got != tc.wantRows {
				t.Errorf("%d rows inserted, want %d", got, tc.wantRows)
			}
		})
	}
}

func TestInTx_AfterTerminatedBackendsSucceedsForWrites(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	createAttempts(t, db)
	ctx := t.Context()
	for round := range 3 {
		warmThenTerminate(t, db)
		// BEGIN meets the dead connection: nothing of the transaction ran,
		// so even a write that must not run twice is retried.
		err := db.UserApp.InTx(ctx, pgdb.RetryIfNotSent, nil, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO attempts VALUES ($1)`, round)
			return err
		})
		if err != nil {
			t.Fatalf("round %d: InTx after terminate = %v, want success", round, err)
		}
	}
	if got := countAttempts(t, db); got != 3 {
		t.Errorf("%d rows, want 3 (one per round)", got)
	}
}

// TestInTx_ConnectionLostBeforeCommitIsRetriedOnce loses the connection in
// the middle of the transaction, after its insert: the transaction did not
// commit, so InTx runs it again, and the row is there once.
func TestInTx_ConnectionLostBeforeCommitIsRetriedOnce(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	createAttempts(t, db)
	ctx := t.Context()
	calls := 0
	err := db.UserApp.InTx(ctx, pgdb.RetryIfNotSent, nil, func(tx pgx.Tx) error {
		calls++
		if _, err := tx.Exec(ctx, `INSERT INTO attempts VALUES ($1)`, calls); err != nil {
			return err
		}
		if calls == 1 {
			_, err := tx.Exec(ctx, `SELECT pg_terminate_backend(pg_backend_pid())`)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("InTx = %v, want success on the second attempt", err)
	}
	if calls != 2 {
		t.Errorf("fn ran %d times, want 2", calls)
	}
	if got := countAttempts(t, db); got != 1 {
		t.Errorf("%d rows, want 1 (the first attempt rolled back)", got)
	}
}

// TestInTx_SerializationFailureIsErrSerialization runs two SERIALIZABLE
// transactions that update the same row: the second one's snapshot
// predates the first one's commit, so its update fails with 40001.
func TestInTx_SerializationFailureIsErrSerialization(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	ctx := t.Context()
	id := tdb.SeedUser(t, pgtest.User{Name: "racer", Active: true})
	first := openOneConn(t, tdb.UserAppURL, "&default_transaction_isolation=serializable")
	second := openOneConn(t, tdb.UserAppURL, "&default_transaction_isolation=serializable")
	const setName = `UPDATE "user" SET full_name = $2 WHERE id = $1`

	var innerErr error
	err := second.InTx(ctx, pgdb.RetrySafe, nil, func(tx pgx.Tx) error {
		var isolation string
		if err := tx.QueryRow(ctx, `SHOW transaction_isolation`).Scan(&isolation); err != nil {
			return err
		}
		if isolation != "serializable" {
			t.Fatalf("transaction_isolation %q, want serializable", isolation)
		}
		// The snapshot is taken; now another transaction updates the row
		// and commits.
		innerErr = first.InTx(ctx, pgdb.RetrySafe, nil, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, setName, id, "first")
			return err
		})
		_, err := tx.Exec(ctx, setName, id, "second")
		return err
	})
	if innerErr != nil {
		t.Fatalf("the first transaction: %v", innerErr)
	}
	var pgErr *pgconn.PgError
	if !errors.Is(err, pgdb.ErrSerialization) || !errors.As(err, &pgErr) || pgErr.Code != pgerrcode.SerializationFailure {
		t.Errorf("the second transaction: %v, want ErrSerialization wrapping serialization_failure (40001)", err)
	}
	if errors.Is(err, pgdb.ErrUnavailable) {
		t.Errorf("the second transaction: %v is also ErrUnavailable", err)
	}
}

// TestSend_ContextEndIsReportedAsTheContexts shows that a call whose
// context ends, before or during its statements, returns the context's
// error, and neither ErrUnavailable (the connection pgx closes to abandon
// the statement) nor ErrStatementTimeout.
func TestSend_ContextEndIsReportedAsTheContexts(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	// The server's own timeout ends the abandoned sleeps soon after.
	db := openOneConn(t, tdb.UserAppURL, "&pool_max_conns=4&statement_timeout=5s")
	sleep := func(ctx context.Context) error {
		return db.Send(ctx, pgdb.RetrySafe, nil, func(b *pgx.Batch) { b.Queue(`SELECT pg_sleep(30)`) },
			func(br pgx.BatchResults) error { _, err := br.Exec(); return err })
	}
	sleepInTx := func(ctx context.Context) error {
		return db.InTx(ctx, pgdb.RetrySafe, nil, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `SELECT pg_sleep(30)`)
			return err
		})
	}
	check := func(name string, err, want error) {
		t.Helper()
		if !errors.Is(err, want) || errors.Is(err, pgdb.ErrUnavailable) || errors.Is(err, pgdb.ErrStatementTimeout) {
			t.Errorf("%s: %v, want %v and neither ErrUnavailable nor ErrStatementTimeout", name, err, want)
		}
	}

	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	check("Send, canceled before", sleep(canceled), context.Canceled)
	check("InTx, canceled before", sleepInTx(canceled), context.Canceled)

	for name, run := range map[string]func(context.Context) error{"Send": sleep, "InTx": sleepInTx} {
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		check(name+", deadline during the statement", run(ctx), context.DeadlineExceeded)
		cancel()

		ctx, cancel = context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- run(ctx) }()
		waitForSleep(t, tdb)
		cancel()
		check(name+", canceled during the statement", <-done, context.Canceled)
	}
}

// waitForSleep waits until a backend of the app role runs pg_sleep.
func waitForSleep(t *testing.T, db *pgtest.DB) {
	t.Helper()
	ctx := testkit.Context(t)
	for {
		var n int
		err := db.Owner.QueryRow(ctx, `
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND usename = $1 AND state = 'active' AND query LIKE '%pg_sleep%'`, pgtest.UserAppRoleName).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("no statement of the app role started sleeping")
		case <-time.After(10 * time.Millisecond):
		}
	}
}
