-- Column-level encryption of "user".full_name (see docs/security.md).
--
-- full_name_ct holds the name sealed by the user service with AES-256-GCM
-- (a Tink keyset, DATA_KEYRING_FILE): version byte 0x01, 4-byte key id,
-- 12-byte nonce, ciphertext and tag, bound by its associated data to
-- "user".full_name and the row's id. The service writes only full_name_ct
-- and leaves full_name NULL; full_name keeps the names written before this
-- migration (or by an older version during a rolling upgrade) until
-- `user-service keys reencrypt` seals them, and stays in the table because
-- the spec's schema names it.
--
-- The service learns the id of a new row before inserting it (nextval on
-- the identity's sequence), since the ciphertext is bound to it: hence
-- USAGE on the sequence.

-- +goose Up
-- Applied before migrations were linted (squawk); new migrations set lock_timeout and statement_timeout first (docs/migrations.md).
-- squawk-ignore require-lock-timeout, require-statement-timeout
ALTER TABLE "user" ADD COLUMN full_name_ct bytea;
ALTER TABLE "user" ADD CONSTRAINT user_full_name_one_form_check
    CHECK (full_name IS NULL OR full_name_ct IS NULL) NOT VALID;
GRANT USAGE ON SEQUENCE user_id_seq TO todo_app;

-- +goose Down
-- Dropping the column would lose every encrypted name: write them back in
-- clear text first (user-service keys decrypt).
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT FROM "user" WHERE full_name_ct IS NOT NULL) THEN
        RAISE EXCEPTION 'encrypted names are still stored in "user".full_name_ct: run user-service keys decrypt before migrating down';
    END IF;
END
$$;
-- +goose StatementEnd
REVOKE USAGE ON SEQUENCE user_id_seq FROM todo_app;
ALTER TABLE "user" DROP CONSTRAINT user_full_name_one_form_check;
-- Down step: drops the column this migration's up step added.
-- squawk-ignore ban-drop-column
ALTER TABLE "user" DROP COLUMN full_name_ct;
