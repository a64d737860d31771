package taskstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/services/task/internal/task"
)

// settingShowDeleted is the per-transaction setting that makes deleted
// tasks visible under task_select (migration 00009).
const settingShowDeleted = "app.show_deleted"

const (
	// undeleteSQL brings back a task deleted less than retention ago; like
	// deleteSQL it runs with app.show_deleted.
	undeleteSQL = `
UPDATE task SET deleted_at = NULL, version = version + 1
WHERE id = @id::bigint
  AND deleted_at IS NOT NULL
  AND deleted_at > now() - @retention_seconds::bigint * interval '1 second'
  AND (@admin::boolean OR created_by = @uid::bigint)
RETURNING ` + columns

	// purgeSQL deletes the tasks deleted longer than retention ago (task
	// set 00009; SECURITY DEFINER, at least a day).
	purgeSQL = `SELECT task_purge(@retention_seconds::bigint * interval '1 second')`
)

// Undelete clears the task's deleted_at when it was deleted less than
// retention ago and c is its creator or an admin.
func (s *Store) Undelete(ctx context.Context, c task.Caller, id int64, retention time.Duration) (task.Task, error) {
	args := callerArgs(c)
	args["id"] = id
	args["retention_seconds"] = int64(retention / time.Second)
	var t task.Task
	// As for Update: a second run would be a second version (or find the
	// task live and answer NotFound).
	err := s.send(ctx, pgdb.RetryIfNotSent, showDeleted(settings(ctx, c)), func(b *pgx.Batch) { b.Queue(undeleteSQL, args) }, func(br pgx.BatchResults) error {
		var err error
		t, err = scanTask(br.QueryRow())
		return err
	})
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			err = task.ErrNotFound
		}
		return task.Task{}, fmt.Errorf("taskstore undelete: %w", err)
	}
	return t, nil
}

// PurgeDeleted deletes for good the tasks deleted longer than retention
// ago (at least a day) and returns how many; their audit history stays. A
// second run finds them gone.
func (s *Store) PurgeDeleted(ctx context.Context, retention time.Duration) (int64, error) {
	var n int64
	err := s.db.Send(ctx, pgdb.RetrySafe, nil, func(b *pgx.Batch) {
		b.Queue(purgeSQL, pgx.NamedArgs{"retention_seconds": int64(retention / time.Second)})
	}, func(br pgx.BatchResults) error { return br.QueryRow().Scan(&n) })
	if err != nil {
		return 0, fmt.Errorf("taskstore purge deleted tasks: %w", err)
	}
	return n, nil
}
