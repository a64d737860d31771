// Package userstore is the PostgreSQL store of the user service: the only
// code that speaks SQL to the "user", user_session and login_throttle tables.
// It translates "no row" into user.ErrNotFound and unique violations into
// user.ErrEmailTaken / user.ErrUsernameTaken at its boundary. Every call is
// one round trip (a pgx batch carrying the statement timeout), except the
// refresh-token rotation, which is one explicit transaction.
package userstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/services/user/internal/user"
)

// Store implements user.Store on a pgdb.DB.
type Store struct {
	db *pgdb.DB
}

var _ user.Store = (*Store)(nil)

// New returns a Store using db.
func New(db *pgdb.DB) *Store {
	return &Store{db: db}
}

// userColumns are the columns scanUser reads, in order.
const userColumns = `u.id, u.email, u.username, coalesce(u.full_name, ''), u.is_active, u.is_verified, u.is_admin, u.created_at, u.updated_at`

// accountColumns are the columns scanAccount reads, in order.
const accountColumns = userColumns + `, u.password_hash`

type scanner interface {
	Scan(dest ...any) error
}

func userFields(u *user.User) []any {
	return []any{&u.ID, &u.Email, &u.Username, &u.FullName, &u.IsActive, &u.IsVerified, &u.IsAdmin, &u.CreatedAt, &u.UpdatedAt}
}

func utc(u *user.User) {
	u.CreatedAt = u.CreatedAt.UTC()
	u.UpdatedAt = u.UpdatedAt.UTC()
}

func scanUser(row scanner) (user.User, error) {
	var u user.User
	if err := row.Scan(userFields(&u)...); err != nil {
		return user.User{}, err
	}
	utc(&u)
	return u, nil
}

func scanAccount(row scanner) (user.Account, error) {
	var a user.Account
	if err := row.Scan(append(userFields(&a.User), &a.PasswordHash)...); err != nil {
		return user.Account{}, err
	}
	utc(&a.User)
	return a, nil
}

// translate maps pgx and PostgreSQL errors to the domain's sentinel errors.
func translate(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return user.ErrNotFound
	}
	switch {
	case pgdb.IsUniqueViolation(err, "idx_users_email"), pgdb.IsUniqueViolation(err, "idx_users_email_lower"):
		return fmt.Errorf("%w (%w)", user.ErrEmailTaken, err)
	case pgdb.IsUniqueViolation(err, "idx_users_username"):
		return fmt.Errorf("%w (%w)", user.ErrUsernameTaken, err)
	}
	return err
}

// send runs the statements queue adds in one round trip (see pgdb.DB.Send)
// and calls read for their results, returning the error translated.
func (s *Store) send(ctx context.Context, retry pgdb.Retry, queue func(b *pgx.Batch), read func(br pgx.BatchResults) error) error {
	return translate(s.db.Send(ctx, retry, nil, queue, read))
}

// queryUser runs one statement returning one user row.
func (s *Store) queryUser(ctx context.Context, retry pgdb.Retry, sql string, args ...any) (user.User, error) {
	var u user.User
	err := s.send(ctx, retry, func(b *pgx.Batch) {
		b.Queue(sql, args...)
	}, func(br pgx.BatchResults) error {
		var err error
		u, err = scanUser(br.QueryRow())
		return err
	})
	return u, err
}

const createUserSQL = `
INSERT INTO "user" AS u (email, username, password_hash, full_name, is_admin)
VALUES ($1, $2, $3, nullif($4, ''), $5)
RETURNING ` + userColumns

// CreateUser inserts u.
func (s *Store) CreateUser(ctx context.Context, u user.NewUser) (user.User, error) {
	return s.queryUser(ctx, pgdb.RetryIfNotSent, createUserSQL, u.Email, u.Username, u.PasswordHash, u.FullName, u.IsAdmin)
}

const userByIDSQL = `SELECT ` + userColumns + ` FROM "user" u WHERE u.id = $1`

// User returns the user with id.
func (s *Store) User(ctx context.Context, id int64) (user.User, error) {
	return s.queryUser(ctx, pgdb.RetrySafe, userByIDSQL, id)
}

const summariesSQL = `SELECT id, username, is_active FROM "user" WHERE id = ANY($1)`

// Summaries returns the users among ids that exist.
func (s *Store) Summaries(ctx context.Context, ids []int64) ([]user.Summary, error) {
	var out []user.Summary
	err := s.send(ctx, pgdb.RetrySafe, func(b *pgx.Batch) {
		b.Queue(summariesSQL, ids)
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
// created_at >= $1 lets the planner use the created_at indexes for the row
// comparison.
const (
	listUsersSQL = `
SELECT ` + userColumns + ` FROM "user" u
WHERE u.created_at >= $1 AND (u.created_at, u.id) > ($1, $2)
ORDER BY u.created_at, u.id
LIMIT $3`
	listUsersByActiveSQL = `
SELECT ` + userColumns + ` FROM "user" u
WHERE u.is_active = $4 AND u.created_at >= $1 AND (u.created_at, u.id) > ($1, $2)
ORDER BY u.created_at, u.id
LIMIT $3`
)

// ListUsers returns up to q.Limit users after q.After.
func (s *Store) ListUsers(ctx context.Context, q user.ListQuery) ([]user.User, error) {
	after := pgtype.Timestamptz{Time: q.After.CreatedAt, Valid: true}
	if q.After == (user.Cursor{}) {
		after = pgtype.Timestamptz{InfinityModifier: pgtype.NegativeInfinity, Valid: true}
	}
	var out []user.User
	err := s.send(ctx, pgdb.RetrySafe, func(b *pgx.Batch) {
		if q.Active == nil {
			b.Queue(listUsersSQL, after, q.After.ID, q.Limit)
		} else {
			b.Queue(listUsersByActiveSQL, after, q.After.ID, q.Limit, *q.Active)
		}
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (user.User, error) { return scanUser(r) })
		return err
	})
	return out, err
}

// updateUserSQL changes the fields whose flag is true; is_verified is reset
// when the email changes. SET expressions see the old row.
const updateUserSQL = `
UPDATE "user" AS u SET
    full_name   = CASE WHEN $2::boolean THEN nullif($3::text, '') ELSE u.full_name END,
    username    = CASE WHEN $4::boolean THEN $5::text ELSE u.username END,
    email       = CASE WHEN $6::boolean THEN $7::text ELSE u.email END,
    is_verified = CASE WHEN $6::boolean AND $7::text IS DISTINCT FROM u.email THEN false ELSE u.is_verified END
WHERE u.id = $1
RETURNING ` + userColumns

// UpdateUser applies upd to the user with id.
func (s *Store) UpdateUser(ctx context.Context, id int64, upd user.Update) (user.User, error) {
	val := func(p *string) (bool, string) {
		if p == nil {
			return false, ""
		}
		return true, *p
	}
	setName, name := val(upd.FullName)
	setUsername, username := val(upd.Username)
	setEmail, email := val(upd.Email)
	return s.queryUser(ctx, pgdb.RetrySafe, updateUserSQL, id, setName, name, setUsername, username, setEmail, email)
}

const (
	setActiveSQL = `UPDATE "user" AS u SET is_active = $2 WHERE u.id = $1 RETURNING ` + userColumns
	// revokeUserSessionsSQL revokes the live sessions of user $1 when $2 is true.
	revokeUserSessionsSQL = `UPDATE user_session SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL AND $2::boolean`
)

// SetActive sets is_active; deactivation revokes the user's sessions in the
// same transaction.
func (s *Store) SetActive(ctx context.Context, id int64, active bool) (user.User, error) {
	var u user.User
	err := s.send(ctx, pgdb.RetrySafe, func(b *pgx.Batch) {
		b.Queue(setActiveSQL, id, active)
		b.Queue(revokeUserSessionsSQL, id, !active)
	}, func(br pgx.BatchResults) error {
		var err error
		if u, err = scanUser(br.QueryRow()); err != nil {
			return err
		}
		_, err = br.Exec()
		return err
	})
	return u, err
}

const promoteAdminSQL = `UPDATE "user" AS u SET is_admin = true, is_active = true WHERE u.id = $1 RETURNING ` + userColumns

// PromoteAdmin makes the user an active admin.
func (s *Store) PromoteAdmin(ctx context.Context, id int64) (user.User, error) {
	return s.queryUser(ctx, pgdb.RetrySafe, promoteAdminSQL, id)
}

const accountsByEmailOrUsernameSQL = `
SELECT ` + accountColumns + ` FROM "user" u WHERE lower(u.email) = $1 OR u.username = $2 ORDER BY u.id`

// AccountsByEmailOrUsername returns the accounts with the email or the username.
func (s *Store) AccountsByEmailOrUsername(ctx context.Context, email, username string) ([]user.Account, error) {
	var out []user.Account
	err := s.send(ctx, pgdb.RetrySafe, func(b *pgx.Batch) {
		b.Queue(accountsByEmailOrUsernameSQL, email, username)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (user.Account, error) { return scanAccount(r) })
		return err
	})
	return out, err
}

const accountByIDSQL = `SELECT ` + accountColumns + ` FROM "user" u WHERE u.id = $1`

// Account returns the user with id and its password hash.
func (s *Store) Account(ctx context.Context, id int64) (user.Account, error) {
	var a user.Account
	err := s.send(ctx, pgdb.RetrySafe, func(b *pgx.Batch) {
		b.Queue(accountByIDSQL, id)
	}, func(br pgx.BatchResults) error {
		var err error
		a, err = scanAccount(br.QueryRow())
		return err
	})
	return a, err
}

const setPasswordHashSQL = `UPDATE "user" SET password_hash = $2 WHERE id = $1`

// SetPasswordHash replaces the password hash and optionally revokes the
// user's sessions, in one transaction.
func (s *Store) SetPasswordHash(ctx context.Context, id int64, hash string, revokeSessions bool) error {
	return s.send(ctx, pgdb.RetrySafe, func(b *pgx.Batch) {
		b.Queue(setPasswordHashSQL, id, hash)
		b.Queue(revokeUserSessionsSQL, id, revokeSessions)
	}, func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return user.ErrNotFound
		}
		_, err = br.Exec()
		return err
	})
}

// The account lookups of a sign-in, each with the account's open failure
// counter ($2: the window in seconds).
const (
	loginStateAccountSelect = `
SELECT ` + accountColumns + `, coalesce(t.failures, 0),
       coalesce(extract(epoch FROM t.window_start + $2::float8 * interval '1 second' - now()), 0)::float8
FROM "user" u
LEFT JOIN login_throttle t
       ON t.scope = 'user' AND t.subject = u.id::text
      AND t.window_start > now() - $2::float8 * interval '1 second'
`
	loginStateByIDSQL       = loginStateAccountSelect + `WHERE u.id = $1`
	loginStateByEmailSQL    = loginStateAccountSelect + `WHERE lower(u.email) = $1`
	loginStateByUsernameSQL = loginStateAccountSelect + `WHERE u.username = $1`

	// loginStateCountersSQL reads the open counters of the client address
	// ($1) and of the identifier ($2) as an unknown login.
	loginStateCountersSQL = `
SELECT scope, subject, failures,
       extract(epoch FROM window_start + $3::float8 * interval '1 second' - now())::float8
FROM login_throttle
WHERE window_start > now() - $3::float8 * interval '1 second'
  AND ((scope = 'addr' AND subject = $1) OR (scope = 'login' AND subject = $2))`
)

func seconds(f float64) time.Duration {
	return time.Duration(f * float64(time.Second))
}

// LoginState returns the account l names and the open failure counters, in
// one round trip.
func (s *Store) LoginState(ctx context.Context, l user.Lookup, addr string, window time.Duration) (user.LoginState, error) {
	w := window.Seconds()
	var st user.LoginState
	err := s.send(ctx, pgdb.RetrySafe, func(b *pgx.Batch) {
		var ident string
		switch {
		case l.ID != 0:
			b.Queue(loginStateByIDSQL, l.ID, w)
		case l.Email != "":
			ident = l.Email
			b.Queue(loginStateByEmailSQL, l.Email, w)
		default:
			ident = l.Username
			b.Queue(loginStateByUsernameSQL, l.Username, w)
		}
		b.Queue(loginStateCountersSQL, addr, ident, w)
	}, func(br pgx.BatchResults) error {
		st = user.LoginState{}
		var (
			a        user.Account
			failures int
			secs     float64
		)
		err := br.QueryRow().Scan(append(userFields(&a.User), &a.PasswordHash, &failures, &secs)...)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return err
		default:
			utc(&a.User)
			st.Account = &a
			if failures > 0 {
				st.Counters = append(st.Counters, user.ThrottleCount{
					Key:        user.ThrottleKey{Scope: user.ScopeUser, Subject: strconv.FormatInt(a.ID, 10)},
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
SELECT k.scope, k.subject, now(), 1 FROM unnest($1::text[], $2::text[]) AS k(scope, subject)
ON CONFLICT (scope, subject) DO UPDATE SET
    failures     = CASE WHEN t.window_start > now() - $3::float8 * interval '1 second' THEN t.failures + 1 ELSE 1 END,
    window_start = CASE WHEN t.window_start > now() - $3::float8 * interval '1 second' THEN t.window_start ELSE now() END`

// RecordFailures adds one failure to each counter in keys.
func (s *Store) RecordFailures(ctx context.Context, keys []user.ThrottleKey, window time.Duration) error {
	scopes := make([]string, len(keys))
	subjects := make([]string, len(keys))
	for i, k := range keys {
		scopes[i], subjects[i] = string(k.Scope), k.Subject
	}
	return s.send(ctx, pgdb.RetryIfNotSent, func(b *pgx.Batch) {
		b.Queue(recordFailuresSQL, scopes, subjects, window.Seconds())
	}, func(br pgx.BatchResults) error {
		_, err := br.Exec()
		return err
	})
}

const insertSessionSQL = `INSERT INTO user_session (user_id, token_hash, expires_at) VALUES ($1, $2, $3)`

// StartSession stores a new session family and optionally a new password hash.
func (s *Store) StartSession(ctx context.Context, sess user.NewSession, rehash string) error {
	return s.send(ctx, pgdb.RetryIfNotSent, func(b *pgx.Batch) {
		b.Queue(insertSessionSQL, sess.UserID, sess.TokenHash, sess.ExpiresAt)
		if rehash != "" {
			b.Queue(setPasswordHashSQL, sess.UserID, rehash)
		}
	}, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		if rehash != "" {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		return nil
	})
}

const (
	lockSessionSQL = `
SELECT s.id, s.user_id, s.family_id, s.expires_at, s.revoked_at IS NOT NULL, s.replaced_by IS NOT NULL, ` + userColumns + `
FROM user_session s
JOIN "user" u ON u.id = s.user_id
WHERE s.token_hash = $1
FOR UPDATE OF s`
	rotateSessionSQL = `
WITH next AS (
    INSERT INTO user_session (family_id, user_id, token_hash, expires_at)
    VALUES ($1, $2, $3, $4)
    RETURNING id
)
UPDATE user_session SET revoked_at = now(), replaced_by = (SELECT id FROM next) WHERE id = $5`
	revokeFamilyByIDSQL = `UPDATE user_session SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL`
)

// RotateSession locks the session with tokenHash and applies decide's Rotation.
func (s *Store) RotateSession(ctx context.Context, tokenHash []byte, decide func(user.RefreshSession) (user.Rotation, error)) error {
	err := s.db.InTx(ctx, pgdb.RetryIfNotSent, nil, func(tx pgx.Tx) error {
		var (
			cur    user.RefreshSession
			family pgtype.UUID
		)
		fields := append([]any{&cur.ID, &cur.UserID, &family, &cur.ExpiresAt, &cur.Revoked, &cur.Replaced}, userFields(&cur.User)...)
		if err := tx.QueryRow(ctx, lockSessionSQL, tokenHash).Scan(fields...); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return user.ErrInvalidRefreshToken
			}
			return fmt.Errorf("lock session: %w", err)
		}
		cur.ExpiresAt = cur.ExpiresAt.UTC()
		utc(&cur.User)
		r, err := decide(cur)
		if err != nil {
			return err
		}
		switch {
		case r.Next != nil:
			if _, err := tx.Exec(ctx, rotateSessionSQL, family, r.Next.UserID, r.Next.TokenHash, r.Next.ExpiresAt, cur.ID); err != nil {
				return fmt.Errorf("rotate session: %w", err)
			}
		case r.RevokeFamily:
			if _, err := tx.Exec(ctx, revokeFamilyByIDSQL, family); err != nil {
				return fmt.Errorf("revoke session family: %w", err)
			}
		}
		return nil
	})
	return translate(err)
}

const revokeFamilySQL = `
UPDATE user_session SET revoked_at = now()
WHERE family_id = (SELECT family_id FROM user_session WHERE token_hash = $1) AND revoked_at IS NULL`

// RevokeFamily revokes the family of the session with tokenHash.
func (s *Store) RevokeFamily(ctx context.Context, tokenHash []byte) error {
	return s.send(ctx, pgdb.RetrySafe, func(b *pgx.Batch) {
		b.Queue(revokeFamilySQL, tokenHash)
	}, func(br pgx.BatchResults) error {
		_, err := br.Exec()
		return err
	})
}

const (
	deleteExpiredSessionsSQL = `DELETE FROM user_session WHERE expires_at < $1`
	deleteClosedCountersSQL  = `DELETE FROM login_throttle WHERE window_start < $1`
)

// DeleteExpired deletes expired sessions and closed counters and returns how
// many rows it deleted.
func (s *Store) DeleteExpired(ctx context.Context, sessionsBefore, throttleBefore time.Time) (int64, error) {
	var n int64
	err := s.send(ctx, pgdb.RetrySafe, func(b *pgx.Batch) {
		b.Queue(deleteExpiredSessionsSQL, sessionsBefore)
		b.Queue(deleteClosedCountersSQL, throttleBefore)
	}, func(br pgx.BatchResults) error {
		for range 2 {
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
