-- Who may read task_audit_event (ListTaskEvents, ListTaskAuditEvents;
-- docs/audit.md): row-level security, so that the authorization of a read
-- is the database's, whatever the query says.
--
--   * an admin (app.is_admin 'true') reads every row;
--   * a task's creator reads its rows, also once the task is deleted:
--     task_owner, written by the trigger from task.created_by (which never
--     changes), says whose task a row is about;
--   * anyone else reads the rows of the tasks they can see now: the EXISTS
--     reads task under task's own row-level security, so the current
--     assignee reads a task's history, and a former assignee and a stranger
--     read nothing.
--
-- The trigger task_audit() inserts as the role that changed the task, so
-- INSERT needs a policy too; the grants (SELECT, INSERT only) still refuse
-- UPDATE, DELETE and TRUNCATE. RLS is enabled, not forced: the owner (the
-- migrating role, an operator's) reads every row, and the runtime role never
-- owns anything (the services refuse to start otherwise).
--
-- Adding a nullable column without a default to the partitioned table is a
-- catalog change only; the backfill reads the creator from each task's
-- create or delete row (the table is new: it is small when this runs).

-- +goose Up
-- Applied before migrations were linted (squawk); new migrations set lock_timeout and statement_timeout first (docs/migrations.md).
-- squawk-ignore require-lock-timeout, require-statement-timeout
ALTER TABLE task_audit_event ADD COLUMN task_owner bigint;

UPDATE task_audit_event e SET task_owner = o.created_by
FROM (
    SELECT target_id, max(coalesce(change->'created_by'->>'new', change->'created_by'->>'old')::bigint) AS created_by
    FROM task_audit_event
    WHERE target_kind = 'task' AND action IN ('task.create', 'task.delete')
    GROUP BY target_id
) o
WHERE e.target_kind = 'task' AND e.target_id = o.target_id;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION task_audit() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    uid  bigint := nullif(current_setting('app.user_id', true), '')::bigint;
    o    jsonb := '{}';
    n    jsonb := '{}';
    ch   jsonb := '{}';
    k    text;
    act  text;
    tid  bigint;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        o := to_jsonb(OLD) - 'id' - 'version' - 'created_at' - 'updated_at';
        tid := OLD.id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        n := to_jsonb(NEW) - 'id' - 'version' - 'created_at' - 'updated_at';
        tid := NEW.id;
    END IF;
    FOR k IN SELECT jsonb_object_keys(o || n) LOOP
        IF TG_OP = 'INSERT' THEN
            IF n->k <> 'null' THEN
                ch := ch || jsonb_build_object(k, jsonb_build_object('new', n->k));
            END IF;
        ELSIF TG_OP = 'DELETE' THEN
            IF o->k <> 'null' THEN
                ch := ch || jsonb_build_object(k, jsonb_build_object('old', o->k));
            END IF;
        ELSIF o->k IS DISTINCT FROM n->k THEN
            ch := ch || jsonb_build_object(k, jsonb_build_object('old', o->k, 'new', n->k));
        END IF;
    END LOOP;
    act := CASE
        WHEN TG_OP = 'INSERT' THEN 'task.create'
        WHEN TG_OP = 'DELETE' THEN 'task.delete'
        WHEN ch ? 'assigned_to' AND NEW.assigned_to IS NULL THEN 'task.unassign'
        WHEN ch ? 'assigned_to' THEN 'task.assign'
        WHEN ch ? 'status' AND (ch - 'status' - 'completed_at') = '{}' THEN 'task.status_change'
        ELSE 'task.update'
    END;
    INSERT INTO task_audit_event (actor_kind, actor_id, action, target_kind, target_id, task_owner, request_id, change)
    VALUES (CASE WHEN uid IS NULL THEN 'operator' ELSE 'user' END, uid, act, 'task', tid,
            CASE WHEN TG_OP = 'DELETE' THEN OLD.created_by ELSE NEW.created_by END,
            nullif(current_setting('app.request_id', true), ''), ch);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

ALTER TABLE task_audit_event ENABLE ROW LEVEL SECURITY;

CREATE POLICY task_audit_event_insert ON task_audit_event FOR INSERT WITH CHECK (true);

CREATE POLICY task_audit_event_select ON task_audit_event FOR SELECT
    USING (
        coalesce(nullif(current_setting('app.is_admin', true), '')::boolean, false)
        OR task_owner = nullif(current_setting('app.user_id', true), '')::bigint
        OR (target_kind = 'task' AND EXISTS (SELECT FROM task t WHERE t.id = target_id))
    );

-- +goose Down
DROP POLICY task_audit_event_select ON task_audit_event;
DROP POLICY task_audit_event_insert ON task_audit_event;
ALTER TABLE task_audit_event DISABLE ROW LEVEL SECURITY;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION task_audit() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    uid  bigint := nullif(current_setting('app.user_id', true), '')::bigint;
    o    jsonb := '{}';
    n    jsonb := '{}';
    ch   jsonb := '{}';
    k    text;
    act  text;
    tid  bigint;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        o := to_jsonb(OLD) - 'id' - 'version' - 'created_at' - 'updated_at';
        tid := OLD.id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        n := to_jsonb(NEW) - 'id' - 'version' - 'created_at' - 'updated_at';
        tid := NEW.id;
    END IF;
    FOR k IN SELECT jsonb_object_keys(o || n) LOOP
        IF TG_OP = 'INSERT' THEN
            IF n->k <> 'null' THEN
                ch := ch || jsonb_build_object(k, jsonb_build_object('new', n->k));
            END IF;
        ELSIF TG_OP = 'DELETE' THEN
            IF o->k <> 'null' THEN
                ch := ch || jsonb_build_object(k, jsonb_build_object('old', o->k));
            END IF;
        ELSIF o->k IS DISTINCT FROM n->k THEN
            ch := ch || jsonb_build_object(k, jsonb_build_object('old', o->k, 'new', n->k));
        END IF;
    END LOOP;
    act := CASE
        WHEN TG_OP = 'INSERT' THEN 'task.create'
        WHEN TG_OP = 'DELETE' THEN 'task.delete'
        WHEN ch ? 'assigned_to' AND NEW.assigned_to IS NULL THEN 'task.unassign'
        WHEN ch ? 'assigned_to' THEN 'task.assign'
        WHEN ch ? 'status' AND (ch - 'status' - 'completed_at') = '{}' THEN 'task.status_change'
        ELSE 'task.update'
    END;
    INSERT INTO task_audit_event (actor_kind, actor_id, action, target_kind, target_id, request_id, change)
    VALUES (CASE WHEN uid IS NULL THEN 'operator' ELSE 'user' END, uid, act, 'task', tid,
            nullif(current_setting('app.request_id', true), ''), ch);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- Down step: drops the column this migration's up step added.
-- squawk-ignore ban-drop-column
ALTER TABLE task_audit_event DROP COLUMN task_owner;
