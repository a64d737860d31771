-- Soft delete (issue 17): DeleteTask sets task.deleted_at instead of
-- deleting the row; UndeleteTask clears it within the retention window
-- (the service's DELETED_TASK_RETENTION); the periodic job task.purge
-- deletes the rows deleted longer ago than that, through task_purge(). The
-- audit history of a purged task stays (task_audit_event has no foreign
-- key to task).
--
-- Who sees a deleted task is the database's rule, like everything else
-- about visibility: task_select now also requires deleted_at IS NULL
-- unless the transaction sets app.show_deleted to 'true', which the task
-- store does only for an admin's listing with show_deleted, and for the
-- soft delete and the undelete themselves (an UPDATE that reads the row
-- must see the old and the new row under the SELECT policy). So Get, List,
-- Stats and every write find a deleted task as they find a missing one.
--
-- The audit trigger records the soft delete as task.delete (with the old
-- value of every field, as a hard delete was recorded), the undelete as
-- task.undelete (the value of every field, as a create) and the purge as
-- task.purge, by actor kind 'system' (app.actor_kind, which task_purge
-- sets); deleted_at itself is not a field of the change.
--
-- idx_tasks_deleted_at, partial on the deleted rows only, serves the purge
-- without growing with the live tasks; the spec's indexes keep serving the
-- live ones (the new predicate is a filter on the rows they find). It is
-- built CONCURRENTLY by migration 00013, a NO TRANSACTION migration of its
-- own, so that building it never blocks writes to a live task table.

-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
ALTER TABLE task ADD COLUMN deleted_at timestamptz;
GRANT UPDATE (deleted_at) ON task TO todo_task_svc;

ALTER POLICY task_select ON task
    USING (
        (deleted_at IS NULL OR coalesce(nullif(current_setting('app.show_deleted', true), '')::boolean, false))
        AND (
            coalesce(nullif(current_setting('app.is_admin', true), '')::boolean, false)
            OR created_by = nullif(current_setting('app.user_id', true), '')::bigint
            OR assigned_to = nullif(current_setting('app.user_id', true), '')::bigint
        )
    );

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
    kind text := CASE WHEN current_setting('app.actor_kind', true) = 'system' THEN 'system' END;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        o := to_jsonb(OLD) - 'id' - 'version' - 'created_at' - 'updated_at' - 'deleted_at';
        tid := OLD.id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        n := to_jsonb(NEW) - 'id' - 'version' - 'created_at' - 'updated_at' - 'deleted_at';
        tid := NEW.id;
    END IF;
    act := CASE
        WHEN TG_OP = 'INSERT' THEN 'task.create'
        WHEN TG_OP = 'DELETE' AND OLD.deleted_at IS NOT NULL THEN 'task.purge'
        WHEN TG_OP = 'DELETE' THEN 'task.delete'
        WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL THEN 'task.delete'
        WHEN OLD.deleted_at IS NOT NULL AND NEW.deleted_at IS NULL THEN 'task.undelete'
    END;
    IF act = 'task.delete' THEN
        n := '{}';
    ELSIF act = 'task.undelete' THEN
        o := '{}';
    ELSIF act = 'task.purge' THEN
        o := '{}';
    END IF;
    FOR k IN SELECT jsonb_object_keys(o || n) LOOP
        IF act IN ('task.create', 'task.undelete') THEN
            IF n->k <> 'null' THEN
                ch := ch || jsonb_build_object(k, jsonb_build_object('new', n->k));
            END IF;
        ELSIF act = 'task.delete' THEN
            IF o->k <> 'null' THEN
                ch := ch || jsonb_build_object(k, jsonb_build_object('old', o->k));
            END IF;
        ELSIF o->k IS DISTINCT FROM n->k THEN
            ch := ch || jsonb_build_object(k, jsonb_build_object('old', o->k, 'new', n->k));
        END IF;
    END LOOP;
    act := coalesce(act, CASE
        WHEN ch ? 'assigned_to' AND NEW.assigned_to IS NULL THEN 'task.unassign'
        WHEN ch ? 'assigned_to' THEN 'task.assign'
        WHEN ch ? 'status' AND (ch - 'status' - 'completed_at') = '{}' THEN 'task.status_change'
        ELSE 'task.update'
    END);
    INSERT INTO task_audit_event (actor_kind, actor_id, action, target_kind, target_id, task_owner, request_id, change)
    VALUES (coalesce(kind, CASE WHEN uid IS NULL THEN 'operator' ELSE 'user' END), uid, act, 'task', tid,
            CASE WHEN TG_OP = 'DELETE' THEN OLD.created_by ELSE NEW.created_by END,
            nullif(current_setting('app.request_id', true), ''), ch);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- task_purge deletes the tasks deleted more than retention ago (at least a
-- day: a compromised runtime role cannot purge what was just deleted) and
-- returns how many. It runs as the owner, as an admin who sees deleted
-- rows, recorded as the system; the SET clauses are undone when it
-- returns, so the caller's transaction keeps its own settings.
-- +goose StatementBegin
CREATE FUNCTION task_purge(retention interval) RETURNS bigint
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, public
SET app.is_admin = 'true'
SET app.show_deleted = 'true'
SET app.user_id = ''
SET app.actor_kind = 'system'
AS $$
    WITH gone AS (
        DELETE FROM task
        WHERE deleted_at IS NOT NULL AND deleted_at < now() - greatest(retention, interval '1 day')
        RETURNING 1
    )
    SELECT count(*) FROM gone
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION task_purge(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION task_purge(interval) TO todo_task_svc;

-- +goose Down
-- What was deleted stays deleted: the soft-deleted rows go for good (as
-- an admin who sees them: row-level security is forced on the owner too).
SELECT set_config('app.is_admin', 'true', true), set_config('app.show_deleted', 'true', true),
       set_config('app.actor_kind', 'system', true);
DELETE FROM task WHERE deleted_at IS NOT NULL;
SELECT set_config('app.is_admin', '', true), set_config('app.show_deleted', '', true),
       set_config('app.actor_kind', '', true);
DROP FUNCTION task_purge(interval);

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

ALTER POLICY task_select ON task
    USING (
        coalesce(nullif(current_setting('app.is_admin', true), '')::boolean, false)
        OR created_by = nullif(current_setting('app.user_id', true), '')::bigint
        OR assigned_to = nullif(current_setting('app.user_id', true), '')::bigint
    );

REVOKE UPDATE (deleted_at) ON task FROM todo_task_svc;
-- Down step: drops the column this migration's up step added.
-- squawk-ignore ban-drop-column
ALTER TABLE task DROP COLUMN deleted_at;
