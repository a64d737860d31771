// Package user is the user service's business layer: accounts, password
// hashing, sign-in with throttling, access and refresh tokens, profiles and
// administration, and who may do what (authz.go). It knows nothing of gRPC
// or SQL: its errors (errors.go) name no request field, its Store is
// implemented by package userstore, and its Service is called by package
// userapi.
package user

import (
	"time"
)

// User is an account as the business layer sees it. It never carries the
// password hash (see Account).
type User struct {
	ID         int64
	Email      string
	Username   string
	FullName   string
	IsActive   bool
	IsVerified bool
	IsAdmin    bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// PublicProfile returns the part of u that any signed-in user may see of an
// active user: ID, Username and FullName.
func (u User) PublicProfile() User {
	return User{ID: u.ID, Username: u.Username, FullName: u.FullName}
}

// Account is a User with its stored password hash, for the code that checks
// passwords. It never leaves this package's callers in a response.
type Account struct {
	User
	PasswordHash string
	// TokenGeneration is the generation the user's tokens are issued in;
	// revoking them raises it (see Store.RevokeTokens).
	TokenGeneration int64
}

// Summary is what other services need to know about a user.
type Summary struct {
	ID       int64
	Username string
	IsActive bool
}

// NewUser is a user to create. Email must already be normalised.
type NewUser struct {
	Email        string
	Username     string
	FullName     string
	PasswordHash string
	IsAdmin      bool
	// Verification, when set, is stored and mailed with the user.
	Verification *Outgoing
}

// The names of the fields of a user that a Change may name.
const (
	FieldFullName = "full_name"
	FieldUsername = "username"
	FieldEmail    = "email"
)

// ChangeableFields returns the names of the fields a Change may name, in
// the order they are listed in messages.
func ChangeableFields() []string { return []string{FieldFullName, FieldUsername, FieldEmail} }

// MaxFullNameLen is the longest full name accepted, in bytes.
const MaxFullNameLen = 800

// Change is a change of a user's profile as asked for: Fields names the
// fields to change (FieldFullName, FieldUsername, FieldEmail), and the
// values of those fields are the new ones; a field Fields does not name is
// left as it is, whatever its value here.
type Change struct {
	Fields   []string
	FullName string
	Username string
	Email    string
}

// Update names the fields to change; nil fields are left as they are. A
// changed Email resets IsVerified. It is a validated Change, for the Store.
type Update struct {
	FullName *string
	Username *string
	Email    *string
	// Verification, when set, is stored and mailed with the change (a new
	// email's verification).
	Verification *Outgoing
}

// Lookup names the account a sign-in or password check is for: by ID, by
// Email (normalised) or by Username. Exactly one is set.
type Lookup struct {
	ID       int64
	Email    string
	Username string
}

// ThrottleScope is the kind of thing failed sign-ins are counted against.
type ThrottleScope string

// The throttle scopes.
const (
	// ScopeUser counts failures against an existing account from one client
	// address (subject: PairSubject of its id and the address), so that a
	// flood from one address throttles that address for the account, not
	// the account's own sign-ins from elsewhere.
	ScopeUser ThrottleScope = "user"
	// ScopeLogin counts failures against an identifier that names no account
	// from one client address (subject: PairSubject of the identifier and
	// the address), so that unknown and known accounts are throttled alike.
	ScopeLogin ThrottleScope = "login"
	// ScopeAddr counts failures against a client address (an IPv6 /64),
	// whatever account they name.
	ScopeAddr ThrottleScope = "addr"
	// ScopeSignUp counts sign-up attempts from a client address.
	ScopeSignUp ThrottleScope = "signup"
)

// PairSubject is the subject of a ScopeUser or ScopeLogin counter: the
// account's id (or the unknown identifier) and the client address, joined
// by a space (which neither may contain); just the account when the
// address is unknown.
func PairSubject(account, addr string) string {
	if addr == "" {
		return account
	}
	return account + " " + addr
}

// ThrottleKey is one failure counter.
type ThrottleKey struct {
	Scope   ThrottleScope
	Subject string
}

// ThrottleCount is the state of one failure counter whose window is still
// open: the failures counted and how long until the window closes.
type ThrottleCount struct {
	Key        ThrottleKey
	Failures   int
	RetryAfter time.Duration
}

// LoginState is what a sign-in needs to know before checking the password:
// the account (nil when the identifier names none) and the open failure
// counters of the account (or unknown identifier) and of the client address.
type LoginState struct {
	Account  *Account
	Counters []ThrottleCount
}

// NewSession is a refresh session to store: only the SHA-256 of the token.
type NewSession struct {
	UserID    int64
	TokenHash []byte
	ExpiresAt time.Time
	// Generation is the user's token generation the sign-in read: the
	// session is stored only while it still is (ErrTokensRevoked).
	Generation int64
}

// RefreshSession is a stored refresh session, locked while a rotation decides
// what to do with it.
type RefreshSession struct {
	ID        int64
	UserID    int64
	ExpiresAt time.Time
	Revoked   bool
	// Replaced is true when the session was spent by a refresh: presenting
	// its token again is a replay.
	Replaced bool
	// User is the session's user as it is now.
	User User
	// TokenGeneration is the user's token generation now.
	TokenGeneration int64
}

// Rotation is what RotateSession does with the locked session: insert Next
// in the same family and mark the session replaced by it, or revoke the
// whole family, or (zero value) nothing.
type Rotation struct {
	Next         *NewSession
	RevokeFamily bool
	// Audit is written in the rotation's transaction.
	Audit []Event
}

// ListQuery selects one page of users, oldest first.
type ListQuery struct {
	// Active, when set, keeps only users whose IsActive equals it.
	Active *bool
	// After is the position after which the page starts (the zero Cursor
	// starts at the beginning).
	After Cursor
	// Limit is the most users to return.
	Limit int
}

// Cursor is a position in the (created_at, id) order of users.
type Cursor struct {
	CreatedAt time.Time
	ID        int64
}
