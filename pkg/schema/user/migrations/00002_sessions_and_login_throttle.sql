-- The user service's own auth tables: refresh-token sessions and the failed
-- sign-in counters that throttle password guessing.
--
-- user_session: one row per refresh token, stored only as the SHA-256 of the
-- token. Every login starts a family (family_id); each refresh inserts the
-- next row of the family and marks the spent one revoked and replaced_by the
-- new one. Presenting a token whose row is already replaced revokes the whole
-- family. Rows are deleted by the service once expired.
--
-- login_throttle: failed sign-ins per scope and subject within a fixed window
-- that starts at the first failure (scope 'user': subject is a user id;
-- 'login': an identifier that names no user; 'addr': a client address or
-- IPv6 /64). Shared by every replica, so all of them refuse alike.

-- +goose Up
-- Applied before migrations were linted (squawk); new migrations set lock_timeout and statement_timeout first (docs/migrations.md).
-- squawk-ignore require-lock-timeout, require-statement-timeout
CREATE TABLE user_session (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    family_id   uuid        NOT NULL DEFAULT gen_random_uuid(),
    user_id     bigint      NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
    token_hash  bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    replaced_by bigint      REFERENCES user_session (id) ON DELETE SET NULL,
    CONSTRAINT user_session_token_hash_key UNIQUE (token_hash),
    CONSTRAINT user_session_token_hash_check CHECK (octet_length(token_hash) = 32),
    CONSTRAINT user_session_replaced_check CHECK (replaced_by IS NULL OR revoked_at IS NOT NULL)
);

CREATE INDEX idx_user_session_family_id ON user_session (family_id);
-- Live sessions of a user, revoked on deactivation and password change.
CREATE INDEX idx_user_session_user_live ON user_session (user_id) WHERE revoked_at IS NULL;
-- Expired rows, deleted by the service's periodic clean-up.
CREATE INDEX idx_user_session_expires_at ON user_session (expires_at);
-- replaced_by references this table: index it so deleting a row does not scan.
CREATE INDEX idx_user_session_replaced_by ON user_session (replaced_by) WHERE replaced_by IS NOT NULL;

CREATE TABLE login_throttle (
    scope        text        NOT NULL,
    subject      text        NOT NULL,
    window_start timestamptz NOT NULL,
    -- A count of failed logins within one throttle window: bounded far below 2^31.
    -- squawk-ignore prefer-bigint-over-int
    failures     integer     NOT NULL,
    PRIMARY KEY (scope, subject),
    CONSTRAINT login_throttle_scope_check CHECK (scope IN ('user', 'login', 'addr')),
    CONSTRAINT login_throttle_failures_check CHECK (failures > 0)
);

CREATE INDEX idx_login_throttle_window_start ON login_throttle (window_start);

GRANT SELECT, INSERT, UPDATE, DELETE ON user_session TO todo_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON login_throttle TO todo_app;

-- +goose Down
REVOKE ALL ON login_throttle FROM todo_app;
REVOKE ALL ON user_session FROM todo_app;
-- Down step: drops the table this migration's up step created.
-- squawk-ignore ban-drop-table
DROP TABLE login_throttle;
-- Down step: drops the table this migration's up step created.
-- squawk-ignore ban-drop-table
DROP TABLE user_session;
