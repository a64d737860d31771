-- Webhooks (issue 17): a user's endpoints, and the transactional outbox of
-- their deliveries.
--
-- webhook holds each endpoint with its signing secret (Standard Webhooks,
-- "whsec_…"), and its delivery health: failing_since (the first failure
-- since the last success), last_error, and disabled_at/disabled_reason
-- once it failed continuously for longer than the service's
-- WEBHOOK_DISABLE_AFTER. Row-level security (forced): a user sees and
-- changes only their own; the delivery worker acts as the owner user.
--
-- The outbox: an AFTER INSERT trigger on task_change enqueues one River
-- job (kind webhook_delivery, queue webhook) per enabled webhook of the
-- feed row's user, in the same transaction as the change: the job exists
-- exactly when the change committed. It inserts into River's own table the
-- way River's insert-only clients for other languages do; the task
-- service's River client (pkg/jobs) works the queue. The function is
-- SECURITY DEFINER because the change's actor is usually not the webhook's
-- owner, whose rows row-level security hides from the actor.

-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
CREATE TABLE webhook (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         bigint      NOT NULL,
    url             text        NOT NULL,
    secret          text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    failing_since   timestamptz,
    last_error      text,
    disabled_at     timestamptz,
    disabled_reason text,
    CONSTRAINT webhook_user_id_fkey FOREIGN KEY (user_id) REFERENCES "user" (id) ON DELETE CASCADE
);
CREATE INDEX idx_webhook_user_id ON webhook (user_id, id);

ALTER TABLE webhook ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook FORCE ROW LEVEL SECURITY;
CREATE POLICY webhook_own ON webhook
    USING (user_id = nullif(current_setting('app.user_id', true), '')::bigint)
    WITH CHECK (user_id = nullif(current_setting('app.user_id', true), '')::bigint);
CREATE POLICY webhook_outbox ON webhook FOR SELECT
    USING (current_user = (SELECT pg_get_userbyid(c.relowner) FROM pg_class c WHERE c.oid = 'webhook'::regclass));

GRANT SELECT, INSERT, DELETE ON webhook TO todo_task_svc;
GRANT UPDATE (failing_since, last_error, disabled_at, disabled_reason) ON webhook TO todo_task_svc;

-- +goose StatementBegin
CREATE FUNCTION task_change_webhooks() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    INSERT INTO river_task.river_job (kind, queue, args, max_attempts)
    SELECT 'webhook_delivery', 'webhook',
           jsonb_build_object('webhook_id', w.id, 'change_id', NEW.id, 'user_id', NEW.user_id), 100
    FROM webhook w
    WHERE w.user_id = NEW.user_id AND w.disabled_at IS NULL;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION task_change_webhooks() FROM PUBLIC;

CREATE TRIGGER task_change_webhooks
    AFTER INSERT ON task_change
    FOR EACH ROW EXECUTE FUNCTION task_change_webhooks();

-- The delivery worker reads the change it delivers as its user.
-- (task_change SELECT is granted by 00010.)

-- +goose Down
DROP TRIGGER task_change_webhooks ON task_change;
DROP FUNCTION task_change_webhooks();
REVOKE ALL ON webhook FROM todo_task_svc;
-- Down step: drops the table this migration's up step created.
-- squawk-ignore ban-drop-table
DROP TABLE webhook;
