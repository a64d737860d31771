package user

import (
	"context"
	"time"
)

// Store is the persistence the business layer needs. Implementations
// translate "no row" into ErrNotFound and unique violations into
// ErrEmailTaken or ErrUsernameTaken. The write methods take the audit
// events of the change and write them in the same transaction: the change
// and its events commit together or not at all.
type Store interface {
	// CreateUser inserts u and returns it as stored.
	CreateUser(ctx context.Context, u NewUser, audit ...Event) (User, error)
	// User returns the user with id, or ErrNotFound.
	User(ctx context.Context, id int64) (User, error)
	// Summaries returns the users among ids that exist, in no order.
	Summaries(ctx context.Context, ids []int64) ([]Summary, error)
	// ListUsers returns up to q.Limit users after q.After in (created_at, id) order.
	ListUsers(ctx context.Context, q ListQuery) ([]User, error)
	// AuditEvents returns up to q.Limit audit events matching q.Filter after
	// q.After, newest first.
	AuditEvents(ctx context.Context, q AuditQuery) ([]RecordedEvent, error)
	// UpdateUser applies u to the user with id and returns the result.
	UpdateUser(ctx context.Context, id int64, u Update, audit ...Event) (User, error)
	// SetActive sets is_active of the user with id; deactivating also revokes
	// every live refresh session of the user and raises its token
	// generation, in the same transaction.
	SetActive(ctx context.Context, id int64, active bool, audit ...Event) (User, error)
	// PromoteAdmin makes the user with id an active admin.
	PromoteAdmin(ctx context.Context, id int64, audit ...Event) (User, error)
	// AccountsByEmailOrUsername returns the accounts whose email equals email
	// or whose username equals username (at most two).
	AccountsByEmailOrUsername(ctx context.Context, email, username string) ([]Account, error)
	// Account returns the user with id and its password hash, or ErrNotFound.
	Account(ctx context.Context, id int64) (Account, error)
	// RevokeTokens revokes every live refresh session of the user with id
	// and raises its token generation, voiding its access tokens, in one
	// transaction; an unknown id is ErrNotFound.
	RevokeTokens(ctx context.Context, id int64, audit ...Event) error
	// SetPasswordHash replaces the password hash of the user with id and, when
	// revokeSessions is true, revokes every live refresh session of the user
	// and raises its token generation, in the same transaction.
	SetPasswordHash(ctx context.Context, id int64, hash string, revokeSessions bool, audit ...Event) error

	// LoginState returns the account l names (if any) and the open failure
	// counters, within window, of that account (ScopeUser) or of the unknown
	// identifier (ScopeLogin) from addr (see PairSubject), and of addr
	// (ScopeAddr) when addr is not empty.
	LoginState(ctx context.Context, l Lookup, addr string, window time.Duration) (LoginState, error)
	// CreatePAT stores a personal access token of user id whose secret's
	// hash is hash and returns it.
	CreatePAT(ctx context.Context, id int64, t NewPAT, hash []byte, audit ...Event) (PersonalAccessToken, error)
	// PATs returns the tokens of user id, newest first.
	PATs(ctx context.Context, id int64) ([]PersonalAccessToken, error)
	// RevokePAT revokes the token with id if owner is 0 or its user (else,
	// or when there is none, ErrPATNotFound) and returns it; the events'
	// target is its user.
	RevokePAT(ctx context.Context, id, owner int64, audit ...Event) (PersonalAccessToken, error)
	// CountAttempt adds one attempt to the counter key (a closed window
	// starts a new one) and returns the counter as it is then.
	CountAttempt(ctx context.Context, key ThrottleKey, window time.Duration) (ThrottleCount, error)
	// QueueMail stores out's token for the user with id and queues its
	// mail, in one transaction.
	QueueMail(ctx context.Context, id int64, out *Outgoing, audit ...Event) error
	// VerifyEmail spends the verification token whose hash is tokenHash and
	// marks the user's email verified, returning the user; the events'
	// target is the token's user. ErrInvalidEmailToken when the token is
	// unknown, used, expired or for an address the user no longer has.
	VerifyEmail(ctx context.Context, tokenHash []byte, audit ...Event) (User, error)
	// ResetPassword spends the reset token whose hash is tokenHash: it sets
	// passwordHash, voids the user's other reset tokens, revokes its
	// sessions and personal access tokens and raises its token generation,
	// in one transaction; the
	// events' target is the token's user. ErrInvalidEmailToken when the
	// token is unknown, used or expired, or its user inactive.
	ResetPassword(ctx context.Context, tokenHash []byte, passwordHash string, audit ...Event) error
	// RecordFailures adds one failure to each counter in keys; a counter whose
	// window (of length window) has closed starts a new one.
	RecordFailures(ctx context.Context, keys []ThrottleKey, window time.Duration, audit ...Event) error
	// StartSession stores a new refresh session (a new family) and, when
	// rehash is not empty, replaces the user's password hash with it. When
	// the user's token generation is no longer s.Generation it stores
	// nothing and returns ErrTokensRevoked.
	StartSession(ctx context.Context, s NewSession, rehash string, audit ...Event) error
	// RotateSession locks the session whose token hash is tokenHash in a
	// transaction, lets decide choose a Rotation and applies it before
	// committing. It returns ErrInvalidRefreshToken (without calling decide)
	// when there is no such session. An error from decide rolls back. decide
	// may be called more than once: a transaction whose connection failed
	// before its commit runs again.
	RotateSession(ctx context.Context, tokenHash []byte, decide func(RefreshSession) (Rotation, error)) error
	// RevokeFamily revokes every session of the family of the session whose
	// token hash is tokenHash; an unknown hash is not an error.
	RevokeFamily(ctx context.Context, tokenHash []byte, audit ...Event) error
	// DeleteExpired deletes sessions that expired before sessionsBefore and
	// failure counters whose window started before throttleBefore.
	DeleteExpired(ctx context.Context, sessionsBefore, throttleBefore time.Time) (int64, error)
	// MaintainAudit makes the audit log's partitions for this month and the
	// next monthsAhead, and drops those older than keepMonths; it returns
	// the names of the dropped ones.
	MaintainAudit(ctx context.Context, monthsAhead, keepMonths int) ([]string, error)
}
