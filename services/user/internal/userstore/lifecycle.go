package userstore

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/todo-platform/todo/pkg/mail"
	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/services/user/internal/user"
)

// Outbox queues a mail in a transaction of the store's (mail.Outbox
// implements it): the mail exists exactly when the transaction commits.
type Outbox interface {
	Enqueue(ctx context.Context, tx pgx.Tx, m mail.Message) error
}

// Option configures a Store made by New.
type Option func(*Store)

// WithOutbox makes the store queue mails (verification, password reset)
// in o. A store without one refuses every change that sends mail.
func WithOutbox(o Outbox) Option {
	return func(s *Store) { s.outbox = o }
}

// errNoOutbox is returned for a change that sends mail by a store without
// an outbox.
var errNoOutbox = errors.New("userstore: no mail outbox configured")

const insertEmailTokenSQL = `
INSERT INTO user_email_token (user_id, purpose, token_hash, email, expires_at)
VALUES (@user_id, @purpose, @token_hash, @email, @expires_at)`

// queueTx stores out's token for user id and enqueues its mail, in tx.
func (s *Store) queueTx(ctx context.Context, tx pgx.Tx, id int64, out *user.Outgoing) error {
	if s.outbox == nil {
		return errNoOutbox
	}
	if _, err := tx.Exec(ctx, insertEmailTokenSQL, pgx.NamedArgs{
		"user_id": id, "purpose": string(out.Token.Purpose), "token_hash": out.Token.Hash,
		"email": out.Token.Email, "expires_at": out.Token.ExpiresAt,
	}); err != nil {
		return fmt.Errorf("store mail token: %w", err)
	}
	return s.outbox.Enqueue(ctx, tx, mail.Message{To: out.Mail.To, Subject: out.Mail.Subject, Text: out.Mail.Text})
}

// auditTx writes the audit events in tx; targetID, when not 0, is the
// target of events that name none.
func auditTx(ctx context.Context, tx pgx.Tx, targetID int64, audit []user.Event) error {
	for _, ev := range audit {
		if ev.TargetID == 0 && ev.TargetUsername == "" && ev.TargetTokenHash == nil {
			ev.TargetID = targetID
		}
		args, err := auditArgs(ctx, ev)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, auditSQL, args); err != nil {
			return fmt.Errorf("audit %s: %w", ev.Action, err)
		}
	}
	return nil
}

// inTx runs fn in a transaction (see pgdb.DB.InTx: retried only before
// its COMMIT could have been sent), translating and wrapping its error.
func (s *Store) inTx(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	if err := translate(s.db.InTx(ctx, pgdb.RetryIfNotSent, nil, fn)); err != nil {
		return fmt.Errorf("userstore %s: %w", op, err)
	}
	return nil
}

// createUserTx is CreateUser with a verification mail: the user, its
// token, its mail and the audit events in one transaction.
func (s *Store) createUserTx(ctx context.Context, u user.NewUser, audit []user.Event) (user.User, error) {
	var out user.User
	err := s.inTx(ctx, "create user", func(tx pgx.Tx) error {
		var (
			id     *int64
			sealed []byte
		)
		if u.FullName != "" {
			var next int64
			if err := tx.QueryRow(ctx, nextUserIDSQL).Scan(&next); err != nil {
				return err
			}
			var err error
			if sealed, err = s.sealName(next, u.FullName); err != nil {
				return err
			}
			id = &next
		}
		var err error
		out, err = s.scanUser(tx.QueryRow(ctx, createUserSQL, pgx.NamedArgs{
			"id": id, "email": u.Email, "username": u.Username, "password_hash": u.PasswordHash,
			"full_name_ct": sealed, "is_admin": u.IsAdmin,
		}))
		if err != nil {
			return err
		}
		if err := s.queueTx(ctx, tx, out.ID, u.Verification); err != nil {
			return err
		}
		return auditTx(ctx, tx, 0, audit)
	})
	return out, err
}

// updateUserTx is UpdateUser with a verification mail for the new email.
func (s *Store) updateUserTx(ctx context.Context, id int64, args pgx.NamedArgs, out *user.Outgoing, audit []user.Event) (user.User, error) {
	var u user.User
	err := s.inTx(ctx, "update user", func(tx pgx.Tx) error {
		var err error
		if u, err = s.scanUser(tx.QueryRow(ctx, updateUserSQL, args)); err != nil {
			return err
		}
		if err := s.queueTx(ctx, tx, id, out); err != nil {
			return err
		}
		return auditTx(ctx, tx, 0, audit)
	})
	return u, err
}

// QueueMail stores out's token for the user with id and queues its mail.
func (s *Store) QueueMail(ctx context.Context, id int64, out *user.Outgoing, audit ...user.Event) error {
	return s.inTx(ctx, "queue mail", func(tx pgx.Tx) error {
		if err := s.queueTx(ctx, tx, id, out); err != nil {
			return err
		}
		return auditTx(ctx, tx, 0, audit)
	})
}

// lockEmailTokenSQL locks the token with @token_hash and @purpose, with
// what the checks need of its user.
const lockEmailTokenSQL = `
SELECT t.id, t.user_id, t.token_hash, t.email, t.expires_at > now(), t.used_at IS NULL, u.email, u.is_active
FROM user_email_token t
JOIN "user" u ON u.id = t.user_id
WHERE t.token_hash = @token_hash AND t.purpose = @purpose
FOR UPDATE OF t`

// lockedToken is a token row locked by lockToken.
type lockedToken struct {
	id, userID int64
	email      string // where it was sent
	userEmail  string // the user's email now
	active     bool   // whether the user is active
}

// lockToken locks the live token of purpose whose hash is hash: it must
// exist, match in constant time, be unused and unexpired, and belong to an
// active user; otherwise ErrInvalidEmailToken.
func lockToken(ctx context.Context, tx pgx.Tx, purpose user.TokenPurpose, hash []byte) (lockedToken, error) {
	var (
		t             lockedToken
		stored        []byte
		fresh, unused bool
	)
	err := tx.QueryRow(ctx, lockEmailTokenSQL, pgx.NamedArgs{"token_hash": hash, "purpose": string(purpose)}).
		Scan(&t.id, &t.userID, &stored, &t.email, &fresh, &unused, &t.userEmail, &t.active)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return lockedToken{}, user.ErrInvalidEmailToken
	case err != nil:
		return lockedToken{}, fmt.Errorf("lock mail token: %w", err)
	}
	if subtle.ConstantTimeCompare(stored, hash) != 1 || !fresh || !unused || !t.active {
		return lockedToken{}, user.ErrInvalidEmailToken
	}
	return t, nil
}

const (
	spendEmailTokenSQL = `UPDATE user_email_token SET used_at = now() WHERE id = @id`
	verifyEmailSQL     = `UPDATE "user" AS u SET is_verified = true WHERE u.id = @id RETURNING ` + userColumns
)

// VerifyEmail spends a verification token and verifies the user's email.
func (s *Store) VerifyEmail(ctx context.Context, tokenHash []byte, audit ...user.Event) (user.User, error) {
	var u user.User
	err := s.inTx(ctx, "verify email", func(tx pgx.Tx) error {
		t, err := lockToken(ctx, tx, user.PurposeVerifyEmail, tokenHash)
		if err != nil {
			return err
		}
		if t.email != t.userEmail {
			return user.ErrInvalidEmailToken // sent to an address the user no longer has
		}
		if _, err := tx.Exec(ctx, spendEmailTokenSQL, pgx.NamedArgs{"id": t.id}); err != nil {
			return err
		}
		if u, err = s.scanUser(tx.QueryRow(ctx, verifyEmailSQL, pgx.NamedArgs{"id": t.userID})); err != nil {
			return err
		}
		return auditTx(ctx, tx, t.userID, audit)
	})
	return u, err
}

// revokeUserPATsSQL revokes every live personal access token of user @id.
const revokeUserPATsSQL = `UPDATE personal_access_token SET revoked_at = now() WHERE user_id = @id AND revoked_at IS NULL AND @revoke::boolean`

// voidResetTokensSQL spends every live reset token of user @id.
const voidResetTokensSQL = `UPDATE user_email_token SET used_at = now() WHERE user_id = @id AND purpose = 'reset_password' AND used_at IS NULL`

// ResetPassword spends a reset token and sets the new password hash,
// revoking the user's sessions and access tokens.
func (s *Store) ResetPassword(ctx context.Context, tokenHash []byte, passwordHash string, audit ...user.Event) error {
	return s.inTx(ctx, "reset password", func(tx pgx.Tx) error {
		t, err := lockToken(ctx, tx, user.PurposeResetPassword, tokenHash)
		if err != nil {
			return err
		}
		if t.email != t.userEmail {
			return user.ErrInvalidEmailToken // sent to an address the user no longer has
		}
		id := pgx.NamedArgs{"id": t.userID, "revoke": true}
		for _, q := range []string{voidResetTokensSQL, revokeUserSessionsSQL, revokeUserTokensSQL, revokeUserPATsSQL} {
			if _, err := tx.Exec(ctx, q, id); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, setPasswordHashSQL, pgx.NamedArgs{"id": t.userID, "password_hash": passwordHash}); err != nil {
			return err
		}
		return auditTx(ctx, tx, t.userID, audit)
	})
}
