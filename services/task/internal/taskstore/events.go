package taskstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/services/task/internal/task"
)

// Reads of task_audit_event run as the caller like every other query: the
// table's row-level security (task set 00006) lets an admin read every row,
// a task's creator the rows of the task (deleted or not), and anyone else
// only the rows of the tasks they can see now, so a query
// that forgot its WHERE clause would still return nothing it must not.
const (
	eventColumns = `id, created_at, actor_kind, coalesce(actor_id, 0), action, coalesce(target_id, 0),
	coalesce(request_id, ''), change`

	// taskVisibleSQL tells a task whose history the caller may not read
	// (NotFound, as for GetTask) from one without events on this page: the
	// caller sees the task, or (a deleted task's creator, an admin) reads
	// one of its events.
	taskVisibleSQL = `SELECT EXISTS (SELECT FROM task WHERE id = @task_id::bigint)
    OR EXISTS (SELECT FROM task_audit_event WHERE target_kind = 'task' AND target_id = @task_id::bigint)`

	// eventsSQL reads events newest first; %s is the conjunction of the
	// filter's conditions. With a task the scan is idx_task_audit_event_target
	// backwards, with an actor idx_task_audit_event_actor, otherwise the
	// primary key (created_at, id) of each partition.
	eventsSQL = `SELECT ` + eventColumns + ` FROM task_audit_event
WHERE target_kind = 'task' AND %s
ORDER BY created_at DESC, id DESC LIMIT @limit::bigint`

	condEventTask   = `target_id = @task_id::bigint`
	condEventActor  = `actor_id = @actor_id::bigint`
	condEventAction = `action = @action::text`
	condEventStart  = `created_at >= @start_time::timestamptz`
	condEventEnd    = `created_at < @end_time::timestamptz`
	condEventAfter  = `(created_at, id) < (@after_time::timestamptz, @after_id::bigint)`
)

// eventsQuery returns the SQL and arguments of q.
func eventsQuery(c task.Caller, q task.EventQuery) (string, pgx.NamedArgs) {
	args := callerArgs(c)
	args["limit"] = int64(q.Limit)
	conds := []string{condTrue}
	f := q.Filter
	if f.TaskID != nil {
		conds = append(conds, condEventTask)
		args["task_id"] = *f.TaskID
	}
	if f.ActorID != nil {
		conds = append(conds, condEventActor)
		args["actor_id"] = *f.ActorID
	}
	if f.Action != "" {
		conds = append(conds, condEventAction)
		args["action"] = f.Action
	}
	if f.Start != nil {
		conds = append(conds, condEventStart)
		args["start_time"] = *f.Start
	}
	if f.End != nil {
		conds = append(conds, condEventEnd)
		args["end_time"] = *f.End
	}
	if a := q.After; a != nil {
		conds = append(conds, condEventAfter)
		args["after_time"] = a.Time
		args["after_id"] = a.ID
	}
	return fmt.Sprintf(eventsSQL, strings.Join(conds, " AND ")), args
}

// TaskEvents returns the events of the task q names when c can see it.
func (s *Store) TaskEvents(ctx context.Context, c task.Caller, q task.EventQuery) ([]task.Event, error) {
	if q.Filter.TaskID == nil {
		return nil, fmt.Errorf("taskstore task events: no task given")
	}
	sql, args := eventsQuery(c, q)
	var (
		visible bool
		events  []task.Event
	)
	// One round trip, one transaction: the visibility check and the read.
	err := s.db.Send(ctx, pgdb.RetrySafe, settings(ctx, c), func(b *pgx.Batch) {
		b.Queue(taskVisibleSQL, args)
		b.Queue(sql, args)
	}, func(br pgx.BatchResults) error {
		if err := br.QueryRow().Scan(&visible); err != nil {
			return err
		}
		var err error
		events, err = collectEvents(br)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("taskstore task events: %w", err)
	}
	if !visible {
		return nil, fmt.Errorf("taskstore task events: %w", task.ErrNotFound)
	}
	return events, nil
}

// AuditEvents returns the events q selects among those c may read.
func (s *Store) AuditEvents(ctx context.Context, c task.Caller, q task.EventQuery) ([]task.Event, error) {
	sql, args := eventsQuery(c, q)
	var events []task.Event
	err := s.db.Send(ctx, pgdb.RetrySafe, settings(ctx, c), func(b *pgx.Batch) { b.Queue(sql, args) }, func(br pgx.BatchResults) error {
		var err error
		events, err = collectEvents(br)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("taskstore audit events: %w", err)
	}
	return events, nil
}

// collectEvents reads the rows of eventColumns of the next result.
func collectEvents(br pgx.BatchResults) ([]task.Event, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (task.Event, error) {
		var (
			e   task.Event
			raw []byte
		)
		if err := row.Scan(&e.ID, &e.Time, &e.ActorKind, &e.ActorID, &e.Action, &e.TaskID, &e.RequestID, &raw); err != nil {
			return task.Event{}, err
		}
		e.Time = e.Time.UTC()
		changes, err := decodeChanges(raw)
		if err != nil {
			return task.Event{}, fmt.Errorf("audit event %d: %w", e.ID, err)
		}
		e.Changes = changes
		return e, nil
	})
}

// decodeChanges reads the trigger's change column, {"field": {"old": …,
// "new": …}}, as changes sorted by field; JSON null is nil.
func decodeChanges(raw []byte) ([]task.Change, error) {
	var m map[string]struct {
		Old any `json:"old"`
		New any `json:"new"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("decode change: %w", err)
	}
	out := make([]task.Change, 0, len(m))
	for field, v := range m {
		out = append(out, task.Change{Field: field, Old: v.Old, New: v.New})
	}
	slices.SortFunc(out, func(a, b task.Change) int { return strings.Compare(a.Field, b.Field) })
	return out, nil
}
