package taskapi

import (
	"context"
	"errors"
	"strings"

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
	msgAdminOnly        = "only admins may list the audit log"
	msgShowDeleted      = "only admins may list deleted tasks (show_deleted)"
)

// status turns an error of the domain layer into the gRPC status the client
// gets: the one place where that happens. Requests the rules refuse name
// the request field concerned; what no rule of the domain explains
// (deadlines, an unavailable database, anything unexpected) is
// grpcerr.Fallback's, so no SQL or stack reaches a client. Wrapped status
// errors of other services count as unexpected: their codes and messages are
// not this service's answer.
func (s *Server) status(ctx context.Context, err error) error {
	if ie := (*task.ItemError)(nil); errors.As(err, &ie) {
		return inItem(ie.Index, s.status(ctx, ie.Err))
	}
	switch {
	case errors.Is(err, task.ErrNotFound):
		return status.Error(codes.NotFound, msgNotFound)
	case errors.Is(err, task.ErrPermissionDenied):
		return status.Error(codes.PermissionDenied, msgPermissionDenied)
	case errors.Is(err, task.ErrAdminOnly):
		return status.Error(codes.PermissionDenied, msgAdminOnly)
	case errors.Is(err, task.ErrShowDeletedAdminOnly):
		return status.Error(codes.PermissionDenied, msgShowDeleted)
	case errors.Is(err, task.ErrNotDeleted):
		return failedPrecondition("id", "the task is not deleted")
	case errors.Is(err, task.ErrInvalidFeedToken):
		return invalid("since", "invalid, or another user's change feed token")
	case errors.Is(err, task.ErrResync):
		return failedPrecondition("since", "resync: the token is older than the change feed's retention; reread the tasks (ListTasks) and start again without since")
	case errors.Is(err, task.ErrTooManyWatches):
		return status.Error(codes.ResourceExhausted, "too many watches open for this user; close one and retry")
	case errors.Is(err, task.ErrTooManyWatchers):
		return status.Error(codes.ResourceExhausted, "the server has too many watches open; retry later, with the last token")
	case errors.Is(err, task.ErrSlowConsumer):
		return status.Error(codes.ResourceExhausted, "the watcher did not read what was sent in time; reconnect with the last token received")
	case errors.Is(err, task.ErrStopping):
		return status.Error(codes.Unavailable, "the server is stopping; reconnect with the last token received")
	case errors.Is(err, task.ErrInvalidWebhookURL):
		return invalid("url", webhookURLReason(err))
	case errors.Is(err, task.ErrInvalidWebhookSecret):
		return invalid("secret", `must be "whsec_" and the base64 of 24 to 64 random bytes`)
	case errors.Is(err, task.ErrWebhookNotFound):
		return status.Error(codes.NotFound, "webhook not found")
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
	case errors.Is(err, task.ErrInvalidOrder):
		return invalid("order_by", `must be one of created_at, updated_at, due_date, priority, optionally followed by " asc" or " desc", or, with q, relevance`)
	case errors.Is(err, task.ErrRelevanceNeedsSearch):
		return invalid("order_by", "relevance orders the results of a search: give q")
	case errors.Is(err, task.ErrEmptySearch):
		return invalid("q", "has no word to find: it is empty, or has only stop words or excluded (-word) words")
	case errors.Is(err, task.ErrBatchSize):
		return invalid("requests", "must have 1 to 100 items")
	case errors.Is(err, task.ErrDuplicateRequestID):
		return invalid("request_id", "repeats the request_id of an earlier item")
	case errors.Is(err, task.ErrDuplicateTask):
		return invalid("", "names the same task as an earlier item")
	case errors.Is(err, task.ErrInvalidPageToken):
		return invalid("page_token", "invalid, or issued for other filters or another order_by")
	case errors.Is(err, task.ErrRequestIDReused):
		return failedPrecondition("request_id", "was used in the last 24 hours with a different task")
	case errors.Is(err, task.ErrInvalidAssignee):
		return failedPrecondition("assignee_id", "no active user has this id")
	case errors.Is(err, task.ErrUserServiceUnavailable):
		return status.Error(codes.Unavailable, msgUnavailable)
	default:
		return grpcerr.Fallback(ctx, s.log, err)
	}
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

// webhookURLReason is the guard's explanation of a refused webhook URL:
// its own message, which names the rule (scheme, address kind) and never
// carries internal detail.
func webhookURLReason(err error) string {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if rest, ok := strings.CutPrefix(e.Error(), task.ErrInvalidWebhookURL.Error()+": "); ok {
			return rest
		}
	}
	return "must be an https:// URL that reaches a public address"
}
