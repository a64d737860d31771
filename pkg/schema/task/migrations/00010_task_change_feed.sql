-- The change feed of ListTaskChanges (issue 17): one row per change of a
-- task and per user it concerns, written by the trigger task_feed in the
-- change's transaction, so a change and its feed rows commit or roll back
-- together.
--
-- A change concerns the task's creator and its assignees before and after
-- it. Each user whom the task is visible to after the change gets the task
-- as it is then (task, a jsonb of the row); a user who saw it before and no
-- longer does gets a tombstone (reason 'deleted' or 'unassigned', no task).
-- kind says what the change was: created, updated, assigned, unassigned,
-- deleted, undeleted. Changes to a task that stays deleted, and the purge,
-- concern nobody: the tombstone was sent at the delete.
--
-- Order: xid is the writing transaction's id (pg_current_xact_id()). Ids
-- and xids are drawn before commit, so they do not follow commit order; a
-- reader therefore reads only the rows whose xid is below the xmin of its
-- snapshot (pg_snapshot_xmin(pg_current_snapshot())): every transaction
-- below it has ended, and every transaction that has not started writing
-- will get a larger xid. A cursor (xid, id) that only moves over such rows
-- can never pass a change that commits later.
--
-- Row-level security (forced): a user reads only their own rows; the
-- trigger inserts as the role that changed the task. The runtime role may
-- SELECT and INSERT, nothing else; task_change_sweep (SECURITY DEFINER)
-- deletes rows older than the retention, at least 7 days.

-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
CREATE TABLE task_change (
    id         bigint      GENERATED ALWAYS AS IDENTITY,
    xid        xid8        NOT NULL DEFAULT pg_current_xact_id(),
    user_id    bigint      NOT NULL,
    task_id    bigint      NOT NULL,
    kind       text        NOT NULL,
    tombstone  text,
    task       jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT task_change_pkey PRIMARY KEY (user_id, xid, id),
    CONSTRAINT task_change_kind_check CHECK (kind IN ('created', 'updated', 'assigned', 'unassigned', 'deleted', 'undeleted')),
    CONSTRAINT task_change_tombstone_check CHECK (tombstone IN ('deleted', 'unassigned')),
    CONSTRAINT task_change_task_check CHECK ((tombstone IS NULL) = (task IS NOT NULL))
);
CREATE INDEX idx_task_change_created_at ON task_change (created_at);

ALTER TABLE task_change ENABLE ROW LEVEL SECURITY;
ALTER TABLE task_change FORCE ROW LEVEL SECURITY;

CREATE POLICY task_change_select ON task_change FOR SELECT
    USING (user_id = nullif(current_setting('app.user_id', true), '')::bigint);
CREATE POLICY task_change_insert ON task_change FOR INSERT WITH CHECK (true);
CREATE POLICY task_change_sweep ON task_change FOR DELETE
    USING (current_user = (SELECT pg_get_userbyid(c.relowner) FROM pg_class c WHERE c.oid = 'task_change'::regclass)
           AND created_at < now() - interval '7 days');
CREATE POLICY task_change_sweep_select ON task_change FOR SELECT
    USING (current_user = (SELECT pg_get_userbyid(c.relowner) FROM pg_class c WHERE c.oid = 'task_change'::regclass));

-- +goose StatementBegin
CREATE FUNCTION task_feed() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    k      text;
    u      bigint;
    before boolean;
    after  boolean;
BEGIN
    IF TG_OP = 'INSERT' THEN
        k := 'created';
    ELSIF OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL THEN
        k := 'deleted';
    ELSIF OLD.deleted_at IS NOT NULL AND NEW.deleted_at IS NULL THEN
        k := 'undeleted';
    ELSIF OLD.deleted_at IS NOT NULL THEN
        RETURN NULL; -- a deleted task changed: nobody sees it
    ELSIF OLD.assigned_to IS DISTINCT FROM NEW.assigned_to THEN
        k := CASE WHEN NEW.assigned_to IS NULL THEN 'unassigned' ELSE 'assigned' END;
    ELSE
        k := 'updated';
    END IF;
    FOR u IN
        SELECT DISTINCT x FROM unnest(ARRAY[NEW.created_by, NEW.assigned_to,
            CASE WHEN TG_OP = 'UPDATE' THEN OLD.assigned_to END]) AS x
        WHERE x IS NOT NULL
    LOOP
        after := NEW.deleted_at IS NULL AND (u = NEW.created_by OR u = NEW.assigned_to);
        before := TG_OP = 'UPDATE' AND OLD.deleted_at IS NULL AND (u = OLD.created_by OR u = OLD.assigned_to);
        IF after THEN
            INSERT INTO task_change (user_id, task_id, kind, task) VALUES (u, NEW.id, k, to_jsonb(NEW));
        ELSIF before THEN
            INSERT INTO task_change (user_id, task_id, kind, tombstone)
            VALUES (u, NEW.id, k, CASE WHEN NEW.deleted_at IS NOT NULL THEN 'deleted' ELSE 'unassigned' END);
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER task_feed
    AFTER INSERT OR UPDATE ON task
    FOR EACH ROW EXECUTE FUNCTION task_feed();

-- +goose StatementBegin
CREATE FUNCTION task_change_sweep(retention interval) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH gone AS (
        DELETE FROM task_change WHERE created_at < now() - greatest(retention, interval '7 days') RETURNING 1
    )
    SELECT count(*) FROM gone
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION task_change_sweep(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION task_change_sweep(interval) TO todo_task_svc;
GRANT SELECT, INSERT ON task_change TO todo_task_svc;

-- +goose Down
REVOKE ALL ON task_change FROM todo_task_svc;
DROP FUNCTION task_change_sweep(interval);
DROP TRIGGER task_feed ON task;
DROP FUNCTION task_feed();
-- Down step: drops the table this migration's up step created.
-- squawk-ignore ban-drop-table
DROP TABLE task_change;
