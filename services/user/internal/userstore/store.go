// Package userstore is the PostgreSQL store of the user service: the only
// code that speaks SQL to the "user", user_session and login_throttle tables.
// It translates "no row" into user.ErrNotFound and the unique violations of
// idx_users_email, idx_users_email_lower and idx_users_username into
// user.ErrEmailTaken / user.ErrUsernameTaken at its boundary. Every call is
// one round trip (pgdb.DB.Send: a pgx batch carrying the statement timeout),
// except the refresh-token rotation, which is one explicit transaction
// (pgdb.DB.InTx). Every value is a named argument (pgx.NamedArgs) of SQL
// written in constants.
//
// Reads, and the two writes whose second run cannot undo anything a
// concurrent writer did (revoking a session family, deleting expired rows),
// are retried after a connection failure (pgdb.RetrySafe). Every other write
// is retried only when it cannot have taken effect (pgdb.RetryIfNotSent):
// even one that sets columns to given values would, run again after its
// first run committed, overwrite what another writer changed in between (a
// user reactivated after an admin deactivated it, say).
package userstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/todo-platform/todo/pkg/logging"
	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/services/user/internal/user"
)

// Store implements user.Store on a pgdb.DB.
type Store struct {
	db     *pgdb.DB
	cipher Cipher
	outbox Outbox // nil: no mail
}

var _ user.Store = (*Store)(nil)

// Cipher seals and opens the columns the store encrypts ("user".full_name)
// with an AEAD; keyring.Keyring implements it, and a KMS client could.
type Cipher interface {
	// Encrypt seals plaintext, bound to associatedData, with the primary key.
	Encrypt(plaintext, associatedData []byte) ([]byte, error)
	// Decrypt opens a ciphertext of Encrypt made with any key still held;
	// it fails for other associated data.
	Decrypt(ciphertext, associatedData []byte) ([]byte, error)
	// PrimaryPrefix is how every ciphertext Encrypt makes now begins (the
	// envelope's version and key id): a value that begins otherwise was
	// sealed with an older key.
	PrimaryPrefix() ([]byte, error)
}

// New returns a Store using db, encrypting full names with cipher.
func New(db *pgdb.DB, cipher Cipher, opts ...Option) *Store {
	s := &Store{db: db, cipher: cipher}
	for _, o := range opts {
		o(s)
	}
	return s
}

// userColumns are the columns scanUser reads, in order. full_name is
// either in clear text (written before encryption, see migration 00005) or
// sealed in full_name_ct.
const userColumns = `u.id, u.email, u.username, u.full_name, u.full_name_ct, u.is_active, u.is_verified, u.is_admin, u.created_at, u.updated_at`

// accountColumns are the columns scanAccount reads, in order: the user's,
// its password hash and its token generation (0 when never revoked).
const accountColumns = userColumns + `, u.password_hash, ` + generationColumn

// generationColumn is the token generation of the user u (see migration
// 00007): tokens are issued in it.
const generationColumn = `coalesce((SELECT r.generation FROM user_token_revocation r WHERE r.user_id = u.id), 0)`

type scanner interface {
	Scan(dest ...any) error
}

// storedName is full_name as stored: in clear text (legacy) or sealed.
type storedName struct {
	plain  pgtype.Text
	sealed []byte
}

func userFields(u *user.User, n *storedName) []any {
	return []any{&u.ID, &u.Email, &u.Username, &n.plain, &n.sealed, &u.IsActive, &u.IsVerified, &u.IsAdmin, &u.CreatedAt, &u.UpdatedAt}
}

// fullNameAD is the associated data of the full name of user id: the value
// opens only in the row, table and column it was sealed for.
func fullNameAD(id int64) []byte {
	return []byte(`todo:"user".full_name:` + strconv.FormatInt(id, 10))
}

// sealName returns the ciphertext of user id's full name, nil for none.
func (s *Store) sealName(id int64, name string) ([]byte, error) {
	if name == "" {
		return nil, nil
	}
	ct, err := s.cipher.Encrypt([]byte(name), fullNameAD(id))
	if err != nil {
		return nil, fmt.Errorf("seal full name: %w", err)
	}
	return ct, nil
}

// openName sets u.FullName from n. A value that does not open (sealed for
// another row, or with a key no longer held) is an error: the name is
// never guessed.
func (s *Store) openName(u *user.User, n storedName) error {
	switch {
	case n.sealed != nil:
		pt, err := s.cipher.Decrypt(n.sealed, fullNameAD(u.ID))
		if err != nil {
			return fmt.Errorf("open the full name of user %d: %w", u.ID, err)
		}
		u.FullName = string(pt)
	case n.plain.Valid:
		u.FullName = n.plain.String
	default:
		u.FullName = ""
	}
	return nil
}

func utc(u *user.User) {
	u.CreatedAt = u.CreatedAt.UTC()
	u.UpdatedAt = u.UpdatedAt.UTC()
}

func (s *Store) scanUser(row scanner) (user.User, error) {
	var (
		u user.User
		n storedName
	)
	if err := row.Scan(userFields(&u, &n)...); err != nil {
		return user.User{}, err
	}
	if err := s.openName(&u, n); err != nil {
		return user.User{}, err
	}
	utc(&u)
	return u, nil
}

func (s *Store) scanAccount(row scanner) (user.Account, error) {
	var (
		a user.Account
		n storedName
	)
	if err := row.Scan(append(userFields(&a.User, &n), &a.PasswordHash, &a.TokenGeneration)...); err != nil {
		return user.Account{}, err
	}
	if err := s.openName(&a.User, n); err != nil {
		return user.Account{}, err
	}
	utc(&a.User)
	return a, nil
}

// translate maps pgx and PostgreSQL errors to the domain's sentinel errors,
// keeping the PostgreSQL error in the chain; other errors are returned as
// they are.
func translate(err error) error {
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return user.ErrNotFound
	case pgdb.IsUniqueViolation(err, "idx_users_email"), pgdb.IsUniqueViolation(err, "idx_users_email_lower"):
		return fmt.Errorf("%w (%w)", user.ErrEmailTaken, err)
	case pgdb.IsUniqueViolation(err, "idx_users_username"):
		return fmt.Errorf("%w (%w)", user.ErrUsernameTaken, err)
	}
	return err
}

// auditSQL inserts one user_audit_event row. The target is @target_id, or
// the user named @target_username (created earlier in the transaction), or
// the owner of the session whose token hash is @target_token_hash.
const auditSQL = `
INSERT INTO user_audit_event (actor_kind, actor_id, action, target_kind, target_id, request_id, client_addr, change)
SELECT @actor_kind::text, coalesce(nullif(@actor_id::bigint, 0), CASE WHEN @actor_self::boolean THEN t.id END),
       @action::text, 'user', t.id, nullif(@request_id::text, ''), nullif(@client_addr::text, ''), @change::jsonb
FROM (SELECT coalesce(nullif(@target_id::bigint, 0),
                      (SELECT id FROM "user" WHERE username = nullif(@target_username::text, '')),
                      (SELECT user_id FROM user_session WHERE token_hash = @target_token_hash::bytea)) AS id) t`

// auditArgs returns the arguments of auditSQL for ev.
func auditArgs(ctx context.Context, ev user.Event) (pgx.NamedArgs, error) {
	change := ev.Change
	if change == nil {
		change = map[string]any{}
	}
	js, err := json.Marshal(change)
	if err != nil {
		return nil, fmt.Errorf("audit event %s: %w", ev.Action, err)
	}
	return pgx.NamedArgs{
		"actor_kind":        string(ev.Actor.Kind),
		"actor_id":          ev.Actor.ID,
		"actor_self":        ev.Actor.Self,
		"action":            ev.Action,
		"target_id":         ev.TargetID,
		"target_username":   ev.TargetUsername,
		"target_token_hash": ev.TargetTokenHash,
		"request_id":        logging.RequestID(ctx),
		"client_addr":       ev.ClientAddr,
		"change":            string(js),
	}, nil
}

// send runs the statements queue adds, then the inserts of the audit
// events, in one round trip and one transaction (see pgdb.DB.Send), and
// calls read for the results of queue's statements (an audit insert that
// fails fails the whole batch); the error is translated and wrapped in op.
func (s *Store) send(ctx context.Context, op string, retry pgdb.Retry, queue func(b *pgx.Batch), read func(br pgx.BatchResults) error, audit ...user.Event) error {
	args := make([]pgx.NamedArgs, len(audit))
	for i, ev := range audit {
		a, err := auditArgs(ctx, ev)
		if err != nil {
			return fmt.Errorf("userstore %s: %w", op, err)
		}
		args[i] = a
	}
	q := func(b *pgx.Batch) {
		queue(b)
		for _, a := range args {
			b.Queue(auditSQL, a)
		}
	}
	if err := translate(s.db.Send(ctx, retry, nil, q, read)); err != nil {
		return fmt.Errorf("userstore %s: %w", op, err)
	}
	return nil
}

// queryUser runs one statement returning one user row.
func (s *Store) queryUser(ctx context.Context, op string, retry pgdb.Retry, sql string, args pgx.NamedArgs, audit ...user.Event) (user.User, error) {
	var u user.User
	err := s.send(ctx, op, retry, func(b *pgx.Batch) {
		b.Queue(sql, args)
	}, func(br pgx.BatchResults) error {
		var err error
		u, err = s.scanUser(br.QueryRow())
		return err
	}, audit...)
	return u, err
}

const (
	// nextUserIDSQL takes the id of a user about to be inserted, so that
	// its full name can be sealed for that id first.
	nextUserIDSQL = `SELECT nextval(pg_get_serial_sequence('"user"', 'id'))`
	createUserSQL = `
INSERT INTO "user" AS u (id, email, username, password_hash, full_name_ct, is_admin)
VALUES (coalesce(@id::bigint, nextval(pg_get_serial_sequence('"user"', 'id'))), @email, @username, @password_hash, @full_name_ct::bytea, @is_admin)
RETURNING ` + userColumns
)

// CreateUser inserts u. With a full name it first takes the new row's id
// from the identity's sequence (one more round trip) and seals the name for
// it. A second run would find the first one's row and fail with
// ErrEmailTaken, so the insert is retried only when it cannot have run.
func (s *Store) CreateUser(ctx context.Context, u user.NewUser, audit ...user.Event) (user.User, error) {
	if u.Verification != nil {
		return s.createUserTx(ctx, u, audit)
	}
	var (
		id     *int64
		sealed []byte
	)
	if u.FullName != "" {
		var next int64
		err := s.send(ctx, "create user: next id", pgdb.RetrySafe, func(b *pgx.Batch) {
			b.Queue(nextUserIDSQL)
		}, func(br pgx.BatchResults) error {
			return br.QueryRow().Scan(&next)
		})
		if err != nil {
			return user.User{}, err
		}
		if sealed, err = s.sealName(next, u.FullName); err != nil {
			return user.User{}, fmt.Errorf("userstore create user: %w", err)
		}
		id = &next
	}
	return s.queryUser(ctx, "create user", pgdb.RetryIfNotSent, createUserSQL, pgx.NamedArgs{
		"id":            id,
		"email":         u.Email,
		"username":      u.Username,
		"password_hash": u.PasswordHash,
		"full_name_ct":  sealed,
		"is_admin":      u.IsAdmin,
	}, audit...)
}

const userByIDSQL = `SELECT ` + userColumns + ` FROM "user" u WHERE u.id = @id`

// User returns the user with id.
func (s *Store) User(ctx context.Context, id int64) (user.User, error) {
	return s.queryUser(ctx, "get user", pgdb.RetrySafe, userByIDSQL, pgx.NamedArgs{"id": id})
}

const summariesSQL = `SELECT id, username, is_active FROM "user" WHERE id = ANY(@ids)`

// Summaries returns the users among ids that exist.
func (s *Store) Summaries(ctx context.Context, ids []int64) ([]user.Summary, error) {
	var out []user.Summary
	err := s.send(ctx, "user summaries", pgdb.RetrySafe, func(b *pgx.Batch) {
		b.Queue(summariesSQL, pgx.NamedArgs{"ids": ids})
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (user.Summary, error) {
			var su user.Summary
			err := r.Scan(&su.ID, &su.Username, &su.IsActive)
			return su, err
		})
		return err
	})
	return out, err
}

// The listing queries: keyset over (created_at, id). The explicit
// created_at >= @after_time lets the planner use the created_at indexes for
// the row comparison.
const (
	listUsersSQL = `
SELECT ` + userColumns + ` FROM "user" u
WHERE u.created_at >= @after_time AND (u.created_at, u.id) > (@after_time, @after_id)
ORDER BY u.created_at, u.id
LIMIT @limit`
	listUsersByActiveSQL = `
SELECT ` + userColumns + ` FROM "user" u
WHERE u.is_active = @active AND u.created_at >= @after_time AND (u.created_at, u.id) > (@after_time, @after_id)
ORDER BY u.created_at, u.id
LIMIT @limit`
)

// ListUsers returns up to q.Limit users after q.After.
func (s *Store) ListUsers(ctx context.Context, q user.ListQuery) ([]user.User, error) {
	after := pgtype.Timestamptz{Time: q.After.CreatedAt, Valid: true}
	if q.After == (user.Cursor{}) {
		after = pgtype.Timestamptz{InfinityModifier: pgtype.NegativeInfinity, Valid: true}
	}
	args := pgx.NamedArgs{"after_time": after, "after_id": q.After.ID, "limit": q.Limit}
	sql := listUsersSQL
	if q.Active != nil {
		sql = listUsersByActiveSQL
		args["active"] = *q.Active
	}
	var out []user.User
	err := s.send(ctx, "list users", pgdb.RetrySafe, func(b *pgx.Batch) {
		b.Queue(sql, args)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (user.User, error) { return s.scanUser(r) })
		return err
	})
	return out, err
}

// updateUserSQL changes the fields whose set_* flag is true; is_verified is
// reset when the email changes. SET expressions see the old row.
const updateUserSQL = `
UPDATE "user" AS u SET
    full_name   = CASE WHEN @set_full_name::boolean THEN NULL ELSE u.full_name END,
    full_name_ct = CASE WHEN @set_full_name::boolean THEN @full_name_ct::bytea ELSE u.full_name_ct END,
    username    = CASE WHEN @set_username::boolean THEN @username::text ELSE u.username END,
    email       = CASE WHEN @set_email::boolean THEN @email::text ELSE u.email END,
    is_verified = CASE WHEN @set_email::boolean AND @email::text IS DISTINCT FROM u.email THEN false ELSE u.is_verified END
WHERE u.id = @id
RETURNING ` + userColumns

// UpdateUser applies upd to the user with id. It sets columns to the given
// values, so a second run leaves the row as the first did (the email is
// then unchanged, and is_verified already reset): it is retried after any
// connection failure.
func (s *Store) UpdateUser(ctx context.Context, id int64, upd user.Update, audit ...user.Event) (user.User, error) {
	val := func(p *string) (bool, string) {
		if p == nil {
			return false, ""
		}
		return true, *p
	}
	setName, name := val(upd.FullName)
	setUsername, username := val(upd.Username)
	setEmail, email := val(upd.Email)
	sealed, err := s.sealName(id, name)
	if err != nil {
		return user.User{}, fmt.Errorf("userstore update user: %w", err)
	}
	args := pgx.NamedArgs{
		"id":            id,
		"set_full_name": setName,
		"full_name_ct":  sealed,
		"set_username":  setUsername,
		"username":      username,
		"set_email":     setEmail,
		"email":         email,
	}
	if upd.Verification != nil {
		return s.updateUserTx(ctx, id, args, upd.Verification, audit)
	}
	return s.queryUser(ctx, "update user", pgdb.RetryIfNotSent, updateUserSQL, args, audit...)
}

const (
	setActiveSQL = `UPDATE "user" AS u SET is_active = @active WHERE u.id = @id RETURNING ` + userColumns
	// revokeUserSessionsSQL revokes the live sessions of user @id when
	// @revoke is true.
	revokeUserSessionsSQL = `UPDATE user_session SET revoked_at = now() WHERE user_id = @id AND revoked_at IS NULL AND @revoke::boolean`
	// revokeUserTokensSQL raises the token generation of user @id when
	// @revoke is true, voiding every access token issued before; the
	// table's trigger tells the verifiers on commit.
	revokeUserTokensSQL = `
INSERT INTO user_token_revocation AS r (user_id, generation)
SELECT @id::bigint, 1 WHERE @revoke::boolean
ON CONFLICT (user_id) DO UPDATE SET generation = r.generation + 1, revoked_at = now()`
)

// SetActive sets is_active; deactivation revokes the user's sessions and
// access tokens in the same transaction.
func (s *Store) SetActive(ctx context.Context, id int64, active bool, audit ...user.Event) (user.User, error) {
	var u user.User
	err := s.send(ctx, "set active", pgdb.RetryIfNotSent, func(b *pgx.Batch) {
		b.Queue(setActiveSQL, pgx.NamedArgs{"id": id, "active": active})
		b.Queue(revokeUserSessionsSQL, pgx.NamedArgs{"id": id, "revoke": !active})
		b.Queue(revokeUserTokensSQL, pgx.NamedArgs{"id": id, "revoke": !active})
	}, func(br pgx.BatchResults) error {
		var err error
		if u, err = s.scanUser(br.QueryRow()); err != nil {
			return err
		}
		return execAll(br, 2)
	}, audit...)
	return u, err
}

// execAll reads the results of the next n statements of br.
func execAll(br pgx.BatchResults, n int) error {
	for range n {
		if _, err := br.Exec(); err != nil {
			return err
		}
	}
	return nil
}

// RevokeTokens revokes every live session of the user with id and raises
// its token generation, in one transaction; an unknown id is ErrNotFound.
// A second run would write its audit event again, so it is retried only
// when it cannot have run.
func (s *Store) RevokeTokens(ctx context.Context, id int64, audit ...user.Event) error {
	return s.send(ctx, "revoke tokens", pgdb.RetryIfNotSent, func(b *pgx.Batch) {
		b.Queue(userByIDSQL, pgx.NamedArgs{"id": id})
		b.Queue(revokeUserSessionsSQL, pgx.NamedArgs{"id": id, "revoke": true})
		b.Queue(revokeUserTokensSQL, pgx.NamedArgs{"id": id, "revoke": true})
	}, func(br pgx.BatchResults) error {
		if _, err := s.scanUser(br.QueryRow()); err != nil {
			return err
		}
		return execAll(br, 2)
	}, audit...)
}

const promoteAdminSQL = `UPDATE "user" AS u SET is_admin = true, is_active = true WHERE u.id = @id RETURNING ` + userColumns

// PromoteAdmin makes the user an active admin.
func (s *Store) PromoteAdmin(ctx context.Context, id int64, audit ...user.Event) (user.User, error) {
	return s.queryUser(ctx, "promote admin", pgdb.RetryIfNotSent, promoteAdminSQL, pgx.NamedArgs{"id": id}, audit...)
}

const accountsByEmailOrUsernameSQL = `
SELECT ` + accountColumns + ` FROM "user" u WHERE lower(u.email) = @email OR u.username = @username ORDER BY u.id`

// AccountsByEmailOrUsername returns the accounts with the email or the username.
func (s *Store) AccountsByEmailOrUsername(ctx context.Context, email, username string) ([]user.Account, error) {
	var out []user.Account
	err := s.send(ctx, "accounts by email or username", pgdb.RetrySafe, func(b *pgx.Batch) {
		b.Queue(accountsByEmailOrUsernameSQL, pgx.NamedArgs{"email": email, "username": username})
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (user.Account, error) { return s.scanAccount(r) })
		return err
	})
	return out, err
}

const accountByIDSQL = `SELECT ` + accountColumns + ` FROM "user" u WHERE u.id = @id`

// Account returns the user with id and its password hash.
func (s *Store) Account(ctx context.Context, id int64) (user.Account, error) {
	var a user.Account
	err := s.send(ctx, "get account", pgdb.RetrySafe, func(b *pgx.Batch) {
		b.Queue(accountByIDSQL, pgx.NamedArgs{"id": id})
	}, func(br pgx.BatchResults) error {
		var err error
		a, err = s.scanAccount(br.QueryRow())
		return err
	})
	return a, err
}

const setPasswordHashSQL = `UPDATE "user" SET password_hash = @password_hash WHERE id = @id`

// SetPasswordHash replaces the password hash and optionally revokes the
// user's sessions and access tokens, in one transaction.
func (s *Store) SetPasswordHash(ctx context.Context, id int64, hash string, revokeSessions bool, audit ...user.Event) error {
	return s.send(ctx, "set password hash", pgdb.RetryIfNotSent, func(b *pgx.Batch) {
		b.Queue(setPasswordHashSQL, pgx.NamedArgs{"id": id, "password_hash": hash})
		b.Queue(revokeUserSessionsSQL, pgx.NamedArgs{"id": id, "revoke": revokeSessions})
		b.Queue(revokeUserTokensSQL, pgx.NamedArgs{"id": id, "revoke": revokeSessions})
	}, func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return user.ErrNotFound
		}
		return execAll(br, 2)
	}, audit...)
}

// The account lookups of a sign-in, each with the account's open failure
// counter (@window_seconds: the window's length).
const (
	loginStateAccountSelect = `
SELECT ` + accountColumns + `, coalesce(t.failures, 0),
       coalesce(extract(epoch FROM t.window_start + @window_seconds::float8 * interval '1 second' - now()), 0)::float8
FROM "user" u
LEFT JOIN login_throttle t
       ON t.scope = 'user' AND t.subject = u.id::text || @pair_suffix::text
      AND t.window_start > now() - @window_seconds::float8 * interval '1 second'
`
	loginStateByIDSQL       = loginStateAccountSelect + `WHERE u.id = @id`
	loginStateByEmailSQL    = loginStateAccountSelect + `WHERE lower(u.email) = @email`
	loginStateByUsernameSQL = loginStateAccountSelect + `WHERE u.username = @username`

	// loginStateCountersSQL reads the open counters of the client address
	// (@addr) and of the identifier as an unknown login (@login).
	loginStateCountersSQL = `
SELECT scope, subject, failures,
       extract(epoch FROM window_start + @window_seconds::float8 * interval '1 second' - now())::float8
FROM login_throttle
WHERE window_start > now() - @window_seconds::float8 * interval '1 second'
  AND ((scope = 'addr' AND subject = @addr) OR (scope = 'login' AND subject = @login))`
)

func seconds(f float64) time.Duration {
	return time.Duration(f * float64(time.Second))
}

// LoginState returns the account l names and the open failure counters, in
// one round trip.
func (s *Store) LoginState(ctx context.Context, l user.Lookup, addr string, window time.Duration) (user.LoginState, error) {
	// The pair counters' subjects (user.PairSubject): the account or
	// identifier, then this suffix.
	suffix := user.PairSubject("", addr)
	args := pgx.NamedArgs{"window_seconds": window.Seconds(), "addr": addr, "pair_suffix": suffix}
	account := loginStateByUsernameSQL
	switch {
	case l.ID != 0:
		account = loginStateByIDSQL
		args["id"] = l.ID
		args["login"] = ""
	case l.Email != "":
		account = loginStateByEmailSQL
		args["email"] = l.Email
		args["login"] = user.PairSubject(l.Email, addr)
	default:
		args["username"] = l.Username
		args["login"] = user.PairSubject(l.Username, addr)
	}
	var st user.LoginState
	err := s.send(ctx, "login state", pgdb.RetrySafe, func(b *pgx.Batch) {
		b.Queue(account, args)
		b.Queue(loginStateCountersSQL, args)
	}, func(br pgx.BatchResults) error {
		st = user.LoginState{}
		var (
			a        user.Account
			name     storedName
			failures int
			secs     float64
		)
		err := br.QueryRow().Scan(append(userFields(&a.User, &name), &a.PasswordHash, &a.TokenGeneration, &failures, &secs)...)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return err
		default:
			if err := s.openName(&a.User, name); err != nil {
				return err
			}
			utc(&a.User)
			st.Account = &a
			if failures > 0 {
				st.Counters = append(st.Counters, user.ThrottleCount{
					Key:        user.ThrottleKey{Scope: user.ScopeUser, Subject: user.PairSubject(strconv.FormatInt(a.ID, 10), addr)},
					Failures:   failures,
					RetryAfter: seconds(secs),
				})
			}
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		counters, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (user.ThrottleCount, error) {
			var (
				c    user.ThrottleCount
				secs float64
			)
			err := r.Scan(&c.Key.Scope, &c.Key.Subject, &c.Failures, &secs)
			c.RetryAfter = seconds(secs)
			return c, err
		})
		if err != nil {
			return err
		}
		for _, c := range counters {
			if c.Key.Scope == user.ScopeLogin && st.Account != nil {
				continue // an existing account is counted by id
			}
			st.Counters = append(st.Counters, c)
		}
		return nil
	})
	return st, err
}

// recordFailuresSQL adds one failure per (scope, subject); a counter whose
// window has closed starts a new window with one failure. SET expressions see
// the old row.
const recordFailuresSQL = `
INSERT INTO login_throttle AS t (scope, subject, window_start, failures)
SELECT k.scope, k.subject, now(), 1 FROM unnest(@scopes::text[], @subjects::text[]) AS k(scope, subject)
ON CONFLICT (scope, subject) DO UPDATE SET
    failures     = CASE WHEN t.window_start > now() - @window_seconds::float8 * interval '1 second' THEN t.failures + 1 ELSE 1 END,
    window_start = CASE WHEN t.window_start > now() - @window_seconds::float8 * interval '1 second' THEN t.window_start ELSE now() END`

// RecordFailures adds one failure to each counter in keys. A second run
// would count the failure twice, so it is retried only when it cannot have
// run.
func (s *Store) RecordFailures(ctx context.Context, keys []user.ThrottleKey, window time.Duration, audit ...user.Event) error {
	scopes := make([]string, len(keys))
	subjects := make([]string, len(keys))
	for i, k := range keys {
		scopes[i], subjects[i] = string(k.Scope), k.Subject
	}
	return s.send(ctx, "record failures", pgdb.RetryIfNotSent, func(b *pgx.Batch) {
		b.Queue(recordFailuresSQL, pgx.NamedArgs{"scopes": scopes, "subjects": subjects, "window_seconds": window.Seconds()})
	}, func(br pgx.BatchResults) error {
		_, err := br.Exec()
		return err
	}, audit...)
}

// countAttemptSQL adds one attempt to the counter (@scope, @subject) (a
// closed window starts again at one) and returns the count and the
// seconds left in the window.
const countAttemptSQL = `
INSERT INTO login_throttle AS t (scope, subject, window_start, failures)
VALUES (@scope, @subject, now(), 1)
ON CONFLICT (scope, subject) DO UPDATE SET
    failures     = CASE WHEN t.window_start > now() - @window_seconds::float8 * interval '1 second' THEN t.failures + 1 ELSE 1 END,
    window_start = CASE WHEN t.window_start > now() - @window_seconds::float8 * interval '1 second' THEN t.window_start ELSE now() END
RETURNING failures, extract(epoch FROM window_start + @window_seconds::float8 * interval '1 second' - now())::float8`

// CountAttempt adds an attempt to the counter key. A second run would
// count it twice, so it is retried only when it cannot have run.
func (s *Store) CountAttempt(ctx context.Context, key user.ThrottleKey, window time.Duration) (user.ThrottleCount, error) {
	c := user.ThrottleCount{Key: key}
	err := s.send(ctx, "count attempt", pgdb.RetryIfNotSent, func(b *pgx.Batch) {
		b.Queue(countAttemptSQL, pgx.NamedArgs{"scope": string(key.Scope), "subject": key.Subject, "window_seconds": window.Seconds()})
	}, func(br pgx.BatchResults) error {
		var secs float64
		if err := br.QueryRow().Scan(&c.Failures, &secs); err != nil {
			return err
		}
		c.RetryAfter = seconds(secs)
		return nil
	})
	return c, err
}

// insertSessionSQL inserts a session unless the user's token generation
// is no longer @generation: the user's tokens were revoked since the
// sign-in read it, and the session would outlive that revocation.
const insertSessionSQL = `
INSERT INTO user_session (user_id, token_hash, expires_at)
SELECT @user_id, @token_hash, @expires_at
WHERE coalesce((SELECT r.generation FROM user_token_revocation r WHERE r.user_id = @user_id), 0) = @generation`

// StartSession stores a new session family and optionally a new password
// hash. A second run would insert the token hash again and fail on its
// uniqueness, so it is retried only when it cannot have run.
func (s *Store) StartSession(ctx context.Context, sess user.NewSession, rehash string, audit ...user.Event) error {
	return s.send(ctx, "start session", pgdb.RetryIfNotSent, func(b *pgx.Batch) {
		b.Queue(insertSessionSQL, pgx.NamedArgs{"user_id": sess.UserID, "token_hash": sess.TokenHash, "expires_at": sess.ExpiresAt, "generation": sess.Generation})
		if rehash != "" {
			b.Queue(setPasswordHashSQL, pgx.NamedArgs{"id": sess.UserID, "password_hash": rehash})
		}
	}, func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return user.ErrTokensRevoked
		}
		if rehash != "" {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		return nil
	}, audit...)
}

const (
	lockSessionSQL = `
SELECT s.id, s.user_id, s.family_id, s.expires_at, s.revoked_at IS NOT NULL, s.replaced_by IS NOT NULL, ` + generationColumn + `, ` + userColumns + `
FROM user_session s
JOIN "user" u ON u.id = s.user_id
WHERE s.token_hash = @token_hash
FOR UPDATE OF s`
	rotateSessionSQL = `
WITH next AS (
    INSERT INTO user_session (family_id, user_id, token_hash, expires_at)
    VALUES (@family_id, @user_id, @token_hash, @expires_at)
    RETURNING id
)
UPDATE user_session SET revoked_at = now(), replaced_by = (SELECT id FROM next) WHERE id = @id`
	revokeFamilyByIDSQL = `UPDATE user_session SET revoked_at = now() WHERE family_id = @family_id AND revoked_at IS NULL`
)

// RotateSession locks the session with tokenHash and applies decide's
// Rotation, in one transaction. A transaction whose connection failed
// before its COMMIT is run again, decide included; a failure of the COMMIT
// itself is not retried (pgdb.RetryIfNotSent): had the rotation committed,
// the second run would find the session spent and revoke its family.
func (s *Store) RotateSession(ctx context.Context, tokenHash []byte, decide func(user.RefreshSession) (user.Rotation, error)) error {
	err := s.db.InTx(ctx, pgdb.RetryIfNotSent, nil, func(tx pgx.Tx) error {
		var (
			cur    user.RefreshSession
			family pgtype.UUID
			name   storedName
		)
		fields := append([]any{&cur.ID, &cur.UserID, &family, &cur.ExpiresAt, &cur.Revoked, &cur.Replaced, &cur.TokenGeneration}, userFields(&cur.User, &name)...)
		if err := tx.QueryRow(ctx, lockSessionSQL, pgx.NamedArgs{"token_hash": tokenHash}).Scan(fields...); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return user.ErrInvalidRefreshToken
			}
			return fmt.Errorf("lock session: %w", err)
		}
		if err := s.openName(&cur.User, name); err != nil {
			return err
		}
		cur.ExpiresAt = cur.ExpiresAt.UTC()
		utc(&cur.User)
		r, err := decide(cur)
		if err != nil {
			return err
		}
		switch {
		case r.Next != nil:
			if _, err := tx.Exec(ctx, rotateSessionSQL, pgx.NamedArgs{
				"family_id":  family,
				"user_id":    r.Next.UserID,
				"token_hash": r.Next.TokenHash,
				"expires_at": r.Next.ExpiresAt,
				"id":         cur.ID,
			}); err != nil {
				return fmt.Errorf("rotate session: %w", err)
			}
		case r.RevokeFamily:
			if _, err := tx.Exec(ctx, revokeFamilyByIDSQL, pgx.NamedArgs{"family_id": family}); err != nil {
				return fmt.Errorf("revoke session family: %w", err)
			}
		}
		for _, ev := range r.Audit {
			args, err := auditArgs(ctx, ev)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, auditSQL, args); err != nil {
				return fmt.Errorf("audit %s: %w", ev.Action, err)
			}
		}
		return nil
	})
	if err := translate(err); err != nil {
		return fmt.Errorf("userstore rotate session: %w", err)
	}
	return nil
}

const revokeFamilySQL = `
UPDATE user_session SET revoked_at = now()
WHERE family_id = (SELECT family_id FROM user_session WHERE token_hash = @token_hash) AND revoked_at IS NULL`

// RevokeFamily revokes the family of the session with tokenHash. A second
// run would find nothing left to revoke but write its audit event again,
// so it is retried only when it cannot have run.
func (s *Store) RevokeFamily(ctx context.Context, tokenHash []byte, audit ...user.Event) error {
	return s.send(ctx, "revoke session family", pgdb.RetryIfNotSent, func(b *pgx.Batch) {
		b.Queue(revokeFamilySQL, pgx.NamedArgs{"token_hash": tokenHash})
	}, func(br pgx.BatchResults) error {
		_, err := br.Exec()
		return err
	}, audit...)
}

const (
	deleteExpiredSessionsSQL = `DELETE FROM user_session WHERE expires_at < @before`
	deleteClosedCountersSQL  = `DELETE FROM login_throttle WHERE window_start < @before`
	deleteExpiredTokensSQL   = `DELETE FROM user_email_token WHERE expires_at < @before`
)

// DeleteExpired deletes expired sessions and closed counters and returns how
// many rows it deleted. A second run finds nothing left to delete of what
// the first deleted; after a retry the count is the second run's.
func (s *Store) DeleteExpired(ctx context.Context, sessionsBefore, throttleBefore time.Time) (int64, error) {
	var n int64
	err := s.send(ctx, "delete expired", pgdb.RetrySafe, func(b *pgx.Batch) {
		b.Queue(deleteExpiredSessionsSQL, pgx.NamedArgs{"before": sessionsBefore})
		b.Queue(deleteClosedCountersSQL, pgx.NamedArgs{"before": throttleBefore})
		b.Queue(deleteExpiredTokensSQL, pgx.NamedArgs{"before": sessionsBefore})
	}, func(br pgx.BatchResults) error {
		n = 0
		for range 3 {
			tag, err := br.Exec()
			if err != nil {
				return err
			}
			n += tag.RowsAffected()
		}
		return nil
	})
	return n, err
}

// maintainAuditSQL calls audit_maintain (user set 00003) on the user
// service's audit table.
const maintainAuditSQL = `SELECT array(SELECT audit_maintain('user_audit_event', @months_ahead::integer, @keep_months::integer))`

// MaintainAudit makes and drops audit partitions (see user.Store). A second
// run finds the partitions made and the old ones gone.
func (s *Store) MaintainAudit(ctx context.Context, monthsAhead, keepMonths int) ([]string, error) {
	var dropped []string
	err := s.send(ctx, "maintain audit", pgdb.RetrySafe, func(b *pgx.Batch) {
		b.Queue(maintainAuditSQL, pgx.NamedArgs{"months_ahead": monthsAhead, "keep_months": keepMonths})
	}, func(br pgx.BatchResults) error {
		return br.QueryRow().Scan(&dropped)
	})
	return dropped, err
}
