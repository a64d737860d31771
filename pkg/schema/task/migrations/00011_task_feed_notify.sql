-- WatchTasks' wake-ups (issue 17): task_feed also notifies the channel
-- task_change with "<user id>:<xid>" for each user it writes a feed row for
-- (the xid tells a watcher which change to wait for, should an older
-- transaction still hold the feed's horizon back). The
-- notification is delivered when (and only if) the change commits, to the
-- task services' LISTEN connections (DATABASE_LISTEN_URL, a direct one),
-- which wake that user's watchers; they then read the feed as
-- ListTaskChanges does, so a lost notification delays a watcher until its
-- next heartbeat and loses nothing. Notifications with the same payload in
-- one transaction are sent once.

-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION task_feed() RETURNS trigger
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
            PERFORM pg_notify('task_change', u::text || ':' || pg_current_xact_id()::text);
        ELSIF before THEN
            INSERT INTO task_change (user_id, task_id, kind, tombstone)
            VALUES (u, NEW.id, k, CASE WHEN NEW.deleted_at IS NOT NULL THEN 'deleted' ELSE 'unassigned' END);
            PERFORM pg_notify('task_change', u::text || ':' || pg_current_xact_id()::text);
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION task_feed() RETURNS trigger
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
