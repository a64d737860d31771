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
CREATE INDEX idx_tasks_open_created_by_due ON task (created_by, due_date) INCLUDE (assigned_to)
    WHERE status <> 'completed';

-- +goose Down
DROP INDEX idx_tasks_open_created_by_due;
