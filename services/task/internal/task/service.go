package task

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// RequestIDTTL is how long a create's request_id is remembered: a create
// repeating a request_id older than this is a new create.
const RequestIDTTL = 24 * time.Hour

// Idempotency identifies a create for retries: the same caller sending the
// same RequestID within TTL gets the first task back.
type Idempotency struct {
	// RequestID is the client's UUID for the create.
	RequestID string
	// Fingerprint identifies the normalized NewTask; a repeat with another
	// fingerprint is ErrRequestIDReused.
	Fingerprint []byte
	// TTL is RequestIDTTL.
	TTL time.Duration
}

// Service applies the task rules on top of a Store and a UserDirectory.
type Service struct {
	store   Store
	users   UserDirectory
	metrics Metrics
	// retention is how long a deleted task can be undeleted (0: the
	// default).
	retention time.Duration
	// feedRetention is how long feed tokens stay valid (0: the default).
	feedRetention time.Duration
	// watch counts and paces the open watches (SetWatch).
	watch *watchers
	// webhookGuard checks webhook URLs (SetWebhookGuard).
	webhookGuard URLGuard
}

// NewService returns a Service over store and users.
func NewService(store Store, users UserDirectory) *Service {
	s := &Service{store: store, users: users}
	s.SetWatch(WatchConfig{})
	return s
}

// Create creates a task owned by c. Empty Status and Priority mean pending
// and medium; a blank title is ErrTitleRequired. A non-empty requestID makes
// the create idempotent for RequestIDTTL: a repeat by the same caller with
// the same task returns the first task and writes nothing; with a different
// task it is ErrRequestIDReused.
func (s *Service) Create(ctx context.Context, c Caller, n NewTask, requestID string) (Task, error) {
	n, err := n.normalize()
	if err != nil {
		return Task{}, err
	}
	var idem *Idempotency
	if requestID != "" {
		idem = &Idempotency{RequestID: requestID, Fingerprint: n.fingerprint(), TTL: RequestIDTTL}
	}
	t, err := s.store.Create(ctx, c, n, idem)
	if err != nil {
		return Task{}, fmt.Errorf("create task: %w", err)
	}
	inc(s.metrics.TasksCreated)
	return t, nil
}

// Get returns the task with id if c may see it, and ErrNotFound otherwise.
func (s *Service) Get(ctx context.Context, c Caller, id int64) (Task, error) {
	t, err := s.store.Get(ctx, c, id)
	if err != nil {
		return Task{}, fmt.Errorf("get task %d: %w", id, err)
	}
	return t, nil
}

// List returns one page of the tasks c may see that match r.Filter, in the
// order r.OrderBy names, starting after r.PageToken (which must come from a
// listing with the same filter and order: ErrInvalidPageToken otherwise).
func (s *Service) List(ctx context.Context, c Caller, r ListRequest) (Page, error) {
	f, err := r.Filter.normalize()
	if err != nil {
		return Page{}, err
	}
	if f.ShowDeleted && !c.Admin {
		return Page{}, ErrShowDeletedAdminOnly
	}
	if r.Search != nil {
		s, err := ParseSearch(*r.Search)
		if err != nil {
			return Page{}, err
		}
		f.Search = &s
	}
	o, err := ParseOrder(r.OrderBy)
	if err != nil {
		return Page{}, err
	}
	if o.Key == SortRelevance && f.Search == nil {
		return Page{}, ErrRelevanceNeedsSearch
	}
	q := Query{Filter: f, Order: o, Limit: r.PageSize}
	switch {
	case q.Limit <= 0:
		q.Limit = DefaultPageSize
	case q.Limit > MaxPageSize:
		q.Limit = MaxPageSize
	}
	if r.PageToken != "" {
		cur, err := DecodePageToken(r.PageToken, f, o)
		if err != nil {
			return Page{}, err
		}
		q.After = &cur
	}
	size := q.Limit
	q.Limit++ // one more tells whether there is a next page
	tasks, err := s.store.List(ctx, c, q)
	if err != nil {
		return Page{}, fmt.Errorf("list tasks: %w", err)
	}
	p := Page{Tasks: tasks}
	if len(tasks) > size {
		p.Tasks = tasks[:size]
		p.NextPageToken = EncodePageToken(f, o, CursorOf(p.Tasks[size-1], o))
	}
	return p, nil
}

// Update changes the fields of p on the task p.ID when c may (the creator
// and admins any field, the assignee only the status) and p.If holds
// (ErrEtagMismatch otherwise). It returns the task as written.
func (s *Service) Update(ctx context.Context, c Caller, p Patch) (Task, error) {
	p, err := p.normalize()
	if err != nil {
		return Task{}, err
	}
	t, err := s.store.Update(ctx, c, p)
	if errors.Is(err, ErrNotFound) {
		err = s.whyNotUpdate(ctx, c, p)
	}
	if err != nil {
		return Task{}, fmt.Errorf("update task %d: %w", p.ID, err)
	}
	return t, nil
}

// Assign gives the task id to the user assignee, or to nobody when assignee
// is 0, when c is its creator or an admin and cond holds. The assignee must
// be an active user (ErrInvalidAssignee); when the user directory cannot
// tell, the task is left unchanged (ErrUserServiceUnavailable).
func (s *Service) Assign(ctx context.Context, c Caller, id, assignee int64, cond Condition) (Task, error) {
	t, err := s.store.Get(ctx, c, id)
	if err != nil {
		return Task{}, fmt.Errorf("assign task %d: %w", id, err)
	}
	if err := Authorize(c, t, ActionAssign); err != nil {
		return Task{}, fmt.Errorf("assign task %d: %w", id, err)
	}
	if !cond.Holds(t) {
		return Task{}, fmt.Errorf("assign task %d: %w", id, ErrEtagMismatch)
	}
	if assignee != 0 {
		if err := s.users.CheckAssignee(ctx, assignee); err != nil {
			return Task{}, fmt.Errorf("assign task %d: check assignee %d: %w", id, assignee, err)
		}
	}
	t, err = s.store.Assign(ctx, c, id, assignee, cond)
	if errors.Is(err, ErrNotFound) {
		err = s.whyNot(ctx, c, id, ActionAssign, cond)
	}
	if err != nil {
		return Task{}, fmt.Errorf("assign task %d: %w", id, err)
	}
	return t, nil
}

// Delete marks the task id deleted (see Store.Delete; Undelete brings it
// back within DeletedRetention) when c is its creator or an admin and cond
// holds.
func (s *Service) Delete(ctx context.Context, c Caller, id int64, cond Condition) error {
	err := s.store.Delete(ctx, c, id, cond)
	if errors.Is(err, ErrNotFound) {
		err = s.whyNot(ctx, c, id, ActionDelete, cond)
	}
	if err != nil {
		return fmt.Errorf("delete task %d: %w", id, err)
	}
	return nil
}

// Stats summarises the tasks c created.
func (s *Service) Stats(ctx context.Context, c Caller) (Stats, error) {
	st, err := s.store.Stats(ctx, c)
	if err != nil {
		return Stats{}, fmt.Errorf("task stats: %w", err)
	}
	return st, nil
}

// whyNot explains a conditional write that matched no row: the task is not
// visible (ErrNotFound), c may not do a (ErrPermissionDenied or ErrNotFound,
// per Authorize), the condition failed (ErrEtagMismatch), or, when all of
// these now pass, a concurrent write got in between (ErrConflict).
func (s *Service) whyNot(ctx context.Context, c Caller, id int64, a Action, cond Condition) error {
	t, err := s.store.Get(ctx, c, id)
	if err != nil {
		return err
	}
	return explain(c, t, a, cond)
}

// whyNotUpdate is whyNot for an update, whose action depends on what it
// would change in the task as it is now.
func (s *Service) whyNotUpdate(ctx context.Context, c Caller, p Patch) error {
	t, err := s.store.Get(ctx, c, p.ID)
	if err != nil {
		return err
	}
	return explain(c, t, ActionFor(p.Changes(t)), p.If)
}

// explain returns why doing a to t under cond failed although t exists.
func explain(c Caller, t Task, a Action, cond Condition) error {
	if err := Authorize(c, t, a); err != nil {
		return err
	}
	if !cond.Holds(t) {
		return ErrEtagMismatch
	}
	return ErrConflict
}
