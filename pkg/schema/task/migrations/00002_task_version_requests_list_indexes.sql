-- Task service additions to 00001 (owned by the task service):
--
-- 1. task.version: starts at 1 and is bumped by every UPDATE the task store
--    makes; the API's etag is derived from it, and conditional writes compare
--    it in their WHERE clause, so two writers holding the same etag exclude
--    each other (the second matches no row).
-- 2. task_request: the request_id of each CreateTask that carried one, per
--    caller, so a retry within 24 hours gets the first task back. Row-level
--    security keyed on app.user_id (forced): a caller sees only its own.
--    Rows older than 24 hours are removed by the store (per caller, on that
--    caller's next create with a request_id), so a request_id is remembered
--    for 24 hours. task_id is not a foreign key: deleting a task leaves its
--    request row, and a retry then answers NOT_FOUND rather than creating the
--    task again.
-- 3. The two indexes behind the default listing ("visible to me, newest
--    first"): the store queries the tasks a user created and the tasks a
--    user is assigned as two index-ordered branches merged by created_at, so
--    a page costs its own size, not the size of the user's task list.

-- +goose Up
-- Applied before migrations were linted (squawk); new migrations set lock_timeout and statement_timeout first (docs/migrations.md).
-- squawk-ignore require-lock-timeout, require-statement-timeout
ALTER TABLE task ADD COLUMN version bigint NOT NULL DEFAULT 1;
GRANT UPDATE (version) ON task TO todo_app;

CREATE TABLE task_request (
    created_by  bigint      NOT NULL,
    request_id  uuid        NOT NULL,
    fingerprint bytea       NOT NULL,
    -- Set by the same transaction that inserts the row, right after the task.
    task_id     bigint,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT task_request_pkey PRIMARY KEY (created_by, request_id),
    CONSTRAINT task_request_created_by_fkey FOREIGN KEY (created_by) REFERENCES "user" (id) ON DELETE CASCADE
);
-- The per-caller sweep of expired rows.
CREATE INDEX idx_task_request_expiry ON task_request (created_by, created_at);

ALTER TABLE task_request ENABLE ROW LEVEL SECURITY;
ALTER TABLE task_request FORCE ROW LEVEL SECURITY;

CREATE POLICY task_request_own ON task_request
    USING (created_by = nullif(current_setting('app.user_id', true), '')::bigint)
    WITH CHECK (created_by = nullif(current_setting('app.user_id', true), '')::bigint);

GRANT SELECT, INSERT, DELETE ON task_request TO todo_app;
GRANT UPDATE (task_id) ON task_request TO todo_app;

-- Applied before migrations were linted, when task was small; on a live table use CONCURRENTLY in a NO TRANSACTION migration (docs/migrations.md).
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX idx_tasks_created_by_created_at ON task (created_by, created_at, id);
-- Applied before migrations were linted, when task was small; on a live table use CONCURRENTLY in a NO TRANSACTION migration (docs/migrations.md).
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX idx_tasks_assigned_to_created_at ON task (assigned_to, created_at, id) WHERE assigned_to IS NOT NULL;

-- +goose Down
-- Down step: drops the index this migration's up step created.
-- squawk-ignore require-concurrent-index-deletion
DROP INDEX idx_tasks_assigned_to_created_at;
-- Down step: drops the index this migration's up step created.
-- squawk-ignore require-concurrent-index-deletion
DROP INDEX idx_tasks_created_by_created_at;
REVOKE ALL ON task_request FROM todo_app;
-- Down step: drops the table this migration's up step created.
-- squawk-ignore ban-drop-table
DROP TABLE task_request;
REVOKE UPDATE (version) ON task FROM todo_app;
-- Down step: drops the column this migration's up step added.
-- squawk-ignore ban-drop-column
ALTER TABLE task DROP COLUMN version;
