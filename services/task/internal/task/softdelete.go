package task

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DefaultDeletedRetention is how long a deleted task can be undeleted
// before the purge removes it for good, unless SetDeletedRetention says
// otherwise.
const DefaultDeletedRetention = 30 * 24 * time.Hour

// SetDeletedRetention sets how long a deleted task can be undeleted. Call it
// before s serves.
func (s *Service) SetDeletedRetention(d time.Duration) { s.retention = d }

// DeletedRetention returns how long a deleted task can be undeleted.
func (s *Service) DeletedRetention() time.Duration {
	if s.retention <= 0 {
		return DefaultDeletedRetention
	}
	return s.retention
}

// Undelete brings back the task id, deleted less than DeletedRetention ago,
// when c is its creator or an admin. A task c cannot see, never had, or
// that is gone for good is ErrNotFound; a live one ErrNotDeleted.
func (s *Service) Undelete(ctx context.Context, c Caller, id int64) (Task, error) {
	t, err := s.store.Undelete(ctx, c, id, s.DeletedRetention())
	if errors.Is(err, ErrNotFound) {
		err = s.whyNotUndelete(ctx, c, id)
	}
	if err != nil {
		return Task{}, fmt.Errorf("undelete task %d: %w", id, err)
	}
	return t, nil
}

// whyNotUndelete explains an undelete that matched no row: a live task the
// caller may delete is ErrNotDeleted (an assignee gets Authorize's answer);
// anything else reads as missing.
func (s *Service) whyNotUndelete(ctx context.Context, c Caller, id int64) error {
	t, err := s.store.Get(ctx, c, id)
	if err != nil {
		return err
	}
	if err := Authorize(c, t, ActionDelete); err != nil {
		return err
	}
	return ErrNotDeleted
}
