package task

import "errors"

// Errors of the domain. Callers test for them with errors.Is; the store and
// the Service wrap them with context. Each maps to one gRPC status in taskapi.
var (
	// ErrNotFound: the task does not exist or is not visible to the caller.
	ErrNotFound = errors.New("task not found")
	// ErrPermissionDenied: the caller can see the task but may not do this
	// to it (an assignee changing anything but the status, assigning or
	// deleting).
	ErrPermissionDenied = errors.New("permission denied")
	// ErrAdminOnly: a method only admins may call (ListTaskAuditEvents).
	ErrAdminOnly = errors.New("admins only")
	// ErrEtagMismatch: a conditional write named an etag that is not the
	// task's current one, or the task changed under a concurrent write.
	ErrEtagMismatch = errors.New("etag does not match the task's current etag")
	// ErrShowDeletedAdminOnly: a listing of deleted tasks by a caller who is
	// not an admin.
	ErrShowDeletedAdminOnly = errors.New("only admins may list deleted tasks")
	// ErrNotDeleted: an undelete of a task that is not deleted.
	ErrNotDeleted = errors.New("task is not deleted")
	// ErrConflict: a write found the task changed by a concurrent write
	// between its check and its change; the caller may retry.
	ErrConflict = errors.New("the task changed concurrently; retry")
	// ErrRequestIDReused: a create repeated the request id of one of the
	// last 24 hours with a different task.
	ErrRequestIDReused = errors.New("request id already used with a different task")
	// ErrInvalidAssignee: the assignee does not exist or is not active.
	ErrInvalidAssignee = errors.New("assignee does not exist or is not active")
	// ErrUserServiceUnavailable: the user service could not be asked.
	ErrUserServiceUnavailable = errors.New("user service unavailable")
	// ErrTitleRequired: a task's title is empty or only white space.
	ErrTitleRequired = errors.New("title must not be empty")
	// ErrInvalidStatus: a status that is not one of the defined ones.
	ErrInvalidStatus = errors.New("invalid status")
	// ErrInvalidPriority: a priority that is not one of the defined ones.
	ErrInvalidPriority = errors.New("invalid priority")
	// ErrNothingToUpdate: an update names no field to change.
	ErrNothingToUpdate = errors.New("no field to update")
	// ErrInvalidOrder: an order that is not one of the supported ones (see
	// ParseOrder).
	ErrInvalidOrder = errors.New("unsupported order")
	// ErrInvalidPageToken: a page token that is malformed, was altered, or
	// was issued for other filters or another order.
	ErrInvalidPageToken = errors.New("page token invalid, or issued for other filters or another order")
	// ErrEmptySearch: a search query without a word to find: empty, only
	// stop words, or only excluded words.
	ErrEmptySearch = errors.New("search query has no word to find")
	// ErrRelevanceNeedsSearch: an order by relevance without a search.
	ErrRelevanceNeedsSearch = errors.New("order by relevance needs a search query")
)
