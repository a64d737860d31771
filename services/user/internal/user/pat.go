package user

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/todo-platform/todo/pkg/auth"
)

// Lifetimes of personal access tokens.
const (
	// DefaultPATLifetime is the lifetime of a token created without an
	// expiry.
	DefaultPATLifetime = 30 * 24 * time.Hour
	// MaxPATLifetime is the longest lifetime a token may be given.
	MaxPATLifetime = 366 * 24 * time.Hour
)

// Errors of personal access tokens.
var (
	// ErrPATNotFound: no such token, or one the caller may not see.
	ErrPATNotFound = errors.New("personal access token not found")
	// ErrInvalidPATExpiry: an expiry not in the future or more than
	// MaxPATLifetime ahead.
	ErrInvalidPATExpiry = fmt.Errorf("the expiry must be in the future and at most %d days ahead", int(MaxPATLifetime.Hours()/24))
)

// PersonalAccessToken is a user's named, expiring bearer token. Secret is
// set only in what CreatePAT returns.
type PersonalAccessToken struct {
	ID        int64
	UserID    int64
	Name      string
	ReadOnly  bool
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt time.Time // zero: not revoked
	Secret    string
}

// NewPAT is a token to create: ExpiresAt zero means DefaultPATLifetime.
type NewPAT struct {
	Name      string
	ReadOnly  bool
	ExpiresAt time.Time
}

// The audit actions of personal access tokens.
const (
	ActionPATCreate = "user.pat_create"
	ActionPATRevoke = "user.pat_revoke"
)

// CreatePAT creates a personal access token for c and returns it with its
// secret (auth.PATPrefix and 256 random bits), which is stored only as its
// SHA-256. A caller signed in with a personal access token may not create
// one (ErrPermissionDenied); a bad expiry is ErrInvalidPATExpiry.
func (s *Service) CreatePAT(ctx context.Context, c Caller, in NewPAT) (PersonalAccessToken, error) {
	if c.UserID <= 0 || c.ViaPAT {
		return PersonalAccessToken{}, ErrPermissionDenied
	}
	now := s.now()
	if in.ExpiresAt.IsZero() {
		in.ExpiresAt = now.Add(DefaultPATLifetime)
	}
	if !in.ExpiresAt.After(now) || in.ExpiresAt.After(now.Add(MaxPATLifetime)) {
		return PersonalAccessToken{}, ErrInvalidPATExpiry
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return PersonalAccessToken{}, fmt.Errorf("personal access token: %w", err)
	}
	secret := auth.PATPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	t, err := s.store.CreatePAT(ctx, c.UserID, in, auth.HashPAT(secret), Event{Action: ActionPATCreate, Actor: byCaller(c), TargetID: c.UserID,
		Change: map[string]any{"name": in.Name, "read_only": in.ReadOnly, "expires_at": in.ExpiresAt.UTC()}})
	if err != nil {
		return PersonalAccessToken{}, fmt.Errorf("create personal access token: %w", err)
	}
	t.Secret = secret
	return t, nil
}

// ListPATs returns the tokens of user id (0: c's own), newest first; only
// admins may list another user's.
func (s *Service) ListPATs(ctx context.Context, c Caller, id int64) ([]PersonalAccessToken, error) {
	if id == 0 {
		id = c.UserID
	}
	if err := Authorize(c, id, ActionUpdate); err != nil {
		return nil, fmt.Errorf("list personal access tokens: %w", err)
	}
	out, err := s.store.PATs(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("list personal access tokens: %w", err)
	}
	return out, nil
}

// RevokePAT revokes the token with id, which must be c's (an admin may
// revoke anyone's; to anyone else it does not exist: ErrPATNotFound), and
// returns it. Both services refuse it within auth.PATCacheTTL.
func (s *Service) RevokePAT(ctx context.Context, c Caller, id int64) (PersonalAccessToken, error) {
	if c.UserID <= 0 {
		return PersonalAccessToken{}, ErrPermissionDenied
	}
	owner := c.UserID
	if c.Admin {
		owner = 0
	}
	t, err := s.store.RevokePAT(ctx, id, owner, Event{Action: ActionPATRevoke, Actor: byCaller(c), Change: map[string]any{"token_id": id}})
	if err != nil {
		return PersonalAccessToken{}, fmt.Errorf("revoke personal access token %d: %w", id, err)
	}
	return t, nil
}
