package pgdb

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Retry says whether Send and InTx may run their statements a second time
// after the first attempt failed because of the connection.
type Retry int

const (
	// RetryIfNotSent is for writes that must not run twice: they are sent
	// again only when the first attempt cannot have taken effect, because it
	// failed before anything reached the server (pgconn.SafeToRetry) or, in
	// InTx, before COMMIT was sent.
	RetryIfNotSent Retry = iota
	// RetrySafe is for reads, and for writes that are idempotent by
	// construction (a create carrying a request id): they are sent again
	// after any connection failure.
	RetrySafe
)

// String returns the constant's name.
func (r Retry) String() string {
	switch r {
	case RetryIfNotSent:
		return "RetryIfNotSent"
	case RetrySafe:
		return "RetrySafe"
	}
	return fmt.Sprintf("Retry(%d)", int(r))
}

// Send runs one round trip: a pgx batch whose first statement sets the
// statement timeout and settings for the batch's (implicit) transaction,
// followed by the statements queue adds. read then reads the results of
// those statements, in order (the settings result is consumed before it is
// called). The transaction commits when every statement succeeds, whatever
// read returns; read must not keep br. The error returned is read's, joined
// with the batch's own failure when that is a different one.
//
// A connection-level failure (the server terminated the session, the
// connection broke, the server could not be reached) is retried once, on a
// connection that has just answered a ping, when retry allows it. The
// statements of a batch travel together, so under RetryIfNotSent the batch
// is sent again only when the first attempt failed before anything was
// sent. On a retry queue and read are called again, so read must assign its
// results rather than add to them. What still fails at the connection level
// is returned wrapped in ErrUnavailable, a statement timeout in
// ErrStatementTimeout, a serialization failure in ErrSerialization, and a
// failure after ctx ended in ctx's error.
func (db *DB) Send(ctx context.Context, retry Retry, settings []Setting, queue func(b *pgx.Batch), read func(br pgx.BatchResults) error) error {
	names, values := db.settingsArgs(settings)
	run := func(conn sender) error {
		b := &pgx.Batch{}
		b.Queue(setConfigSQL, names, values)
		queue(b)
		br := conn.SendBatch(ctx, b)
		_, err := br.Exec()
		if err != nil {
			err = fmt.Errorf("set transaction settings: %w", err)
		} else {
			err = read(br)
		}
		// Close returns the batch's first failure, which read usually
		// returned already: keep it once.
		if cerr := br.Close(); cerr != nil && !errors.Is(err, cerr) {
			err = errors.Join(err, cerr)
		}
		return err
	}
	return db.withRetry(ctx, retry, func(conn *pgxpool.Conn) (bool, error) {
		if conn == nil {
			return true, run(db.Pool)
		}
		return true, run(conn)
	})
}

// InTx runs fn in an explicit transaction whose first statement sets the
// statement timeout and settings. The transaction commits when fn returns
// nil and rolls back otherwise; fn must not keep tx, nor commit or roll it
// back itself. It costs at least four round trips (BEGIN, the settings,
// fn's statements, COMMIT): prefer Send unless fn must see a result before
// it sends its next statement.
//
// Connection failures are retried, and errors wrapped, as Send does, with
// one difference: a transaction whose connection failed before its COMMIT
// was sent did not commit, so it is retried whatever retry says; retry
// decides only for a failure of the COMMIT itself, whose outcome is
// unknown. On a retry fn runs again from the start, so it must not have
// effects outside the transaction that cannot happen twice.
func (db *DB) InTx(ctx context.Context, retry Retry, settings []Setting, fn func(tx pgx.Tx) error) error {
	names, values := db.settingsArgs(settings)
	body := func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, setConfigSQL, names, values); err != nil {
			return fmt.Errorf("set transaction settings: %w", err)
		}
		return fn(tx)
	}
	return db.withRetry(ctx, retry, func(conn *pgxpool.Conn) (bool, error) {
		if conn == nil {
			return runTx(ctx, db.Pool, body)
		}
		return runTx(ctx, conn, body)
	})
}

// runTx begins a transaction on db, runs body and commits, or rolls back
// when body fails. It reports whether the failure, if any, came from the
// COMMIT: before it nothing of the transaction can have committed.
func runTx(ctx context.Context, db interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}, body func(pgx.Tx) error) (atCommit bool, err error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("begin transaction: %w", err)
	}
	// After a commit this is a no-op (ErrTxClosed); after a failure it
	// ends the transaction, or closes a broken connection.
	defer func() { _ = tx.Rollback(ctx) }()
	if err := body(tx); err != nil {
		return false, err
	}
	return true, tx.Commit(ctx)
}

// sender is what Send needs of a pool or a connection.
type sender interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// withRetry runs attempt on the pool (conn nil) and, when it fails at the
// connection level and retry allows it, once more on a connection that has
// just answered a ping. attempt reports whether its failure may have come
// after its statements took effect. The error returned is translated.
func (db *DB) withRetry(ctx context.Context, retry Retry, attempt func(conn *pgxpool.Conn) (mayHaveTakenEffect bool, err error)) error {
	mayHaveTakenEffect, err := attempt(nil)
	if err == nil || ctx.Err() != nil {
		return translate(ctx, err)
	}
	if !isConnectionFailure(err) {
		return translate(ctx, err)
	}
	// The other idle connections probably died with this one (a restart,
	// or an administrator ending sessions): drop them now, so that the
	// calls after this one do not fail the same way.
	db.dropDeadIdle(ctx)
	if !retryable(err, retry, mayHaveTakenEffect) {
		return translate(ctx, err)
	}
	conn, cerr := db.liveConn(ctx)
	if cerr != nil {
		return translate(ctx, errors.Join(err, cerr))
	}
	defer conn.Release()
	_, err = attempt(conn)
	return translate(ctx, err)
}

// retryable reports whether a connection failure err allows a second
// attempt under retry; mayHaveTakenEffect says whether the attempt can
// have failed after its statements took effect.
func retryable(err error, retry Retry, mayHaveTakenEffect bool) bool {
	return retry == RetrySafe || !mayHaveTakenEffect || notSent(err)
}

// notSent reports whether err is known to have happened before anything
// was sent to the server: pgconn says so, or no connection could be made.
func notSent(err error) bool {
	var connectErr *pgconn.ConnectError
	return pgconn.SafeToRetry(err) || errors.As(err, &connectErr)
}

// liveConn acquires a connection that answers a ping. Each one that fails
// its ping is closed and dropped, until the pool hands out a live one or
// opens a new one. It gives up after as many tries as the pool has
// connections, plus one.
func (db *DB) liveConn(ctx context.Context) (*pgxpool.Conn, error) {
	tries := int(db.Pool.Stat().TotalConns()) + 1
	var err error
	for range tries {
		var conn *pgxpool.Conn
		conn, err = db.Pool.Acquire(ctx)
		if err != nil {
			return nil, fmt.Errorf("acquire a connection: %w", err)
		}
		if err = ping(ctx, conn); err == nil {
			return conn, nil
		}
		conn.Release()
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("no live connection after %d tries: %w", tries, err)
}

// dropDeadIdle pings every idle connection of the pool, all at once, and
// drops those that do not answer. While one sweep runs, other callers do not
// start another (they would find no idle connection to ping anyway).
func (db *DB) dropDeadIdle(ctx context.Context) {
	if !db.sweeping.CompareAndSwap(false, true) {
		return
	}
	defer db.sweeping.Store(false)
	var wg sync.WaitGroup
	for _, conn := range db.Pool.AcquireAllIdle(ctx) {
		wg.Go(func() {
			_ = ping(ctx, conn)
			conn.Release()
		})
	}
	wg.Wait()
}

// pingTimeout bounds one ping of the reconnection, so that a connection
// whose packets a network drops silently holds a call no longer than this
// (a woken-up serverless database answers well within it).
const pingTimeout = 5 * time.Second

// ping pings conn. A connection that fails to answer is closed, so that
// releasing it drops it from the pool, unless the failure is ctx's own:
// a live connection is not closed because the caller gave up.
func ping(ctx context.Context, conn *pgxpool.Conn) error {
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	err := conn.Ping(pctx)
	if err != nil && ctx.Err() == nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Conn().Close(cctx)
	}
	return err
}
