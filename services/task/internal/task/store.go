package task

import (
	"context"
	"time"
)

// Store keeps tasks. Every method runs as c: with row-level security set up
// for c, so that it sees and changes only the rows c may see. The write
// methods also apply Authorize's rule to the row they change in the same
// statement; when no row matched (missing, invisible, not permitted, or a
// failed Condition) they return an error wrapping ErrNotFound and change
// nothing.
type Store interface {
	// Create inserts n (normalized) as a task created by c. With idem it
	// returns the task of an earlier create of the same request within its
	// TTL instead of inserting, also when such creates race; a different
	// fingerprint is ErrRequestIDReused.
	Create(ctx context.Context, c Caller, n NewTask, idem *Idempotency) (Task, error)
	// Get returns the task with id, or ErrNotFound.
	Get(ctx context.Context, c Caller, id int64) (Task, error)
	// List returns the page q describes, within the tasks c may see.
	List(ctx context.Context, c Caller, q Query) ([]Task, error)
	// Update writes the fields of p when c may (Authorize with
	// ActionFor(p.Changes(t)) for the task t as it is at the write) and p.If
	// holds; otherwise it is ErrNotFound. A move to completed sets
	// completed_at to the time of the write; a move away from completed
	// clears it.
	Update(ctx context.Context, c Caller, p Patch) (Task, error)
	// Assign sets the task's assignee (0: nobody) when c is its creator or
	// an admin and cond holds.
	Assign(ctx context.Context, c Caller, id, assignee int64, cond Condition) (Task, error)
	// Delete marks the task deleted (DeletedAt, a new version) when c is its
	// creator or an admin and cond holds; from then on it is invisible to
	// every method but Undelete and an admin's List with ShowDeleted.
	Delete(ctx context.Context, c Caller, id int64, cond Condition) error
	// Undelete makes the task live again (a new version) when it was
	// deleted less than retention ago and c is its creator or an admin.
	Undelete(ctx context.Context, c Caller, id int64, retention time.Duration) (Task, error)
	// Stats summarises the tasks c created.
	Stats(ctx context.Context, c Caller) (Stats, error)
	// BatchCreate is Create for every item, in one transaction: all are
	// created (or found by their request ids) or none, and the failure of
	// one (ErrRequestIDReused, or ErrNotFound for a request id whose task
	// was deleted) is an *ItemError naming it. The tasks come in item order.
	BatchCreate(ctx context.Context, c Caller, items []BatchCreateItem) ([]Task, error)
	// BatchUpdate is Update for every patch, in one transaction: all are
	// written or none, and a patch that matched no row is an *ItemError
	// wrapping ErrNotFound. The tasks come in patch order.
	BatchUpdate(ctx context.Context, c Caller, patches []Patch) ([]Task, error)
	// BatchDelete is Delete for every item, in one transaction: all are
	// deleted or none, and an item that matched no row is an *ItemError
	// wrapping ErrNotFound.
	BatchDelete(ctx context.Context, c Caller, items []DeleteItem) error
	// TaskEvents returns the events of the task *q.Filter.TaskID that q
	// selects, newest first, when c can see the task now or, once it is
	// deleted, when c created it or is an admin; ErrNotFound otherwise. Which events c may read is the database's rule (row-level
	// security on the audit table), not only this query's.
	TaskEvents(ctx context.Context, c Caller, q EventQuery) ([]Event, error)
	// AuditEvents returns the events q selects, newest first, among those c
	// may read (for an admin, all of them).
	AuditEvents(ctx context.Context, c Caller, q EventQuery) ([]Event, error)
	// Changes returns, of c's change feed, up to limit changes after pos
	// whose transactions ended before the read (below its horizon), in
	// (XID, ID) order, with the horizon and the time of the read. A limit
	// of 0 reads only the horizon and the time.
	Changes(ctx context.Context, c Caller, pos FeedPosition, limit int) (FeedRead, error)
	// CreateWebhook stores c's webhook.
	CreateWebhook(ctx context.Context, c Caller, url, secret string) (Webhook, error)
	// ListWebhooks returns c's webhooks, oldest first, without secrets.
	ListWebhooks(ctx context.Context, c Caller) ([]Webhook, error)
	// DeleteWebhook deletes c's webhook id, or is ErrWebhookNotFound.
	DeleteWebhook(ctx context.Context, c Caller, id int64) error
	// DryRun returns a Store whose writes run every statement, check and
	// trigger as this one's do and then roll back: they return what they
	// would have written, and fail as they would have failed, but nothing
	// is committed. A create that would insert a new task returns it with
	// ID 0, since its id is not kept.
	DryRun() Store
}

// UserDirectory answers questions about users, which the task service does
// not own.
type UserDirectory interface {
	// CheckAssignee returns nil when user id exists and is active, an error
	// wrapping ErrInvalidAssignee when it does not exist or is inactive, and
	// one wrapping ErrUserServiceUnavailable when the directory could not be
	// asked. It runs within ctx's deadline and on behalf of ctx's caller.
	CheckAssignee(ctx context.Context, id int64) error
}
