-- Who may read task_audit_event (ListTaskEvents, ListAuditEvents;
-- docs/audit.md): row-level security, so that the authorization of a read
-- is the database's, whatever the query says.
--
--   * an admin (app.is_admin 'true') reads every row, including those of
--     deleted tasks;
--   * anyone else reads the rows of the tasks they can see now: the EXISTS
--     reads task under task's own row-level security, so the creator and the
--     current assignee read a task's history, a former assignee and a
--     stranger read nothing, and nobody but an admin reads the history of a
--     deleted task.
--
-- The trigger task_audit() inserts as the role that changed the task, so
-- INSERT needs a policy too; the grants (SELECT, INSERT only) still refuse
-- UPDATE, DELETE and TRUNCATE. RLS is enabled, not forced: the owner (the
-- migrating role, an operator's) reads every row, and the runtime role never
-- owns anything (the services refuse to start otherwise).

-- +goose Up
ALTER TABLE task_audit_event ENABLE ROW LEVEL SECURITY;

CREATE POLICY task_audit_event_insert ON task_audit_event FOR INSERT WITH CHECK (true);

CREATE POLICY task_audit_event_select ON task_audit_event FOR SELECT
    USING (
        coalesce(nullif(current_setting('app.is_admin', true), '')::boolean, false)
        OR (target_kind = 'task' AND EXISTS (SELECT FROM task t WHERE t.id = target_id))
    );

-- +goose Down
DROP POLICY task_audit_event_select ON task_audit_event;
DROP POLICY task_audit_event_insert ON task_audit_event;
ALTER TABLE task_audit_event DISABLE ROW LEVEL SECURITY;
