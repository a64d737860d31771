// Package taskstore keeps tasks in PostgreSQL. It is the only code that
// speaks SQL to the task and task_request tables.
//
// Every call runs as the caller: its transaction first sets the row-level
// security settings app.user_id and app.is_admin (set_config(…, true)),
// sent in the same round trip as the query (a pgx batch is one implicit
// transaction), so even a query without a WHERE clause sees only the rows
// the caller may see. Writes also carry the authorization rule of
// task.Authorize and the etag condition in their WHERE clause, so a write
// that must not happen matches no row. Every value is a named argument
// (pgx.NamedArgs) of SQL written in constants.
//
// Reads, and the create with a request_id (idempotent by construction), are
// retried after a connection failure (pgdb.RetrySafe); the other writes
// only when they cannot have taken effect (pgdb.RetryIfNotSent), because
// each bumps the version: a second run would be a second write, and a
// conditional one would be refused by its own first run.
package taskstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/todo-platform/todo/pkg/logging"
	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/pkg/schema"
	"github.com/todo-platform/todo/services/task/internal/task"
)

// Store is a task.Store on a pgdb.DB whose role is a member of todo_task_svc.
type Store struct {
	db *pgdb.DB
	// dryRun makes every statement roll back (see DryRun).
	dryRun bool
	// searchConfig is the text search configuration of searches.
	searchConfig string
}

var _ task.Store = (*Store)(nil)

// New returns a Store on db, searching in DefaultSearchConfig unless an
// option says otherwise.
func New(db *pgdb.DB, opts ...Option) *Store {
	s := &Store{db: db, searchConfig: DefaultSearchConfig}
	for _, o := range opts {
		o(s)
	}
	return s
}

// settings returns the row-level security settings of c and, when ctx
// carries one, the request id, which the audit trigger on task records with
// every change (migration 00004).
func settings(ctx context.Context, c task.Caller) []pgdb.Setting {
	s := []pgdb.Setting{
		{Name: schema.SettingUserID, Value: strconv.FormatInt(c.UserID, 10)},
		{Name: schema.SettingIsAdmin, Value: strconv.FormatBool(c.Admin)},
	}
	if id := logging.RequestID(ctx); id != "" {
		s = append(s, pgdb.Setting{Name: schema.SettingRequestID, Value: id})
	}
	return s
}

// showDeleted adds to s the setting that makes deleted tasks visible
// (migration 00009).
func showDeleted(s []pgdb.Setting) []pgdb.Setting {
	return append(s, pgdb.Setting{Name: settingShowDeleted, Value: "true"})
}

// columns are the task columns every query returns, in taskRow's order.
const columns = `id, title, coalesce(description, ''), status, priority, due_date, created_by,
	coalesce(assigned_to, 0), created_at, updated_at, completed_at, version, deleted_at`

// taskRow is one row of columns.
type taskRow struct {
	id          int64
	title       string
	description string
	status      string
	priority    string
	dueDate     *time.Time
	createdBy   int64
	assignedTo  int64
	createdAt   time.Time
	updatedAt   time.Time
	completedAt *time.Time
	version     int64
	deletedAt   *time.Time
}

func (r *taskRow) dest() []any {
	return []any{&r.id, &r.title, &r.description, &r.status, &r.priority, &r.dueDate, &r.createdBy,
		&r.assignedTo, &r.createdAt, &r.updatedAt, &r.completedAt, &r.version, &r.deletedAt}
}

// toDomain converts a row to a task.Task, times in UTC.
func (r *taskRow) toDomain() task.Task {
	return task.Task{
		ID:          r.id,
		Title:       r.title,
		Description: r.description,
		Status:      task.Status(r.status),
		Priority:    task.Priority(r.priority),
		DueDate:     utcPtr(r.dueDate),
		CreatedBy:   r.createdBy,
		AssignedTo:  r.assignedTo,
		CreatedAt:   r.createdAt.UTC(),
		UpdatedAt:   r.updatedAt.UTC(),
		CompletedAt: utcPtr(r.completedAt),
		Version:     r.version,
		DeletedAt:   utcPtr(r.deletedAt),
	}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// scanTask scans one row of columns.
func scanTask(row pgx.Row) (task.Task, error) {
	var r taskRow
	if err := row.Scan(r.dest()...); err != nil {
		return task.Task{}, err
	}
	return r.toDomain(), nil
}

// scanTasks is scanTask for pgx.CollectRows.
func scanTasks(row pgx.CollectableRow) (task.Task, error) { return scanTask(row) }

// one runs q with args as c in one round trip and returns the one task it
// yields, or task.ErrNotFound when it yields none. retry says whether q may
// run twice (see pgdb.Retry).
func (s *Store) one(ctx context.Context, c task.Caller, retry pgdb.Retry, q string, args pgx.NamedArgs) (task.Task, error) {
	var t task.Task
	err := s.send(ctx, retry, settings(ctx, c), func(b *pgx.Batch) { b.Queue(q, args) }, func(br pgx.BatchResults) error {
		var err error
		t, err = scanTask(br.QueryRow())
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return task.Task{}, task.ErrNotFound
	}
	if err != nil {
		return task.Task{}, translate(err)
	}
	return t, nil
}

// translate turns constraint violations into domain errors; other errors
// are returned as they are.
func translate(err error) error {
	switch {
	case pgdb.IsCheckViolation(err, "task_status_check"):
		return fmt.Errorf("%w (%w)", task.ErrInvalidStatus, err)
	case pgdb.IsCheckViolation(err, "task_priority_check"):
		return fmt.Errorf("%w (%w)", task.ErrInvalidPriority, err)
	case pgdb.IsForeignKeyViolation(err, "task_assigned_to_fkey"):
		return fmt.Errorf("%w (%w)", task.ErrInvalidAssignee, err)
	}
	return err
}

// condition returns the named arguments of a task.Condition: any_version
// and version.
func condition(args pgx.NamedArgs, cond task.Condition) pgx.NamedArgs {
	v, ok := cond.Version()
	args["any_version"] = !ok
	args["version"] = v
	return args
}

// callerArgs returns the named arguments uid and admin of c.
func callerArgs(c task.Caller) pgx.NamedArgs {
	return pgx.NamedArgs{"uid": c.UserID, "admin": c.Admin}
}

const (
	getSQL = `SELECT ` + columns + ` FROM task WHERE id = @id`

	insertSQL = `
INSERT INTO task (title, description, status, priority, due_date, created_by, completed_at)
VALUES (@title::text, nullif(@description::text, ''), @status::text, @priority::text, @due_date::timestamptz, @uid::bigint,
        CASE WHEN @status::text = 'completed' THEN now() END)
RETURNING ` + columns

	// requestSweepSQL forgets the caller's expired request_ids.
	requestSweepSQL = `
DELETE FROM task_request WHERE created_by = @uid::bigint AND created_at < now() - @ttl_seconds::bigint * interval '1 second'`

	// requestClaimSQL claims the request_id. When another transaction holds
	// an uncommitted claim, it waits for that one to end.
	requestClaimSQL = `
INSERT INTO task_request (created_by, request_id, fingerprint) VALUES (@uid::bigint, @request_id::uuid, @fingerprint::bytea)
ON CONFLICT (created_by, request_id) DO NOTHING`

	// requestInsertSQL inserts the task only when this transaction made the
	// claim (task_id is still NULL only in the claiming transaction), and
	// records its id on the claim.
	requestInsertSQL = `
WITH claim AS (
    SELECT FROM task_request
    WHERE created_by = @uid::bigint AND request_id = @request_id::uuid AND task_id IS NULL
), created AS (
    INSERT INTO task (title, description, status, priority, due_date, created_by, completed_at)
    SELECT @title::text, nullif(@description::text, ''), @status::text, @priority::text, @due_date::timestamptz, @uid::bigint,
           CASE WHEN @status::text = 'completed' THEN now() END
    WHERE EXISTS (SELECT FROM claim)
    RETURNING id
)
UPDATE task_request r SET task_id = created.id FROM created
WHERE r.created_by = @uid::bigint AND r.request_id = @request_id::uuid`

	requestFingerprintSQL = `
SELECT fingerprint FROM task_request WHERE created_by = @uid::bigint AND request_id = @request_id::uuid`

	requestTaskSQL = `
SELECT ` + columns + ` FROM task
WHERE id = (SELECT task_id FROM task_request WHERE created_by = @uid::bigint AND request_id = @request_id::uuid)`

	// updateSQL writes the fields whose set_* flag is true; completed_at
	// follows the status: set when it becomes completed, kept while it
	// stays completed, cleared when it leaves completed.
	updateSQL = `
UPDATE task SET
    title        = CASE WHEN @set_title::boolean THEN @title::text ELSE title END,
    description  = CASE WHEN @set_description::boolean THEN nullif(@description::text, '') ELSE description END,
    status       = CASE WHEN @set_status::boolean THEN @status::text ELSE status END,
    priority     = CASE WHEN @set_priority::boolean THEN @priority::text ELSE priority END,
    due_date     = CASE WHEN @set_due_date::boolean THEN @due_date::timestamptz ELSE due_date END,
    completed_at = CASE
                     WHEN NOT @set_status::boolean THEN completed_at
                     WHEN @status::text <> 'completed' THEN NULL
                     WHEN status = 'completed' THEN completed_at
                     ELSE now()
                   END,
    version      = version + 1
WHERE id = @id::bigint
  AND (@any_version::boolean OR version = @version::bigint)
  -- Who may write (task.Authorize with ActionFor(Patch.Changes)): admins
  -- and the creator anything; any other caller who sees the row under RLS
  -- is its assignee, who may change the status only: every other field the
  -- patch sets must already have the value it sends.
  AND (@admin::boolean OR created_by = @uid::bigint OR (
        (NOT @set_title::boolean OR title = @title::text)
    AND (NOT @set_description::boolean OR description IS NOT DISTINCT FROM nullif(@description::text, ''))
    AND (NOT @set_priority::boolean OR priority = @priority::text)
    AND (NOT @set_due_date::boolean OR due_date IS NOT DISTINCT FROM @due_date::timestamptz)))
RETURNING ` + columns

	assignSQL = `
UPDATE task SET assigned_to = nullif(@assignee::bigint, 0), version = version + 1
WHERE id = @id::bigint
  AND (@any_version::boolean OR version = @version::bigint)
  AND (@admin::boolean OR created_by = @uid::bigint)
RETURNING ` + columns

	// deleteSQL marks the task deleted (migration 00009): it runs with
	// app.show_deleted, as the deleted row must pass task_select, so it
	// names the live rows itself.
	deleteSQL = `
UPDATE task SET deleted_at = now(), version = version + 1
WHERE id = @id::bigint
  AND deleted_at IS NULL
  AND (@any_version::boolean OR version = @version::bigint)
  AND (@admin::boolean OR created_by = @uid::bigint)`

	// statsSQL counts the caller's tasks by status and priority from
	// idx_tasks_composite (created_by, status, priority), in its order.
	statsSQL = `
SELECT status, priority, count(*)
FROM task
WHERE created_by = @uid::bigint
GROUP BY status, priority
ORDER BY status, priority`

	// overdueSQL counts the caller's open tasks due before now from the
	// partial index idx_tasks_open_created_by_due (created_by, due_date)
	// WHERE status <> 'completed' (migration 00003); its predicate repeats
	// the index's so that the planner can use it.
	overdueSQL = `
SELECT count(*)
FROM task
WHERE created_by = @uid::bigint AND status <> 'completed' AND due_date < now()`
)

// Get returns the task id if c can see it.
func (s *Store) Get(ctx context.Context, c task.Caller, id int64) (task.Task, error) {
	t, err := s.one(ctx, c, pgdb.RetrySafe, getSQL, pgx.NamedArgs{"id": id})
	if err != nil {
		return task.Task{}, fmt.Errorf("taskstore get: %w", err)
	}
	return t, nil
}

// Create inserts n as a task of c; with idem, at most once per request_id
// and TTL (see task.Store).
func (s *Store) Create(ctx context.Context, c task.Caller, n task.NewTask, idem *task.Idempotency) (task.Task, error) {
	args := callerArgs(c)
	args["title"] = n.Title
	args["description"] = n.Description
	args["status"] = string(n.Status)
	args["priority"] = string(n.Priority)
	args["due_date"] = n.DueDate
	if idem == nil {
		// A second run would create a second task.
		t, err := s.one(ctx, c, pgdb.RetryIfNotSent, insertSQL, args)
		if err != nil {
			return task.Task{}, fmt.Errorf("taskstore create: %w", err)
		}
		if s.dryRun {
			t.ID = 0 // rolled back: the id is not the task's
		}
		return t, nil
	}
	t, err := s.createOnce(ctx, c, args, idem)
	if err != nil {
		return task.Task{}, fmt.Errorf("taskstore create (request_id %s): %w", idem.RequestID, err)
	}
	return t, nil
}

// createOnce is Create with a request_id, in one round trip: sweep expired
// request_ids, claim this one (waiting for a concurrent claimer to finish),
// insert the task if the claim is ours, then read the claim's fingerprint
// and task. Every racer reads the same committed claim, so all get the same
// task.
func (s *Store) createOnce(ctx context.Context, c task.Caller, args pgx.NamedArgs, idem *task.Idempotency) (task.Task, error) {
	args["request_id"] = idem.RequestID
	args["fingerprint"] = idem.Fingerprint
	args["ttl_seconds"] = int64(idem.TTL / time.Second)
	var (
		fingerprint []byte
		t           task.Task
		taskErr     error
	)
	// Idempotent by construction: a second run finds the claim of the
	// first (or makes it, when the first never committed).
	var created bool
	err := s.send(ctx, pgdb.RetrySafe, settings(ctx, c), func(b *pgx.Batch) {
		b.Queue(requestSweepSQL, args)
		b.Queue(requestClaimSQL, args)
		b.Queue(requestInsertSQL, args)
		b.Queue(requestFingerprintSQL, args)
		b.Queue(requestTaskSQL, args)
	}, func(br pgx.BatchResults) error {
		for _, step := range []string{"sweep expired request ids", "claim request id", "insert task"} {
			tag, err := br.Exec()
			if err != nil {
				return fmt.Errorf("%s: %w", step, err)
			}
			created = tag.RowsAffected() == 1
		}
		if err := br.QueryRow().Scan(&fingerprint); err != nil {
			return fmt.Errorf("read request id: %w", err)
		}
		t, taskErr = scanTask(br.QueryRow())
		return nil
	})
	if err != nil {
		return task.Task{}, translate(err)
	}
	err = taskErr
	switch {
	case string(fingerprint) != string(idem.Fingerprint):
		return task.Task{}, task.ErrRequestIDReused
	case errors.Is(err, pgx.ErrNoRows):
		// The task created for this request_id was deleted since.
		return task.Task{}, task.ErrNotFound
	case err != nil:
		return task.Task{}, fmt.Errorf("read task: %w", err)
	}
	if created && s.dryRun {
		t.ID = 0 // rolled back: the id is not the task's
	}
	return t, nil
}

// Update writes p's fields when c may do a and p.If holds.
func (s *Store) Update(ctx context.Context, c task.Caller, p task.Patch) (task.Task, error) {
	// A second run would bump the version again, or, with an etag, fail
	// on the version its first run wrote.
	t, err := s.one(ctx, c, pgdb.RetryIfNotSent, updateSQL, updateArgs(c, p))
	if err != nil {
		return task.Task{}, fmt.Errorf("taskstore update: %w", err)
	}
	return t, nil
}

// updateArgs returns the named arguments of updateSQL for p by c.
func updateArgs(c task.Caller, p task.Patch) pgx.NamedArgs {
	args := condition(callerArgs(c), p.If)
	args["id"] = p.ID
	args["set_title"] = p.Fields.Has(task.FieldTitle)
	args["title"] = p.Title
	args["set_description"] = p.Fields.Has(task.FieldDescription)
	args["description"] = p.Description
	args["set_status"] = p.Fields.Has(task.FieldStatus)
	args["status"] = string(p.Status)
	args["set_priority"] = p.Fields.Has(task.FieldPriority)
	args["priority"] = string(p.Priority)
	args["set_due_date"] = p.Fields.Has(task.FieldDueDate)
	args["due_date"] = p.DueDate
	return args
}

// Assign sets the assignee (0: nobody) when c is the creator or an admin
// and cond holds.
func (s *Store) Assign(ctx context.Context, c task.Caller, id, assignee int64, cond task.Condition) (task.Task, error) {
	args := condition(callerArgs(c), cond)
	args["id"] = id
	args["assignee"] = assignee
	// As for Update: a second run would be a second version.
	t, err := s.one(ctx, c, pgdb.RetryIfNotSent, assignSQL, args)
	if err != nil {
		return task.Task{}, fmt.Errorf("taskstore assign: %w", err)
	}
	return t, nil
}

// Delete deletes the task when c is the creator or an admin and cond holds.
func (s *Store) Delete(ctx context.Context, c task.Caller, id int64, cond task.Condition) error {
	var tag pgconn.CommandTag
	// A second run would find nothing to delete and answer ErrNotFound.
	err := s.send(ctx, pgdb.RetryIfNotSent, showDeleted(settings(ctx, c)), func(b *pgx.Batch) { queueDelete(b, c, id, cond) }, func(br pgx.BatchResults) error {
		var err error
		tag, err = br.Exec()
		return err
	})
	switch {
	case err != nil:
		return fmt.Errorf("taskstore delete: %w", err)
	case tag.RowsAffected() == 0:
		return fmt.Errorf("taskstore delete: %w", task.ErrNotFound)
	}
	return nil
}

// queueDelete queues the delete of task id by c under cond; its result is
// a command tag whose RowsAffected is 0 when the task was not deleted.
// BatchDelete queues it once per item, so both deletes are one rule.
func queueDelete(b *pgx.Batch, c task.Caller, id int64, cond task.Condition) {
	args := condition(callerArgs(c), cond)
	args["id"] = id
	b.Queue(deleteSQL, args)
}

// Stats counts the tasks c created by status and priority, and the overdue
// ones: two statements in one batch (one round trip, one transaction), each
// answered from an index.
func (s *Store) Stats(ctx context.Context, c task.Caller) (task.Stats, error) {
	var st task.Stats
	err := s.db.Send(ctx, pgdb.RetrySafe, settings(ctx, c), func(b *pgx.Batch) {
		b.Queue(statsSQL, callerArgs(c))
		b.Queue(overdueSQL, callerArgs(c))
	}, func(br pgx.BatchResults) error {
		st = task.Stats{}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		var status, priority string
		var n int64
		if _, err := pgx.ForEachRow(rows, []any{&status, &priority, &n}, func() error {
			st.Counts = append(st.Counts, task.Count{Status: task.Status(status), Priority: task.Priority(priority), N: n})
			st.Total += n
			return nil
		}); err != nil {
			return err
		}
		return br.QueryRow().Scan(&st.Overdue)
	})
	if err != nil {
		return task.Stats{}, fmt.Errorf("taskstore stats: %w", err)
	}
	sortCounts(st.Counts)
	return st, nil
}

const (
	// maintainAuditSQL calls audit_maintain (user set 00003) on the task
	// service's audit table.
	maintainAuditSQL = `SELECT array(SELECT audit_maintain('task_audit_event', @months_ahead::integer, @keep_months::integer))`
	// sweepRequestsSQL deletes every caller's expired request ids (task set 00004).
	sweepRequestsSQL = `SELECT task_request_sweep(@ttl_seconds::bigint * interval '1 second')`
)

// MaintainAudit makes the audit partitions for this month and the next
// monthsAhead, drops those older than keepMonths and returns the names of
// the dropped ones. A second run finds the work done.
func (s *Store) MaintainAudit(ctx context.Context, monthsAhead, keepMonths int) ([]string, error) {
	var dropped []string
	err := s.db.Send(ctx, pgdb.RetrySafe, nil, func(b *pgx.Batch) {
		b.Queue(maintainAuditSQL, pgx.NamedArgs{"months_ahead": monthsAhead, "keep_months": keepMonths})
	}, func(br pgx.BatchResults) error { return br.QueryRow().Scan(&dropped) })
	if err != nil {
		return nil, fmt.Errorf("taskstore maintain audit: %w", err)
	}
	return dropped, nil
}

// SweepRequests deletes the request ids of every caller older than ttl and
// returns how many it deleted. A second run finds them gone.
func (s *Store) SweepRequests(ctx context.Context, ttl time.Duration) (int64, error) {
	var n int64
	err := s.db.Send(ctx, pgdb.RetrySafe, nil, func(b *pgx.Batch) {
		b.Queue(sweepRequestsSQL, pgx.NamedArgs{"ttl_seconds": int64(ttl / time.Second)})
	}, func(br pgx.BatchResults) error { return br.QueryRow().Scan(&n) })
	if err != nil {
		return 0, fmt.Errorf("taskstore sweep request ids: %w", err)
	}
	return n, nil
}
