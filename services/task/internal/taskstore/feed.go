package taskstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/services/task/internal/task"
)

const (
	// changesSQL reads the caller's feed rows after a position whose
	// transactions ended before the statement's snapshot was taken (xid
	// below its xmin), and that xmin, in one statement: one snapshot, so
	// that no row below the horizon it returns can appear later (task set
	// 00010). It always returns one row; the feed columns are NULL when no
	// change follows the position.
	changesSQL = `
WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS horizon, pg_snapshot_xmax(pg_current_snapshot()) AS next, now() AS now)
SELECT h.horizon::text, h.next::text, h.now, c.id, c.xid::text, c.task_id, c.kind, c.tombstone, c.task, c.created_at
FROM h LEFT JOIN LATERAL (
    SELECT id, xid, task_id, kind, tombstone, task, created_at
    FROM task_change
    WHERE user_id = @uid::bigint
      AND (xid, id) > (@after_xid::text::xid8, @after_id::bigint)
      AND xid < h.horizon
    ORDER BY xid, id
    LIMIT @limit::bigint
) c ON true
ORDER BY c.xid, c.id`

	// sweepChangesSQL deletes the feed rows older than the retention (task
	// set 00010; SECURITY DEFINER, at least 7 days).
	sweepChangesSQL = `SELECT task_change_sweep(@retention_seconds::bigint * interval '1 second')`
)

// taskJSON is a task row as to_jsonb writes it (the feed's task column).
type taskJSON struct {
	ID          int64      `json:"id"`
	Title       string     `json:"title"`
	Description *string    `json:"description"`
	Status      string     `json:"status"`
	Priority    string     `json:"priority"`
	DueDate     *time.Time `json:"due_date"`
	CreatedBy   int64      `json:"created_by"`
	AssignedTo  *int64     `json:"assigned_to"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	CompletedAt *time.Time `json:"completed_at"`
	Version     int64      `json:"version"`
	DeletedAt   *time.Time `json:"deleted_at"`
}

func (j taskJSON) toDomain() task.Task {
	r := taskRow{id: j.ID, title: j.Title, status: j.Status, priority: j.Priority, dueDate: j.DueDate,
		createdBy: j.CreatedBy, createdAt: j.CreatedAt, updatedAt: j.UpdatedAt, completedAt: j.CompletedAt,
		version: j.Version, deletedAt: j.DeletedAt}
	if j.Description != nil {
		r.description = *j.Description
	}
	if j.AssignedTo != nil {
		r.assignedTo = *j.AssignedTo
	}
	return r.toDomain()
}

// Changes reads c's feed after pos (see task.Store).
func (s *Store) Changes(ctx context.Context, c task.Caller, pos task.FeedPosition, limit int) (task.FeedRead, error) {
	args := callerArgs(c)
	args["after_xid"] = strconv.FormatUint(pos.XID, 10)
	args["after_id"] = pos.ID
	args["limit"] = int64(limit)
	var read task.FeedRead
	err := s.db.Send(ctx, pgdb.RetrySafe, settings(ctx, c), func(b *pgx.Batch) { b.Queue(changesSQL, args) }, func(br pgx.BatchResults) error {
		read = task.FeedRead{}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				horizon, next   string
				xid             *string
				now             time.Time
				id, taskID      *int64
				kind, tombstone *string
				raw             []byte
				at              *time.Time
			)
			if err := rows.Scan(&horizon, &next, &now, &id, &xid, &taskID, &kind, &tombstone, &raw, &at); err != nil {
				return err
			}
			if read.Horizon, err = strconv.ParseUint(horizon, 10, 64); err != nil {
				return fmt.Errorf("horizon %q: %w", horizon, err)
			}
			if read.Next, err = strconv.ParseUint(next, 10, 64); err != nil {
				return fmt.Errorf("next xid %q: %w", next, err)
			}
			read.Now = now.UTC()
			if id == nil {
				continue // no change after pos
			}
			ch, err := changeFromRow(*id, *xid, *taskID, *kind, tombstone, raw, *at)
			if err != nil {
				return err
			}
			read.Changes = append(read.Changes, ch)
		}
		return rows.Err()
	})
	if err != nil {
		return task.FeedRead{}, fmt.Errorf("taskstore changes: %w", err)
	}
	return read, nil
}

// SweepChanges deletes the feed rows older than retention (at least 7
// days) and returns how many. A second run finds them gone.
func (s *Store) SweepChanges(ctx context.Context, retention time.Duration) (int64, error) {
	var n int64
	err := s.db.Send(ctx, pgdb.RetrySafe, nil, func(b *pgx.Batch) {
		b.Queue(sweepChangesSQL, pgx.NamedArgs{"retention_seconds": int64(retention / time.Second)})
	}, func(br pgx.BatchResults) error { return br.QueryRow().Scan(&n) })
	if err != nil {
		return 0, fmt.Errorf("taskstore sweep change feed: %w", err)
	}
	return n, nil
}

// changeFromRow converts one task_change row.
func changeFromRow(id int64, xid string, taskID int64, kind string, tombstone *string, raw []byte, at time.Time) (task.TaskChange, error) {
	ch := task.TaskChange{Kind: task.ChangeKind(kind), TaskID: taskID, Time: at.UTC(), Position: task.FeedPosition{ID: id}}
	var err error
	if ch.Position.XID, err = strconv.ParseUint(xid, 10, 64); err != nil {
		return task.TaskChange{}, fmt.Errorf("feed row %d: xid %q: %w", id, xid, err)
	}
	if tombstone != nil {
		ch.Tombstone = task.TombstoneReason(*tombstone)
		return ch, nil
	}
	var j taskJSON
	if err := json.Unmarshal(raw, &j); err != nil {
		return task.TaskChange{}, fmt.Errorf("feed row %d: task: %w", id, err)
	}
	t := j.toDomain()
	ch.Task = &t
	return ch, nil
}
