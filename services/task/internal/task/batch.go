package task

import (
	"context"
	"errors"
	"fmt"
)

// MaxBatch is the most items one batch method takes.
const MaxBatch = 100

// Errors of the batch methods.
var (
	// ErrBatchSize: a batch with no item or more than MaxBatch.
	ErrBatchSize = errors.New("a batch takes 1 to 100 items")
	// ErrDuplicateRequestID: two items of a batch create carry the same
	// request id.
	ErrDuplicateRequestID = errors.New("request id repeated within the batch")
	// ErrDuplicateTask: two items of a batch update or delete name the same
	// task.
	ErrDuplicateTask = errors.New("task named twice within the batch")
)

// ItemError is why a batch failed: item Index (from 0, in request order)
// failed with Err, and so nothing of the batch was written.
type ItemError struct {
	Index int
	Err   error
}

// Error says which item failed and why.
func (e *ItemError) Error() string { return fmt.Sprintf("item %d: %v", e.Index, e.Err) }

// Unwrap returns the item's error.
func (e *ItemError) Unwrap() error { return e.Err }

// CreateItem is one task of a batch create: what Create takes.
type CreateItem struct {
	Task      NewTask
	RequestID string
}

// BatchCreateItem is one create as the Store sees it: the normalized task
// and, with a request id, its Idempotency.
type BatchCreateItem struct {
	Task NewTask
	Idem *Idempotency
}

// DeleteItem is one delete of a batch delete: what Delete takes.
type DeleteItem struct {
	ID int64
	If Condition
}

// BatchCreate creates the tasks of items, owned by c, all or none: each
// item is checked as Create checks it, and an item that fails is an
// *ItemError naming it, with nothing created. An item's request id makes
// it idempotent as in Create, so a retried batch returns the tasks of the
// first; the request ids of a batch must differ (ErrDuplicateRequestID).
// The tasks come back in the order of items.
func (s *Service) BatchCreate(ctx context.Context, c Caller, items []CreateItem) ([]Task, error) {
	if len(items) == 0 || len(items) > MaxBatch {
		return nil, ErrBatchSize
	}
	batch := make([]BatchCreateItem, len(items))
	seen := make(map[string]int, len(items))
	for i, it := range items {
		n, err := it.Task.normalize()
		if err != nil {
			return nil, &ItemError{Index: i, Err: err}
		}
		batch[i].Task = n
		if it.RequestID == "" {
			continue
		}
		if _, dup := seen[it.RequestID]; dup {
			return nil, &ItemError{Index: i, Err: ErrDuplicateRequestID}
		}
		seen[it.RequestID] = i
		batch[i].Idem = &Idempotency{RequestID: it.RequestID, Fingerprint: n.fingerprint(), TTL: RequestIDTTL}
	}
	tasks, err := s.store.BatchCreate(ctx, c, batch)
	if err != nil {
		return nil, fmt.Errorf("batch create tasks: %w", err)
	}
	for range tasks {
		inc(s.metrics.TasksCreated)
	}
	return tasks, nil
}

// BatchUpdate applies patches, all or none: each is checked and authorized
// as Update does it, and a patch that fails (a stale etag included) is an
// *ItemError naming it, with nothing changed. Each patch must name another
// task (ErrDuplicateTask). The tasks come back as written, in the order of
// patches.
func (s *Service) BatchUpdate(ctx context.Context, c Caller, patches []Patch) ([]Task, error) {
	if len(patches) == 0 || len(patches) > MaxBatch {
		return nil, ErrBatchSize
	}
	ps := make([]Patch, len(patches))
	seen := make(map[int64]bool, len(patches))
	for i, p := range patches {
		p, err := p.normalize()
		if err != nil {
			return nil, &ItemError{Index: i, Err: err}
		}
		if seen[p.ID] {
			return nil, &ItemError{Index: i, Err: ErrDuplicateTask}
		}
		seen[p.ID] = true
		ps[i] = p
	}
	tasks, err := s.store.BatchUpdate(ctx, c, ps)
	if ie := (*ItemError)(nil); errors.As(err, &ie) && errors.Is(ie.Err, ErrNotFound) {
		err = &ItemError{Index: ie.Index, Err: s.whyNotUpdate(ctx, c, ps[ie.Index])}
	}
	if err != nil {
		return nil, fmt.Errorf("batch update tasks: %w", err)
	}
	return tasks, nil
}

// BatchDelete deletes the tasks of items, all or none: each is authorized
// as Delete does it, and an item that fails (a stale etag included) is an
// *ItemError naming it, with nothing deleted. Each item must name another
// task (ErrDuplicateTask).
func (s *Service) BatchDelete(ctx context.Context, c Caller, items []DeleteItem) error {
	if len(items) == 0 || len(items) > MaxBatch {
		return ErrBatchSize
	}
	seen := make(map[int64]bool, len(items))
	for i, it := range items {
		if seen[it.ID] {
			return &ItemError{Index: i, Err: ErrDuplicateTask}
		}
		seen[it.ID] = true
	}
	err := s.store.BatchDelete(ctx, c, items)
	if ie := (*ItemError)(nil); errors.As(err, &ie) && errors.Is(ie.Err, ErrNotFound) {
		it := items[ie.Index]
		err = &ItemError{Index: ie.Index, Err: s.whyNot(ctx, c, it.ID, ActionDelete, it.If)}
	}
	if err != nil {
		return fmt.Errorf("batch delete tasks: %w", err)
	}
	return nil
}
