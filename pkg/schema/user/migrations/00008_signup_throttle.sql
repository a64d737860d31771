-- A sign-up throttle per client address (issue 14, docs/security.md):
-- login_throttle gains the scope 'signup' (subject: the client address or
-- IPv6 /64), counting sign-up attempts in the same fixed windows as failed
-- sign-ins, and 'mail' (subject: "<kind> <user id or address>"), counting
-- the mails a user or an address asks for (verification resends, password
-- resets). The counters of scopes 'user' and 'login' are now per account
-- (or unknown identifier) and client address: their subjects become
-- "<account> <address>"; rows of the old form simply expire.
--
-- The new CHECK is added NOT VALID and validated apart, so that the
-- table is not locked against writes while its rows are checked.

-- +goose Up
-- Applied before migrations were linted (squawk); new migrations set lock_timeout and statement_timeout first (docs/migrations.md).
-- squawk-ignore require-lock-timeout, require-statement-timeout
ALTER TABLE login_throttle DROP CONSTRAINT login_throttle_scope_check;
ALTER TABLE login_throttle ADD CONSTRAINT login_throttle_scope_check
    CHECK (scope IN ('user', 'login', 'addr', 'signup', 'mail')) NOT VALID;
-- Applied before migrations were linted; login_throttle is small and short-lived (rows expire with their window), so validating in the same transaction holds its lock briefly.
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE login_throttle VALIDATE CONSTRAINT login_throttle_scope_check;

-- +goose Down
DELETE FROM login_throttle WHERE scope IN ('signup', 'mail');
ALTER TABLE login_throttle DROP CONSTRAINT login_throttle_scope_check;
ALTER TABLE login_throttle ADD CONSTRAINT login_throttle_scope_check
    CHECK (scope IN ('user', 'login', 'addr')) NOT VALID;
-- Down step: undoes this migration's up step.
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE login_throttle VALIDATE CONSTRAINT login_throttle_scope_check;
