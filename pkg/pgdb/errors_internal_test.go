package pgdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"
)

// notSentErr is an error that says, as pgconn's own do, that it happened
// before anything was sent.
type notSentErr struct{}

func (notSentErr) Error() string     { return "failed before sending" }
func (notSentErr) SafeToRetry() bool { return true }

func pgErr(code string) error {
	return fmt.Errorf("run statement: %w", &pgconn.PgError{Severity: "ERROR", Code: code, Message: "message of " + code})
}

func TestIsConnectionFailure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"admin shutdown (pg_terminate_backend)", pgErr(pgerrcode.AdminShutdown), true},
		{"crash shutdown", pgErr(pgerrcode.CrashShutdown), true},
		{"cannot connect now (starting up)", pgErr(pgerrcode.CannotConnectNow), true},
		{"idle session timeout", pgErr(pgerrcode.IdleSessionTimeout), true},
		{"too many connections", pgErr(pgerrcode.TooManyConnections), true},
		{"connection failure (class 08)", pgErr(pgerrcode.ConnectionFailure), true},
		{"unable to establish connection (class 08)", pgErr(pgerrcode.SQLClientUnableToEstablishSQLConnection), true},
		{"unexpected EOF", fmt.Errorf("receive message: %w", io.ErrUnexpectedEOF), true},
		{"EOF", io.EOF, true},
		{"connection reset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, true},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"failed before sending", notSentErr{}, true},
		{"unique violation", pgErr(pgerrcode.UniqueViolation), false},
		{"statement timeout", pgErr(pgerrcode.QueryCanceled), false},
		{"serialization failure", pgErr(pgerrcode.SerializationFailure), false},
		{"undefined table", pgErr(pgerrcode.UndefinedTable), false},
		{"invalid password", pgErr(pgerrcode.InvalidPassword), false},
		{"a Go error", errors.New("scan: wrong type"), false},
	} {
		if got := isConnectionFailure(tc.err); got != tc.want {
			t.Errorf("%s: isConnectionFailure(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

func TestRetryable(t *testing.T) {
	t.Parallel()
	sent := pgErr(pgerrcode.AdminShutdown) // received after the statements went out
	_, connectErr := pgconn.Connect(t.Context(), "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=5")
	if ce := (*pgconn.ConnectError)(nil); !errors.As(connectErr, &ce) {
		t.Fatalf("connect to a closed port: %v, want a *pgconn.ConnectError", connectErr)
	}
	for _, tc := range []struct {
		name               string
		err                error
		retry              Retry
		mayHaveTakenEffect bool
		want               bool
	}{
		{"read, sent", sent, RetrySafe, true, true},
		{"read, not sent", notSentErr{}, RetrySafe, true, true},
		{"write, sent", sent, RetryIfNotSent, true, false},
		{"write, not sent", notSentErr{}, RetryIfNotSent, true, true},
		{"write, no connection made", fmt.Errorf("acquire: %w", connectErr), RetryIfNotSent, true, true},
		{"write in a transaction that failed before COMMIT", sent, RetryIfNotSent, false, true},
	} {
		if got := retryable(tc.err, tc.retry, tc.mayHaveTakenEffect); got != tc.want {
			t.Errorf("%s: retryable(%v, %v, %v) = %v, want %v", tc.name, tc.err, tc.retry, tc.mayHaveTakenEffect, got, tc.want)
		}
	}
}

func TestTranslate(t *testing.T) {
	t.Parallel()
	live := context.Background()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancelExpired := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancelExpired()

	sentinels := []error{ErrUnavailable, ErrStatementTimeout, ErrSerialization, context.Canceled, context.DeadlineExceeded}
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want error // nil: none of sentinels
	}{
		{"statement timeout", live, pgErr(pgerrcode.QueryCanceled), ErrStatementTimeout},
		{"serialization failure", live, pgErr(pgerrcode.SerializationFailure), ErrSerialization},
		{"deadlock", live, pgErr(pgerrcode.DeadlockDetected), ErrSerialization},
		{"terminated session", live, pgErr(pgerrcode.AdminShutdown), ErrUnavailable},
		{"broken connection", live, io.ErrUnexpectedEOF, ErrUnavailable},
		{"unique violation", live, pgErr(pgerrcode.UniqueViolation), nil},
		{"a Go error", live, errors.New("scan: wrong type"), nil},
		{"canceled during a statement", canceled, pgErr(pgerrcode.QueryCanceled), context.Canceled},
		{"canceled, connection closed", canceled, io.ErrUnexpectedEOF, context.Canceled},
		{"canceled before sending", canceled, notSentErr{}, context.Canceled},
		{"canceled, the context's error", canceled, fmt.Errorf("read: %w", context.Canceled), context.Canceled},
		{"deadline during a statement", expired, pgErr(pgerrcode.QueryCanceled), context.DeadlineExceeded},
		{"deadline, connection closed", expired, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, context.DeadlineExceeded},
	} {
		got := translate(tc.ctx, tc.err)
		for _, s := range sentinels {
			if want := s == tc.want; errors.Is(got, s) != want {
				t.Errorf("%s: errors.Is(translate(%v), %v) = %v, want %v", tc.name, tc.err, s, !want, want)
			}
		}
		if !errors.Is(got, tc.err) {
			t.Errorf("%s: translate(%v) = %v, which does not wrap the error", tc.name, tc.err, got)
		}
	}
	if err := translate(canceled, nil); err != nil {
		t.Errorf("translate(canceled, nil) = %v, want nil", err)
	}
}

func TestViolationHelpersMatchTheExactName(t *testing.T) {
	t.Parallel()
	unique := fmt.Errorf("create user: %w", &pgconn.PgError{Code: pgerrcode.UniqueViolation, ConstraintName: "idx_users_email_lower"})
	if v, ok := Violation(unique); !ok || v != (ConstraintViolation{Code: pgerrcode.UniqueViolation, Constraint: "idx_users_email_lower"}) {
		t.Errorf("Violation(%v) = %+v, %v", unique, v, ok)
	}
	for _, tc := range []struct {
		name string
		got  bool
		want bool
	}{
		{"unique, exact name", IsUniqueViolation(unique, "idx_users_email_lower"), true},
		{"unique, a prefix of the name", IsUniqueViolation(unique, "idx_users_email"), false},
		{"check, a unique violation", IsCheckViolation(unique, "idx_users_email_lower"), false},
		{"foreign key, a unique violation", IsForeignKeyViolation(unique, "idx_users_email_lower"), false},
		{"check", IsCheckViolation(&pgconn.PgError{Code: pgerrcode.CheckViolation, ConstraintName: "task_status_check"}, "task_status_check"), true},
		{"foreign key", IsForeignKeyViolation(&pgconn.PgError{Code: pgerrcode.ForeignKeyViolation, ConstraintName: "task_assigned_to_fkey"}, "task_assigned_to_fkey"), true},
		{"not an integrity violation", IsUniqueViolation(pgErr(pgerrcode.QueryCanceled), ""), false},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if _, ok := Violation(pgErr(pgerrcode.AdminShutdown)); ok {
		t.Error("Violation(admin shutdown) reports a constraint violation")
	}
}
