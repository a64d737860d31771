package pgdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/todo-platform/todo/pkg/dberr"
)

// Errors that Send and InTx return (wrapped, with the PostgreSQL error still
// in the chain) for failures that are not the statements' fault; they are
// package dberr's, so that code above the stores can test for them without
// importing the driver. Each service's API layer maps them to a status code
// (grpcerr.Fallback): ErrUnavailable to Unavailable with a retry hint,
// ErrStatementTimeout to DeadlineExceeded, ErrSerialization to Aborted.
var (
	// ErrUnavailable means that the database could not be reached, or that
	// the connection failed and the statements could not be (or were not)
	// sent again.
	ErrUnavailable = dberr.ErrUnavailable
	// ErrStatementTimeout means that the server cancelled a statement that
	// ran longer than the transaction's statement_timeout (SQLSTATE 57014,
	// which an administrator's pg_cancel_backend raises too) while the
	// caller's context was still live.
	ErrStatementTimeout = dberr.ErrStatementTimeout
	// ErrSerialization means that the transaction lost a serialization or
	// deadlock conflict (SQLSTATE 40001, 40P01) and may be retried as a
	// whole.
	ErrSerialization = dberr.ErrSerialization
)

// ConstraintViolation describes a failed integrity constraint: its kind, as
// a SQLSTATE (pgerrcode.UniqueViolation, ForeignKeyViolation,
// CheckViolation, NotNullViolation, ExclusionViolation), and the name of the
// constraint or unique index (empty when the server names none, as for most
// NOT NULL violations).
type ConstraintViolation struct {
	Code       string
	Constraint string
}

// Violation returns the integrity constraint err (or an error it wraps)
// violates, and whether it is such a violation.
func Violation(err error) (ConstraintViolation, bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgerrcode.IsIntegrityConstraintViolation(pgErr.Code) {
		return ConstraintViolation{Code: pgErr.Code, Constraint: pgErr.ConstraintName}, true
	}
	return ConstraintViolation{}, false
}

// IsUniqueViolation reports whether err is (or wraps) a unique violation
// of constraint (or unique index) name.
func IsUniqueViolation(err error, name string) bool {
	return isViolation(err, pgerrcode.UniqueViolation, name)
}

// IsForeignKeyViolation reports whether err is (or wraps) a violation of
// foreign key constraint name.
func IsForeignKeyViolation(err error, name string) bool {
	return isViolation(err, pgerrcode.ForeignKeyViolation, name)
}

// IsCheckViolation reports whether err is (or wraps) a violation of CHECK
// constraint name.
func IsCheckViolation(err error, name string) bool {
	return isViolation(err, pgerrcode.CheckViolation, name)
}

func isViolation(err error, code, name string) bool {
	v, ok := Violation(err)
	return ok && v.Code == code && v.Constraint == name
}

// isConnectionFailure reports whether err says the connection, not the
// statement, failed: the server could not be reached or refused new
// connections, it terminated the session (administrator command, crash,
// shutdown, idle-session timeout), or the connection broke.
func isConnectionFailure(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case pgerrcode.AdminShutdown, pgerrcode.CrashShutdown, pgerrcode.CannotConnectNow,
			pgerrcode.IdleSessionTimeout, pgerrcode.TooManyConnections:
			return true
		}
		return pgerrcode.IsConnectionException(pgErr.Code)
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return pgconn.SafeToRetry(err) ||
		errors.As(err, &connectErr) ||
		errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// translate wraps the errors the services answer alike whatever the
// statement: connection failures in ErrUnavailable, a statement timeout in
// ErrStatementTimeout, a serialization failure or deadlock in
// ErrSerialization. When ctx is done, the context's own error is what
// counts: err is returned wrapped in it (or as it is, when it already is
// ctx's error), so that the caller's cancellation or deadline is not
// reported as the database's. Anything else is returned as it is.
func translate(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		if errors.Is(err, cerr) {
			return err
		}
		return fmt.Errorf("%w (%w)", cerr, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case pgerrcode.QueryCanceled:
			return fmt.Errorf("%w: %w", ErrStatementTimeout, err)
		case pgerrcode.SerializationFailure, pgerrcode.DeadlockDetected:
			return fmt.Errorf("%w: %w", ErrSerialization, err)
		}
	}
	if isConnectionFailure(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}
