-- The audit log of the task service, partitioned by month like the user
-- service's (user set 00003 has the partition functions; docs/audit.md).
--
-- task_audit_event rows are written by an AFTER trigger on task, so every
-- change is recorded whoever makes it (the service or SQL run by hand), in
-- the same statement and transaction as the change, at no extra round
-- trip. The trigger reads the per-transaction settings the task store sends
-- with every statement: app.user_id (the actor) and app.request_id. A change
-- made without app.user_id is recorded with actor_kind 'operator' and the
-- database role in db_user.
--
-- change holds the fields that changed, each as {"old": …, "new": …}
-- (create: only "new"; delete: only "old"); id, version and the timestamps
-- the database keeps (created_at, updated_at) are left out.
--
-- action: task.create, task.delete, task.assign / task.unassign (the
-- assignee changed), task.status_change (only the status, and completed_at
-- with it, changed), task.update (anything else).
--
-- task_request_sweep deletes every caller's expired request ids; the
-- periodic job of the task service calls it. Row-level security (forced)
-- limits the runtime role to its caller's rows, so the function is SECURITY
-- DEFINER and the policy task_request_sweep lets the table's owner, and only
-- it, delete rows older than an hour.

-- +goose Up
-- Applied before migrations were linted (squawk); new migrations set lock_timeout and statement_timeout first (docs/migrations.md).
-- squawk-ignore require-lock-timeout, require-statement-timeout
CREATE SEQUENCE task_audit_event_id_seq AS bigint;
CREATE TABLE task_audit_event (
    id          bigint      NOT NULL DEFAULT nextval('task_audit_event_id_seq'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    actor_kind  text        NOT NULL,
    actor_id    bigint,
    action      text        NOT NULL,
    target_kind text        NOT NULL DEFAULT 'task',
    target_id   bigint,
    request_id  text,
    client_addr text,
    db_user     text        NOT NULL DEFAULT session_user,
    change      jsonb       NOT NULL DEFAULT '{}',
    CONSTRAINT task_audit_event_pkey PRIMARY KEY (created_at, id),
    CONSTRAINT task_audit_event_actor_kind_check CHECK (actor_kind IN ('user', 'operator', 'system'))
) PARTITION BY RANGE (created_at);
ALTER SEQUENCE task_audit_event_id_seq OWNED BY task_audit_event.id;

CREATE INDEX idx_task_audit_event_target ON task_audit_event (target_kind, target_id, created_at, id);
CREATE INDEX idx_task_audit_event_actor ON task_audit_event (actor_id, created_at, id) WHERE actor_id IS NOT NULL;

-- +goose StatementBegin
CREATE FUNCTION task_audit() RETURNS trigger
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

CREATE TRIGGER task_audit
    AFTER INSERT OR UPDATE OR DELETE ON task
    FOR EACH ROW EXECUTE FUNCTION task_audit();

-- Append-only for the services (see user set 00003); issue 12 moves these
-- grants to the task service's own role.
GRANT SELECT, INSERT ON task_audit_event TO todo_app;
GRANT USAGE ON SEQUENCE task_audit_event_id_seq TO todo_app;

SELECT audit_maintain('task_audit_event', 3, 13);

CREATE POLICY task_request_sweep ON task_request FOR DELETE
    USING (current_user = (SELECT pg_get_userbyid(c.relowner) FROM pg_class c WHERE c.oid = 'task_request'::regclass)
           AND created_at < now() - interval '1 hour');

-- +goose StatementBegin
CREATE FUNCTION task_request_sweep(ttl interval) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH gone AS (
        DELETE FROM task_request WHERE created_at < now() - greatest(ttl, interval '1 hour') RETURNING 1
    )
    SELECT count(*) FROM gone
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION task_request_sweep(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION task_request_sweep(interval) TO todo_app;

-- +goose Down
DROP FUNCTION task_request_sweep(interval);
DROP POLICY task_request_sweep ON task_request;
DROP TRIGGER task_audit ON task;
DROP FUNCTION task_audit();
-- Down step: drops the table this migration's up step created.
-- squawk-ignore ban-drop-table
DROP TABLE task_audit_event;
