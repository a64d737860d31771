package user

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors of the domain. Callers test for them with errors.Is (or errors.As
// for the typed ones below); the store and the Service wrap them with
// context. They name the user's fields (email, username, password), never
// where a request or a configuration carries them: userapi maps each to a
// gRPC status and the request's field path, and `user-service admin create`
// to the variable it read.
var (
	// ErrNotFound: the user does not exist, or the caller may not see it.
	ErrNotFound = errors.New("user not found")
	// ErrEmailTaken: another user has the email (in any case).
	ErrEmailTaken = errors.New("email already registered")
	// ErrUsernameTaken: another user has the username.
	ErrUsernameTaken = errors.New("username already taken")
	// ErrInvalidCredentials: a sign-in failed (unknown account, wrong
	// password or inactive account, deliberately not told apart).
	ErrInvalidCredentials = errors.New("invalid credentials")
	// ErrInvalidRefreshToken: a refresh token is unknown, expired, revoked,
	// already spent, or belongs to an inactive user.
	ErrInvalidRefreshToken = errors.New("invalid refresh token")
	// ErrPermissionDenied: the caller may not do this (see Authorize), or
	// an inactive user asks to change its password.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrTokensRevoked: the user's tokens were revoked while a sign-in was
	// under way (Store.StartSession stores no session then).
	ErrTokensRevoked = errors.New("the user's tokens were revoked meanwhile")
	// ErrThrottled is wrapped by *ThrottledError.
	ErrThrottled = errors.New("too many failed sign-in attempts")
	// ErrSignUpThrottled is wrapped by a *ThrottledError with SignUp.
	ErrSignUpThrottled = errors.New("too many sign-ups from this client address")
	// ErrMailThrottled is wrapped by a *ThrottledError with Mail.
	ErrMailThrottled = errors.New("too many mails asked for")
	// ErrInvalidEmailToken: a token sent by mail that is unknown, used,
	// expired, of another purpose, for an address the user no longer has,
	// or of an inactive user (deliberately not told apart).
	ErrInvalidEmailToken = errors.New("invalid or expired token")
	// ErrAlreadyVerified: a verification asked for an address that is
	// verified already.
	ErrAlreadyVerified = errors.New("the email address is already verified")

	// ErrInvalidEmail: an email that is empty, longer than 254 bytes, has no
	// '@' with something on each side, or contains white space.
	ErrInvalidEmail = errors.New("not an email address")
	// ErrInvalidUsername: a username that is not 3 to 32 characters of a-z,
	// 0-9, '_', '.' and '-'.
	ErrInvalidUsername = errors.New("a username must be 3 to 32 characters of a-z, 0-9, '_', '.' and '-'")
	// ErrInvalidPassword is wrapped by *PasswordError.
	ErrInvalidPassword = errors.New("invalid password")
	// ErrPasswordRequired: a user cannot be created without a password.
	ErrPasswordRequired = errors.New("a password is required to create the user")
	// ErrFullNameTooLong: a full name longer than MaxFullNameLen bytes.
	ErrFullNameTooLong = fmt.Errorf("a full name must be at most %d bytes long", MaxFullNameLen)
	// ErrWrongCurrentPassword: a password change named a current password
	// that does not match.
	ErrWrongCurrentPassword = errors.New("the current password does not match")
	// ErrInvalidPageToken: a page token that is malformed, was altered, or
	// was issued for another is_active filter.
	ErrInvalidPageToken = errors.New("not a page token of a listing of users with this is_active filter")
	// ErrInvalidPageSize: a page size that is negative or more than
	// MaxPageSize.
	ErrInvalidPageSize = fmt.Errorf("the page size must be 0 to %d", MaxPageSize)
)

// ThrottledError says that sign-ins (or, with SignUp, sign-ups) are
// refused for now, and for how long.
type ThrottledError struct {
	RetryAfter time.Duration
	// SignUp says it is the sign-up throttle of the client address.
	SignUp bool
	// Mail says it is a throttle of mails asked for.
	Mail bool
}

// Error implements error.
func (e *ThrottledError) Error() string {
	return fmt.Sprintf("%v; retry after %s", e.Unwrap(), e.RetryAfter.Round(time.Second))
}

// Unwrap returns ErrThrottled, or ErrSignUpThrottled for SignUp.
func (e *ThrottledError) Unwrap() error {
	switch {
	case e.SignUp:
		return ErrSignUpThrottled
	case e.Mail:
		return ErrMailThrottled
	}
	return ErrThrottled
}

// PasswordError says why a new password is refused; Reason completes the
// sentence "the password …" ("must be 12 to 128 characters long, not 9").
type PasswordError struct {
	Reason string
}

// Error implements error.
func (e *PasswordError) Error() string { return "password " + e.Reason }

// Unwrap returns ErrInvalidPassword.
func (e *PasswordError) Unwrap() error { return ErrInvalidPassword }

// UnknownFieldError says that a Change names a field that does not exist or
// cannot be changed; Name is the name as given.
type UnknownFieldError struct {
	Name string
}

// Error implements error.
func (e *UnknownFieldError) Error() string {
	return fmt.Sprintf("unknown field %q; the fields that can change are %s", e.Name, strings.Join(ChangeableFields(), ", "))
}

// ConflictingUsersError says that EnsureAdmin was given an email and a
// username that belong to two different users, so that it cannot tell which
// one to make admin.
type ConflictingUsersError struct {
	Email         string
	EmailOwner    int64
	Username      string
	UsernameOwner int64
}

// Error implements error.
func (e *ConflictingUsersError) Error() string {
	return fmt.Sprintf("email %q belongs to user %d and username %q to user %d; refusing to choose",
		e.Email, e.EmailOwner, e.Username, e.UsernameOwner)
}
