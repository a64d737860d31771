-- The overdue count of GetTaskStats: the caller's open tasks by due date.
-- idx_tasks_composite (created_by, status, priority) serves the counts by
-- status and priority but not the due_date filter, so at scale the overdue
-- count read table rows. This partial index answers "my open tasks due
-- before now" from the index alone: assigned_to is INCLUDEd because the
-- row-level security policy on task tests it, and a scan can skip the table
-- only when every column it evaluates is in the index (an index-only scan,
-- once the visibility map is current). Completed tasks, the bulk of an old
-- account, are not in it.

-- +goose Up
-- Applied before migrations were linted, when task was small; on a live table use CONCURRENTLY in a NO TRANSACTION migration (docs/migrations.md).
-- Applied before migrations were linted (squawk); new migrations set lock_timeout and statement_timeout first (docs/migrations.md).
-- squawk-ignore require-concurrent-index-creation, require-lock-timeout, require-statement-timeout
CREATE INDEX idx_tasks_open_created_by_due ON task (created_by, due_date) INCLUDE (assigned_to)
    WHERE status <> 'completed';

-- +goose Down
-- Down step: drops the index this migration's up step created.
-- squawk-ignore require-concurrent-index-deletion
DROP INDEX idx_tasks_open_created_by_due;
