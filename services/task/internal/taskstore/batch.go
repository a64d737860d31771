package taskstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/services/task/internal/task"
)

// The batch methods run in one explicit transaction (pgdb.InTx), so that
// an item that fails rolls back the others, and send their statements in
// one pgx batch: the round trips are BEGIN, the settings, the batch and
// COMMIT, however many items there are. A batch create is three set-based
// statements; a batch update or delete queues the single method's own
// statement once per item (updateSQL, queueDelete), so that every item is
// authorized, conditioned and written exactly as the single method does it.
// Rows are locked in one order, request ids and task ids ascending, so two
// batches over the same rows wait for each other instead of deadlocking.
const (
	// batchClaimSQL claims the request ids of the batch (NULL: an item
	// without one), as requestClaimSQL does one.
	batchClaimSQL = `
INSERT INTO task_request (created_by, request_id, fingerprint)
SELECT @uid::bigint, i.request_id, i.fingerprint
FROM unnest(@request_ids::text[]::uuid[], @fingerprints::bytea[]) AS i(request_id, fingerprint)
WHERE i.request_id IS NOT NULL
ORDER BY i.request_id
ON CONFLICT (created_by, request_id) DO NOTHING`

	// batchInsertSQL inserts the items without a request id and those whose
	// request id this transaction claimed (task_id is still NULL only in
	// the claiming transaction), each with an id drawn first so that the
	// claims and the result can name it; it records the ids on the claims
	// and returns, by item number (from 1), the task of every item: the new
	// ones, and those an earlier create of the same request id made.
	batchInsertSQL = `
WITH item AS (
    SELECT * FROM unnest(@titles::text[], @descriptions::text[], @statuses::text[], @priorities::text[],
                         @due_dates::timestamptz[], @request_ids::text[]::uuid[])
        WITH ORDINALITY AS i(title, description, status, priority, due_date, request_id, idx)
), fresh AS (
    SELECT item.*, nextval('task_id_seq') AS new_id FROM item
    WHERE item.request_id IS NULL OR EXISTS (
        SELECT FROM task_request r
        WHERE r.created_by = @uid::bigint AND r.request_id = item.request_id AND r.task_id IS NULL)
), created AS (
    INSERT INTO task (id, title, description, status, priority, due_date, created_by, completed_at)
    SELECT new_id, title, nullif(description, ''), status, priority, due_date, @uid::bigint,
           CASE WHEN status = 'completed' THEN now() END
    FROM fresh ORDER BY new_id
    RETURNING *
), claimed AS (
    UPDATE task_request r SET task_id = fresh.new_id FROM fresh
    WHERE r.created_by = @uid::bigint AND r.request_id = fresh.request_id
)
SELECT f.idx, ` + columns + ` FROM created AS task JOIN (SELECT idx, new_id AS id FROM fresh) AS f USING (id)
UNION ALL
SELECT f.idx, ` + columns + ` FROM task JOIN (
    SELECT item.idx, r.task_id AS id FROM item
    JOIN task_request r ON r.created_by = @uid::bigint AND r.request_id = item.request_id
    WHERE r.task_id IS NOT NULL) AS f USING (id)
ORDER BY idx`

	// batchFingerprintSQL returns the fingerprint of each item's request
	// id claim, by item number (from 1).
	batchFingerprintSQL = `
SELECT i.idx, r.fingerprint
FROM unnest(@request_ids::text[]::uuid[]) WITH ORDINALITY AS i(request_id, idx)
JOIN task_request r ON r.created_by = @uid::bigint AND r.request_id = i.request_id`
)

// BatchCreate creates the items' tasks as c in one transaction, or none
// (see task.Store).
func (s *Store) BatchCreate(ctx context.Context, c task.Caller, items []task.BatchCreateItem) ([]task.Task, error) {
	n := len(items)
	args := callerArgs(c)
	titles, descriptions := make([]string, n), make([]string, n)
	statuses, priorities := make([]string, n), make([]string, n)
	dueDates := make([]*time.Time, n)
	requestIDs := make([]*string, n)
	fingerprints := make([][]byte, n)
	withIDs := 0
	var ttl time.Duration
	for i, it := range items {
		titles[i], descriptions[i] = it.Task.Title, it.Task.Description
		statuses[i], priorities[i] = string(it.Task.Status), string(it.Task.Priority)
		dueDates[i] = it.Task.DueDate
		if it.Idem != nil {
			requestIDs[i], fingerprints[i] = &it.Idem.RequestID, it.Idem.Fingerprint
			ttl = it.Idem.TTL
			withIDs++
		}
	}
	args["titles"], args["descriptions"] = titles, descriptions
	args["statuses"], args["priorities"] = statuses, priorities
	args["due_dates"], args["request_ids"], args["fingerprints"] = dueDates, requestIDs, fingerprints
	args["ttl_seconds"] = int64(ttl / time.Second)
	// With a request id on every item the batch is idempotent by
	// construction, as createOnce is; otherwise a second run of a
	// committed batch would create its tasks again.
	retry := pgdb.RetryIfNotSent
	if withIDs == n {
		retry = pgdb.RetrySafe
	}
	var tasks []task.Task
	err := s.db.InTx(ctx, retry, settings(ctx, c), func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		if withIDs > 0 {
			b.Queue(requestSweepSQL, args)
			b.Queue(batchClaimSQL, args)
		}
		b.Queue(batchInsertSQL, args)
		if withIDs > 0 {
			b.Queue(batchFingerprintSQL, args)
		}
		br := tx.SendBatch(ctx, b)
		defer br.Close()
		if withIDs > 0 {
			for _, step := range []string{"sweep expired request ids", "claim request ids"} {
				if _, err := br.Exec(); err != nil {
					return fmt.Errorf("%s: %w", step, err)
				}
			}
		}
		byItem, err := readItemTasks(br, n)
		if err != nil {
			return fmt.Errorf("insert tasks: %w", translate(err))
		}
		if withIDs > 0 {
			if err := checkFingerprints(br, items); err != nil {
				return err
			}
		}
		for i, t := range byItem {
			if t == nil {
				// The task created for this request_id was deleted since.
				return &task.ItemError{Index: i, Err: task.ErrNotFound}
			}
		}
		tasks = make([]task.Task, n)
		for i, t := range byItem {
			tasks[i] = *t
		}
		return br.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("taskstore batch create: %w", err)
	}
	return tasks, nil
}

// readItemTasks reads the rows of batchInsertSQL: the task of each item,
// nil for an item that has none.
func readItemTasks(br pgx.BatchResults, n int) ([]*task.Task, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	byItem := make([]*task.Task, n)
	var idx int64
	var r taskRow
	_, err = pgx.ForEachRow(rows, append([]any{&idx}, r.dest()...), func() error {
		if idx < 1 || idx > int64(n) {
			return fmt.Errorf("item number %d out of range", idx)
		}
		t := r.toDomain()
		byItem[idx-1] = &t
		return nil
	})
	return byItem, err
}

// checkFingerprints reads the rows of batchFingerprintSQL: an item whose
// request id was claimed with another fingerprint is an *task.ItemError
// wrapping task.ErrRequestIDReused.
func checkFingerprints(br pgx.BatchResults, items []task.BatchCreateItem) error {
	rows, err := br.Query()
	if err != nil {
		return fmt.Errorf("read request ids: %w", err)
	}
	var idx int64
	var fingerprint []byte
	reused := -1
	if _, err := pgx.ForEachRow(rows, []any{&idx, &fingerprint}, func() error {
		i := int(idx) - 1
		if i < 0 || i >= len(items) || items[i].Idem == nil {
			return fmt.Errorf("request id of item number %d out of range", idx)
		}
		if string(fingerprint) != string(items[i].Idem.Fingerprint) && (reused < 0 || i < reused) {
			reused = i
		}
		return nil
	}); err != nil {
		return fmt.Errorf("read request ids: %w", err)
	}
	if reused >= 0 {
		return &task.ItemError{Index: reused, Err: task.ErrRequestIDReused}
	}
	return nil
}

// BatchUpdate writes every patch as Update does, in one transaction, or
// none (see task.Store).
func (s *Store) BatchUpdate(ctx context.Context, c task.Caller, patches []task.Patch) ([]task.Task, error) {
	tasks := make([]task.Task, len(patches))
	order := byID(len(patches), func(i int) int64 { return patches[i].ID })
	// As for Update: a second run would be a second version of each task.
	err := s.db.InTx(ctx, pgdb.RetryIfNotSent, settings(ctx, c), func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, i := range order {
			b.Queue(updateSQL, updateArgs(c, patches[i]))
		}
		br := tx.SendBatch(ctx, b)
		defer br.Close()
		failed := -1
		for _, i := range order {
			t, err := scanTask(br.QueryRow())
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				if failed < 0 || i < failed {
					failed = i
				}
			case err != nil:
				return &task.ItemError{Index: i, Err: translate(err)}
			default:
				tasks[i] = t
			}
		}
		if failed >= 0 {
			return &task.ItemError{Index: failed, Err: task.ErrNotFound}
		}
		return br.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("taskstore batch update: %w", err)
	}
	return tasks, nil
}

// BatchDelete deletes every item as Delete does, in one transaction, or
// none (see task.Store).
func (s *Store) BatchDelete(ctx context.Context, c task.Caller, items []task.DeleteItem) error {
	order := byID(len(items), func(i int) int64 { return items[i].ID })
	// As for Delete: a second run would find nothing to delete.
	err := s.db.InTx(ctx, pgdb.RetryIfNotSent, showDeleted(settings(ctx, c)), func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, i := range order {
			queueDelete(b, c, items[i].ID, items[i].If)
		}
		br := tx.SendBatch(ctx, b)
		defer br.Close()
		failed := -1
		for _, i := range order {
			tag, err := br.Exec()
			if err != nil {
				return &task.ItemError{Index: i, Err: translate(err)}
			}
			if tag.RowsAffected() == 0 && (failed < 0 || i < failed) {
				failed = i
			}
		}
		if failed >= 0 {
			return &task.ItemError{Index: failed, Err: task.ErrNotFound}
		}
		return br.Close()
	})
	if err != nil {
		return fmt.Errorf("taskstore batch delete: %w", err)
	}
	return nil
}

// byID returns the item numbers 0…n-1 ordered by the task id id(i) of
// each, the order in which a batch locks its rows.
func byID(n int, id func(i int) int64) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(id(a), id(b)) })
	return order
}
