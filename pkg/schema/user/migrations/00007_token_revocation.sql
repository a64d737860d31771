-- Revocation of access tokens within seconds (issue 14, docs/security.md).
--
-- user_token_revocation: one row per user whose tokens were ever revoked,
-- holding the user's token generation. Access tokens carry the generation
-- of their user when they were issued (claim "gen", 0 when the user has no
-- row); a token whose generation is below the row's is void. The user
-- service raises the generation in the same transaction as a deactivation,
-- a password change or reset, or a logout from everywhere.
--
-- Every verifier of access tokens, the task service's included, learns new
-- generations from the trigger's NOTIFY on todo_token_revocation (payload
-- "user_id:generation", sent on commit) and from polling revoked_at (see
-- package revocation). The task service may therefore SELECT this table and
-- nothing else of the user set: user ids and the time of their latest
-- revocation, no email, name or secret.

-- +goose Up
-- Applied before migrations were linted (squawk); new migrations set lock_timeout and statement_timeout first (docs/migrations.md).
-- squawk-ignore require-lock-timeout, require-statement-timeout
CREATE TABLE user_token_revocation (
    user_id    bigint      PRIMARY KEY REFERENCES "user" (id) ON DELETE CASCADE,
    generation bigint      NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT user_token_revocation_generation_check CHECK (generation > 0)
);

-- The verifiers' poll: the rows revoked recently.
CREATE INDEX idx_user_token_revocation_revoked_at ON user_token_revocation (revoked_at);

-- +goose StatementBegin
CREATE FUNCTION user_token_revocation_notify() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    PERFORM pg_notify('todo_token_revocation', NEW.user_id::text || ':' || NEW.generation::text);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER user_token_revocation_notify
    AFTER INSERT OR UPDATE ON user_token_revocation
    FOR EACH ROW EXECUTE FUNCTION user_token_revocation_notify();

-- The user set migrates before the task set, whose 00007 makes
-- todo_task_svc: make it here when missing (kept by the down step, as
-- roles are cluster-wide).
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'todo_task_svc') THEN
        CREATE ROLE todo_task_svc NOLOGIN;
    END IF;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN
        NULL;
END
$$;
-- +goose StatementEnd

GRANT SELECT, INSERT, UPDATE ON user_token_revocation TO todo_user_svc;
GRANT SELECT ON user_token_revocation TO todo_task_svc;

-- +goose Down
-- Down step: drops the table this migration's up step created.
-- squawk-ignore ban-drop-table
DROP TABLE user_token_revocation;
DROP FUNCTION user_token_revocation_notify();
