-- Personal access tokens (issue 14, docs/security.md): named, expiring
-- bearer tokens of read-only or read-write scope that scripts use instead
-- of a password. The secret ("todo_pat_" and 256 random bits) is shown
-- once, at creation; only its SHA-256 is stored.
--
-- Both services verify them: the user service reads the table, the task
-- service (which may read nothing of the user set) calls
-- personal_access_token_check, a SECURITY DEFINER function that answers
-- for one hash only: whoever calls it must already hold the token.

-- +goose Up
-- Applied before migrations were linted (squawk); new migrations set lock_timeout and statement_timeout first (docs/migrations.md).
-- squawk-ignore require-lock-timeout, require-statement-timeout
CREATE TABLE personal_access_token (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
    name       text        NOT NULL,
    scope      text        NOT NULL,
    token_hash bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    CONSTRAINT personal_access_token_token_hash_key UNIQUE (token_hash),
    CONSTRAINT personal_access_token_token_hash_check CHECK (octet_length(token_hash) = 32),
    CONSTRAINT personal_access_token_scope_check CHECK (scope IN ('read_only', 'read_write')),
    CONSTRAINT personal_access_token_name_check CHECK (char_length(name) BETWEEN 1 AND 100)
);

-- A user's tokens, newest first.
CREATE INDEX idx_personal_access_token_user ON personal_access_token (user_id, id);

-- personal_access_token_check returns the live token (not revoked, not
-- expired, of an active user) whose hash is hash, with its hash for the
-- caller's constant-time comparison.
-- +goose StatementBegin
CREATE FUNCTION personal_access_token_check(hash bytea)
RETURNS TABLE (token_id bigint, user_id bigint, is_admin boolean, read_only boolean, expires_at timestamptz, token_hash bytea)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT t.id, t.user_id, u.is_admin, t.scope = 'read_only', t.expires_at, t.token_hash
    FROM personal_access_token t
    JOIN "user" u ON u.id = t.user_id
    WHERE t.token_hash = hash AND t.revoked_at IS NULL AND t.expires_at > now() AND u.is_active
$$;
-- +goose StatementEnd

REVOKE ALL ON FUNCTION personal_access_token_check(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION personal_access_token_check(bytea) TO todo_user_svc, todo_task_svc;
GRANT SELECT, INSERT, UPDATE ON personal_access_token TO todo_user_svc;

-- +goose Down
DROP FUNCTION personal_access_token_check(bytea);
-- Down step: drops the table this migration's up step created.
-- squawk-ignore ban-drop-table
DROP TABLE personal_access_token;
