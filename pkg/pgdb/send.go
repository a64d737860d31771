package pgdb

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Retry says whether Send and InTx may run their statements a second time
// after the first attempt failed because of the connection.
type Retry int

const (
	// RetryIfNotSent is for writes that must not run twice: they are sent
	// again only when the first attempt failed before anything reached the
	// server (pgconn.SafeToRetry).
	RetryIfNotSent Retry = iota
	// RetrySafe is for reads, and for writes that are idempotent by
	// construction (a create carrying a request id): they are sent again
	// after any connection failure.
	RetrySafe
)

// Send runs one round trip: a pgx batch whose first statement sets the
// statement timeout and settings for the batch's (implicit) transaction,
// followed by the statements queue adds. read then reads the results of
// those statements, in order (the settings result is consumed before it is
// called). The transaction commits when every statement succeeds; read must
// not keep br.
//
// A connection-level failure (the server terminated the session, the
// connection broke, the server could not be reached) is retried once, on a
// connection that has just answered a ping, when retry allows it; queue and
// read are then called again, so read must assign its results rather than
// append to them. What still fails is returned wrapped in ErrUnavailable; a
// statement timeout in ErrStatementTimeout; see the error variables.
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
		return errors.Join(err, br.Close())
	}
	return db.withRetry(ctx, retry, func(conn *pgxpool.Conn) error {
		if conn == nil {
			return run(db.Pool)
		}
		return run(conn)
	})
}

// InTx runs fn in an explicit transaction whose first statement sets the
// statement timeout and settings. The transaction commits when fn returns
// nil and rolls back otherwise; fn must not keep tx. It costs at least three
// round trips (BEGIN with the settings, fn's statements, COMMIT): prefer
// Send unless fn must see a result before it sends its next statement.
// Connection failures are retried, and errors wrapped, as Send does; on a
// retry fn runs again from the start.
func (db *DB) InTx(ctx context.Context, retry Retry, settings []Setting, fn func(tx pgx.Tx) error) error {
	names, values := db.settingsArgs(settings)
	body := func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, setConfigSQL, names, values); err != nil {
			return fmt.Errorf("set transaction settings: %w", err)
		}
		return fn(tx)
	}
	return db.withRetry(ctx, retry, func(conn *pgxpool.Conn) error {
		if conn == nil {
			return pgx.BeginFunc(ctx, db.Pool, body)
		}
		return pgx.BeginFunc(ctx, conn, body)
	})
}

// sender is what Send needs of a pool or a connection.
type sender interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// withRetry runs attempt on the pool (conn nil) and, when it fails at the
// connection level and retry allows it, once more on a fresh connection. The
// error returned is translated.
func (db *DB) withRetry(ctx context.Context, retry Retry, attempt func(conn *pgxpool.Conn) error) error {
	err := attempt(nil)
	if err == nil || ctx.Err() != nil {
		return translate(ctx, err)
	}
	if isConnectionFailure(err) {
		// The other idle connections probably died with this one (a
		// restart, or an administrator ending sessions): drop them now, so
		// that the calls after this one do not fail the same way.
		db.dropDeadIdle(ctx)
	}
	if !retryable(err, retry) {
		return translate(ctx, err)
	}
	conn, cerr := db.freshConn(ctx)
	if cerr != nil {
		return translate(ctx, errors.Join(err, cerr))
	}
	defer conn.Release()
	return translate(ctx, attempt(conn))
}

// retryable reports whether err allows a second attempt under retry.
func retryable(err error, retry Retry) bool {
	if pgconn.SafeToRetry(err) {
		return true
	}
	return retry == RetrySafe && isConnectionFailure(err)
}

// freshConn acquires a connection that answers a ping. A failure at the
// connection level usually means that the other idle connections of the
// pool are dead too (the server restarted, or terminated them): each one
// that fails its ping is closed and dropped, until the pool hands out a live
// one or opens a new one. It gives up after as many tries as the pool has
// connections, plus one.
func (db *DB) freshConn(ctx context.Context) (*pgxpool.Conn, error) {
	tries := int(db.Pool.Stat().TotalConns()) + 1
	var err error
	for range tries {
		var conn *pgxpool.Conn
		conn, err = db.Pool.Acquire(ctx)
		if err != nil {
			return nil, fmt.Errorf("acquire a connection: %w", err)
		}
		if err = conn.Ping(ctx); err == nil {
			return conn, nil
		}
		// Take the dead connection out of the pool and close it.
		_ = conn.Hijack().Close(ctx)
	}
	return nil, fmt.Errorf("no live connection after %d tries: %w", tries, err)
}

// dropDeadIdle pings every idle connection of the pool and closes those that
// do not answer.
func (db *DB) dropDeadIdle(ctx context.Context) {
	for _, conn := range db.Pool.AcquireAllIdle(ctx) {
		if conn.Ping(ctx) != nil {
			_ = conn.Hijack().Close(ctx)
			continue
		}
		conn.Release()
	}
}
