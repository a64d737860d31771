package user

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Lifetimes of the tokens sent by mail.
const (
	// VerifyTokenTTL is how long an email verification token is accepted.
	VerifyTokenTTL = 24 * time.Hour
	// ResetTokenTTL is how long a password reset token is accepted.
	ResetTokenTTL = 30 * time.Minute
)

// Limits of the mail a user or a client address may ask for, per
// ThrottleWindow.
const (
	// MaxVerificationResends is how many ResendVerification calls one user
	// may make.
	MaxVerificationResends = 5
	// MaxResetMailsPerAccount is how many reset mails one account gets;
	// further requests are answered alike and send nothing.
	MaxResetMailsPerAccount = 3
	// MaxResetRequestsPerAddress is how many RequestPasswordReset calls one
	// client address may make, whatever account they name.
	MaxResetRequestsPerAddress = 20
)

// TokenPurpose says what a token sent by mail is for.
type TokenPurpose string

// The token purposes, as user_email_token.purpose has them.
const (
	PurposeVerifyEmail   TokenPurpose = "verify_email"
	PurposeResetPassword TokenPurpose = "reset_password"
)

// ScopeMail counts mails asked for (subject: "<kind> <user id or address>").
const ScopeMail ThrottleScope = "mail"

// EmailToken is a single-use token about to be mailed: only its hash is
// stored, with the address it goes to.
type EmailToken struct {
	Purpose   TokenPurpose
	Hash      []byte
	Email     string
	ExpiresAt time.Time
}

// Mail is a plain-text message to one recipient.
type Mail struct {
	To, Subject, Text string
}

// Outgoing is a token and the mail that carries it; a Store writes both in
// the transaction of the change that causes them (the mail through the
// outbox), or neither.
type Outgoing struct {
	Token EmailToken
	Mail  Mail
}

// newToken returns a new 256-bit random token (base64url) and its hash.
func newToken() (string, []byte, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", nil, fmt.Errorf("mail token: %w", err)
	}
	tok := base64.RawURLEncoding.EncodeToString(raw[:])
	return tok, HashEmailToken(tok), nil
}

// HashEmailToken returns the SHA-256 of a mailed token, the only form in
// which such tokens are stored.
func HashEmailToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// link returns the page of the mail's link for path, or "" without a base.
func (s *Service) link(path, token string) string {
	if s.cfg.LinkBaseURL == "" {
		return ""
	}
	return strings.TrimRight(s.cfg.LinkBaseURL, "/") + path + "?token=" + token
}

// mailText is the text of a mail carrying token: what it is for, the link
// (when there is a base URL), the API call, and a "token: …" line.
func (s *Service) mailText(greeting, what, path, rpc, token string, ttl time.Duration, ignore string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Hello %s,\n\n%s\n\n", greeting, what)
	if l := s.link(path, token); l != "" {
		fmt.Fprintf(&b, "Open this link:\n\n  %s\n\nor call the API:\n\n", l)
	} else {
		b.WriteString("Call the API:\n\n")
	}
	fmt.Fprintf(&b, "  POST %s with {\"token\": \"%s\"}\n\ntoken: %s\n\n", rpc, token, token)
	fmt.Fprintf(&b, "The token works once, within %s. %s\n", ttl, ignore)
	return b.String()
}

// verification returns the verification mail of user username at email.
func (s *Service) verification(username, email string) (*Outgoing, error) {
	tok, hash, err := newToken()
	if err != nil {
		return nil, err
	}
	return &Outgoing{
		Token: EmailToken{Purpose: PurposeVerifyEmail, Hash: hash, Email: email, ExpiresAt: s.now().Add(VerifyTokenTTL)},
		Mail: Mail{To: email, Subject: "Verify your email address", Text: s.mailText(username,
			"Please confirm that "+email+" is your address.", "/verify-email", "/v1/auth/verifyEmail", tok, VerifyTokenTTL,
			"If you did not sign up or change your address, ignore this mail.")},
	}, nil
}

// countAttempt counts one attempt against key and returns a *ThrottledError
// (with signUp as given) when that makes more than limit in the window.
func (s *Service) countAttempt(ctx context.Context, key ThrottleKey, limit int) (bool, time.Duration, error) {
	c, err := s.store.CountAttempt(ctx, key, s.cfg.ThrottleWindow)
	if err != nil {
		return false, 0, err
	}
	return c.Failures > limit, roundUp(c.RetryAfter), nil
}

// VerifyEmail spends a verification token: the address it was sent to is
// verified, if it is still the user's. An unknown, used or expired token,
// or one for an address the user no longer has, is ErrInvalidEmailToken.
func (s *Service) VerifyEmail(ctx context.Context, token string) (User, error) {
	u, err := s.store.VerifyEmail(ctx, HashEmailToken(token), Event{Action: ActionEmailVerified, Actor: self})
	if err != nil {
		return User{}, fmt.Errorf("verify email: %w", err)
	}
	return u, nil
}

// ResendVerification mails the caller a new verification token for its
// current address. It is throttled (MaxVerificationResends per window: a
// *ThrottledError); an address already verified is ErrAlreadyVerified and
// an inactive user ErrPermissionDenied.
func (s *Service) ResendVerification(ctx context.Context, c Caller) error {
	if err := Authorize(c, c.UserID, ActionSelf); err != nil {
		return fmt.Errorf("resend verification: %w", err)
	}
	over, wait, err := s.countAttempt(ctx, ThrottleKey{Scope: ScopeMail, Subject: "verify " + strconv.FormatInt(c.UserID, 10)}, MaxVerificationResends)
	if err != nil {
		return fmt.Errorf("resend verification: %w", err)
	}
	if over {
		return &ThrottledError{RetryAfter: wait, Mail: true}
	}
	u, err := s.store.User(ctx, c.UserID)
	if err != nil {
		return fmt.Errorf("resend verification: %w", err)
	}
	switch {
	case !u.IsActive:
		return ErrPermissionDenied
	case u.IsVerified:
		return ErrAlreadyVerified
	}
	out, err := s.verification(u.Username, u.Email)
	if err != nil {
		return err
	}
	if err := s.store.QueueMail(ctx, u.ID, out, Event{Action: ActionVerificationSent, Actor: self, TargetID: u.ID}); err != nil {
		return fmt.Errorf("resend verification: %w", err)
	}
	return nil
}

// RequestPasswordReset mails a reset token to the account that login (an
// email or a username) names, from client address addr, when the account
// exists, is active and its address is verified. It answers alike in
// every other case: nil, without saying whether anything was sent. The
// address is throttled (MaxResetRequestsPerAddress per window, whatever
// the login: a *ThrottledError), and an account gets at most
// MaxResetMailsPerAccount mails per window (the others are answered alike).
func (s *Service) RequestPasswordReset(ctx context.Context, login, addr string) error {
	if addr != "" {
		over, wait, err := s.countAttempt(ctx, ThrottleKey{Scope: ScopeMail, Subject: "reset-addr " + addr}, MaxResetRequestsPerAddress)
		if err != nil {
			return fmt.Errorf("request password reset: %w", err)
		}
		if over {
			return &ThrottledError{RetryAfter: wait, Mail: true}
		}
	}
	lookup, _ := lookupFor(login)
	st, err := s.store.LoginState(ctx, lookup, "", s.cfg.ThrottleWindow)
	if err != nil {
		return fmt.Errorf("request password reset: %w", err)
	}
	a := st.Account
	if a == nil || !a.IsActive || !a.IsVerified {
		return nil
	}
	over, _, err := s.countAttempt(ctx, ThrottleKey{Scope: ScopeMail, Subject: "reset " + strconv.FormatInt(a.ID, 10)}, MaxResetMailsPerAccount)
	if err != nil || over {
		return err
	}
	tok, hash, err := newToken()
	if err != nil {
		return err
	}
	out := &Outgoing{
		Token: EmailToken{Purpose: PurposeResetPassword, Hash: hash, Email: a.Email, ExpiresAt: s.now().Add(ResetTokenTTL)},
		Mail: Mail{To: a.Email, Subject: "Reset your password", Text: s.mailText(a.Username,
			"Someone (hopefully you) asked to reset the password of your account.", "/reset-password", "/v1/auth/resetPassword", tok, ResetTokenTTL,
			"If you did not ask for it, ignore this mail: your password stays as it is.")},
	}
	if err := s.store.QueueMail(ctx, a.ID, out, Event{Action: ActionPasswordResetRequested, Actor: Actor{Kind: ActorUser}, TargetID: a.ID, ClientAddr: addr}); err != nil {
		return fmt.Errorf("request password reset: %w", err)
	}
	return nil
}

// ResetPassword spends a reset token and sets next as the password of its
// user (the same rules as sign-up: a *PasswordError), from client address
// addr. In the same transaction it voids the user's other reset tokens,
// revokes every refresh session, every personal access token and every
// access token issued before it (refused within seconds everywhere) and
// writes the audit event. An
// unknown, used or expired token, or an inactive user, is
// ErrInvalidEmailToken.
func (s *Service) ResetPassword(ctx context.Context, token, next, addr string) error {
	if err := ValidatePassword(next); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(ctx, next)
	if err != nil {
		return err
	}
	if err := s.store.ResetPassword(ctx, HashEmailToken(token), hash, Event{Action: ActionPasswordReset, Actor: self, ClientAddr: addr}); err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	return nil
}
