-- Single-use tokens sent by mail (issue 14, docs/security.md): email
-- verification and password reset.
--
-- A token is 256 random bits, mailed once and stored only as its SHA-256
-- (token_hash). email is the address it was sent to: a verification token
-- verifies that address only, and is refused once the user's email has
-- changed. used_at is set when it is spent (or voided by a later reset);
-- expired and used rows are deleted by the service's periodic clean-up.
-- The mail itself is a River job in river_user (package mail), written in
-- the same transaction as the token.

-- +goose Up
-- Applied before migrations were linted (squawk); new migrations set lock_timeout and statement_timeout first (docs/migrations.md).
-- squawk-ignore require-lock-timeout, require-statement-timeout
CREATE TABLE user_email_token (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
    purpose    text        NOT NULL,
    token_hash bytea       NOT NULL,
    email      text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    CONSTRAINT user_email_token_token_hash_key UNIQUE (token_hash),
    CONSTRAINT user_email_token_token_hash_check CHECK (octet_length(token_hash) = 32),
    CONSTRAINT user_email_token_purpose_check CHECK (purpose IN ('verify_email', 'reset_password'))
);

-- A user's live tokens of one purpose (a reset voids the others).
CREATE INDEX idx_user_email_token_user ON user_email_token (user_id, purpose) WHERE used_at IS NULL;
-- The clean-up.
CREATE INDEX idx_user_email_token_expires_at ON user_email_token (expires_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON user_email_token TO todo_user_svc;

-- +goose Down
-- Down step: drops the table this migration's up step created.
-- squawk-ignore ban-drop-table
DROP TABLE user_email_token;
