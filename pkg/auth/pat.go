package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// PATPrefix begins every personal access token, so that secret scanners
// (and the Verifier) recognise one: "todo_pat_" and 43 base64url
// characters (256 random bits).
const PATPrefix = "todo_pat_"

// IsPAT reports whether token has the form of a personal access token.
func IsPAT(token string) bool { return strings.HasPrefix(token, PATPrefix) }

// patSecretLen is the length of a token's secret after PATPrefix: 32
// random bytes in unpadded base64url.
const patSecretLen = 43

// wellFormedPAT reports whether token is PATPrefix and 43 base64url
// characters, as every token the user service issues is.
func wellFormedPAT(token string) bool {
	secret, ok := strings.CutPrefix(token, PATPrefix)
	if !ok || len(secret) != patSecretLen {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(secret)
	return err == nil
}

// HashPAT returns the SHA-256 of a personal access token, the only form in
// which it is stored.
func HashPAT(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// PATInfo is what a PATSource knows of a live personal access token.
type PATInfo struct {
	TokenID  int64
	UserID   int64
	Admin    bool
	ReadOnly bool
	Expires  time.Time
}

// PATSource finds the live personal access token (not revoked, not
// expired, of an active user) whose SHA-256 is hash; ErrInvalidToken (or
// an error wrapping it) when there is none, any other error when it could
// not look.
type PATSource interface {
	LookupPAT(ctx context.Context, hash []byte) (PATInfo, error)
}

// PATCacheTTL is how long a Verifier trusts what it learnt of a personal
// access token: a revoked token (or one of a deactivated user) is refused
// at most this long after the revocation.
const PATCacheTTL = 2 * time.Second

// maxPATCache bounds the personal access tokens a Verifier remembers.
const maxPATCache = 10_000

// WithPATs makes the Verifier accept personal access tokens (PATPrefix)
// that src knows, remembering each for PATCacheTTL.
func WithPATs(src PATSource) VerifierOption {
	return func(o *verifierOptions) { o.pats = src }
}

type patEntry struct {
	p     Principal
	until time.Time
}

// patCache remembers the personal access tokens verified recently.
type patCache struct {
	mu      sync.Mutex
	entries map[tokenDigest]patEntry
}

// verifyPAT checks a personal access token with the PATSource, through
// the cache.
func (v *Verifier) verifyPAT(ctx context.Context, token string) (Principal, error) {
	if v.pats == nil {
		return Principal{}, fmt.Errorf("auth: verify: %w: personal access tokens are not accepted here", ErrInvalidToken)
	}
	if !wellFormedPAT(token) {
		// Refused before any lookup, so that made-up tokens cost no query.
		return Principal{}, fmt.Errorf("auth: verify personal access token: %w: malformed", ErrInvalidToken)
	}
	d := digest(token)
	now := v.now()
	v.patCache.mu.Lock()
	e, ok := v.patCache.entries[d]
	v.patCache.mu.Unlock()
	if ok && now.Before(e.until) {
		v.hits.Add(1)
		return e.p, nil
	}
	v.misses.Add(1)
	info, err := v.pats.LookupPAT(ctx, HashPAT(token))
	if err != nil {
		if errors.Is(err, ErrInvalidToken) {
			return Principal{}, fmt.Errorf("auth: verify personal access token: %w", err)
		}
		return Principal{}, &keySourceError{err: err}
	}
	p := Principal{UserID: info.UserID, Admin: info.Admin, ReadOnly: info.ReadOnly, TokenID: info.TokenID}
	until := now.Add(PATCacheTTL)
	if info.Expires.Before(until) {
		until = info.Expires
	}
	v.patCache.mu.Lock()
	defer v.patCache.mu.Unlock()
	if len(v.patCache.entries) >= maxPATCache {
		for k, old := range v.patCache.entries {
			if !now.Before(old.until) || len(v.patCache.entries) >= maxPATCache {
				delete(v.patCache.entries, k)
			}
		}
	}
	v.patCache.entries[d] = patEntry{p: p, until: until}
	return p, nil
}
