package taskapi

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/todo-platform/todo/pkg/auth/grpcauth"
	"github.com/todo-platform/todo/pkg/grpcerr"
	"github.com/todo-platform/todo/services/task/internal/task"
)

// Status messages.
const (
	msgNotFound         = "task not found"
	msgPermissionDenied = "only the task's creator or an admin may do this; its assignee may only read it and change its status"
	msgEtagMismatch     = "the task changed since it was read (etag mismatch); read it again and retry"
	msgConflict         = "the task changed concurrently; retry"
	msgUnavailable      = "the user service is unavailable; retry later"
	msgDeadline         = "deadline exceeded"
	msgCanceled         = "request cancelled"
)

// sqlstateQueryCanceled is PostgreSQL's query_canceled, raised when
// statement_timeout fires (or a cancel request arrives).
const sqlstateQueryCanceled = "57014"

// status turns an error of the domain layer into the gRPC status the client
// gets: the one place where that happens. Requests the rules refuse name
// the request field concerned; a deadline or a cancellation (the caller's,
// or the database's statement_timeout, SQLSTATE 57014) is DeadlineExceeded
// or Canceled; anything unexpected is logged and becomes Internal "internal
// error", so no SQL or stack reaches a client.
func (s *Server) status(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, task.ErrNotFound):
		return status.Error(codes.NotFound, msgNotFound)
	case errors.Is(err, task.ErrPermissionDenied):
		return status.Error(codes.PermissionDenied, msgPermissionDenied)
	case errors.Is(err, task.ErrEtagMismatch):
		return status.Error(codes.Aborted, msgEtagMismatch)
	case errors.Is(err, task.ErrConflict):
		return status.Error(codes.Aborted, msgConflict)
	case errors.Is(err, task.ErrTitleRequired):
		return invalid("task.title", "must not be empty")
	case errors.Is(err, task.ErrInvalidStatus):
		return invalid("task.status", "unknown status")
	case errors.Is(err, task.ErrInvalidPriority):
		return invalid("task.priority", "unknown priority")
	case errors.Is(err, task.ErrNothingToUpdate):
		return invalid("update_mask", "names no field to update, and the task sets none")
	case errors.Is(err, task.ErrInvalidOrderBy):
		return invalid("order_by", task.ErrInvalidOrderBy.Error())
	case errors.Is(err, task.ErrInvalidPageToken):
		return invalid("page_token", "invalid, or issued for other filters or another order_by")
	case errors.Is(err, task.ErrRequestIDReused):
		return failedPrecondition("request_id", "was used in the last 24 hours with a different task")
	case errors.Is(err, task.ErrInvalidAssignee):
		return failedPrecondition("assignee_id", "no active user has this id")
	case errors.Is(err, task.ErrUserServiceUnavailable):
		return status.Error(codes.Unavailable, msgUnavailable)
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, msgDeadline)
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, msgCanceled)
	case isQueryCanceled(err):
		// The server's statement_timeout ran out (a cancel request for a
		// caller that gave up is caught above as context.Canceled or
		// context.DeadlineExceeded).
		return status.Error(codes.DeadlineExceeded, msgDeadline)
	default:
		// Including wrapped status errors of other services: their codes
		// and messages are not this service's answer.
		return grpcerr.Internal(ctx, s.log, err)
	}
}

// isQueryCanceled reports whether err carries PostgreSQL's query_canceled.
func isQueryCanceled(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == sqlstateQueryCanceled
}

// failedPrecondition is FailedPrecondition naming one field.
func failedPrecondition(field, description string) error {
	fv := grpcerr.FieldViolation{Field: field, Description: description}
	return grpcerr.FailedPrecondition(grpcerr.Message(fv), fv)
}

// unauthenticated is returned when a method runs without a principal, which
// the auth interceptor prevents.
func unauthenticated() error {
	return status.Error(codes.Unauthenticated, grpcauth.UnauthenticatedMessage)
}
