package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// JWK field values of the platform's keys.
const (
	jwkKty = "OKP"
	jwkCrv = "Ed25519"
	jwkAlg = "EdDSA"
	jwkUse = "sig"
)

// Thumbprint returns the RFC 7638 JWK thumbprint of pub: the unpadded
// base64url SHA-256 of {"crv":"Ed25519","kty":"OKP","x":"<x>"} (RFC 8037).
func Thumbprint(pub ed25519.PublicKey) string {
	x := base64.RawURLEncoding.EncodeToString(pub)
	sum := sha256.Sum256([]byte(`{"crv":"` + jwkCrv + `","kty":"` + jwkKty + `","x":"` + x + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// PublicKey is a verification key and its key id.
type PublicKey struct {
	KeyID string
	Key   ed25519.PublicKey
}

// KeySource finds the public key that verifies tokens with a given kid. An
// unknown kid gives an error wrapping ErrUnknownKey; any other error means the
// keys could not be obtained.
type KeySource interface {
	PublicKey(ctx context.Context, kid string) (ed25519.PublicKey, error)
}

// StaticKeys is a fixed KeySource, keyed by kid.
type StaticKeys map[string]ed25519.PublicKey

// PublicKey returns the key with id kid, or ErrUnknownKey.
func (s StaticKeys) PublicKey(_ context.Context, kid string) (ed25519.PublicKey, error) {
	k, ok := s[kid]
	if !ok {
		return nil, ErrUnknownKey
	}
	return k, nil
}

// FetchTimeout bounds one fetch of RemoteKeys.
const FetchTimeout = 10 * time.Second

// maxFailedRetryDelay caps the wait after a failed fetch, so a key source that
// was down at start is asked again soon.
const maxFailedRetryDelay = time.Second

// RemoteKeys is a KeySource that fetches the key set (for instance from the
// user service's GetPublicKeys) at first use and again when a kid is unknown,
// at most once per minRefresh (after a failed fetch, at most once per second
// or minRefresh, whichever is shorter). Concurrent lookups share one fetch.
// It is safe for concurrent use.
type RemoteKeys struct {
	fetch      func(ctx context.Context) ([]PublicKey, error)
	minRefresh time.Duration
	now        func() time.Time
	group      singleflight.Group

	mu          sync.Mutex
	keys        map[string]ed25519.PublicKey
	lastAttempt time.Time
	lastErr     error // of the last fetch, nil if it succeeded
}

// NewRemoteKeys returns a RemoteKeys that gets the key set from fetch.
func NewRemoteKeys(fetch func(ctx context.Context) ([]PublicKey, error), minRefresh time.Duration) *RemoteKeys {
	return &RemoteKeys{fetch: fetch, minRefresh: minRefresh, now: time.Now}
}

// PublicKey returns the key with id kid, fetching the key set when kid is not
// known and the last fetch is old enough. It returns ErrUnknownKey when kid is
// still unknown, and the fetch error when the last fetch failed (the
// verification keys are unavailable, which says nothing about the token).
func (r *RemoteKeys) PublicKey(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	k, ok, may, lastErr := r.lookup(kid)
	switch {
	case ok:
		return k, nil
	case !may && lastErr != nil:
		return nil, lastErr
	case !may:
		return nil, ErrUnknownKey
	}
	_, err, _ := r.group.Do("fetch", func() (any, error) {
		if _, ok, may, _ := r.lookup(kid); ok || !may {
			return nil, nil // another fetch just finished
		}
		return nil, r.refresh(ctx)
	})
	if err != nil {
		return nil, err
	}
	k, ok, _, lastErr = r.lookup(kid)
	switch {
	case ok:
		return k, nil
	case lastErr != nil:
		return nil, lastErr
	}
	return nil, ErrUnknownKey
}

// lookup returns the cached key for kid, whether a fetch is allowed now, and
// the error of the last fetch if it failed.
func (r *RemoteKeys) lookup(kid string) (key ed25519.PublicKey, ok, mayFetch bool, lastErr error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key, ok = r.keys[kid]
	if r.lastAttempt.IsZero() {
		return key, ok, true, nil
	}
	wait := r.minRefresh
	if r.lastErr != nil && wait > maxFailedRetryDelay {
		wait = maxFailedRetryDelay
	}
	return key, ok, r.now().Sub(r.lastAttempt) >= wait, r.lastErr
}

// refresh fetches the key set and replaces the cache with it.
func (r *RemoteKeys) refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), FetchTimeout)
	defer cancel()
	keys, err := r.fetch(ctx)

	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastAttempt = r.now()
	if err != nil {
		r.lastErr = fmt.Errorf("auth: fetch verification keys: %w", err)
		return r.lastErr
	}
	r.lastErr = nil
	m := make(map[string]ed25519.PublicKey, len(keys))
	for _, k := range keys {
		m[k.KeyID] = k.Key
	}
	r.keys = m
	return nil
}

// Refresh fetches the key set now, regardless of the refresh limit, and
// replaces the cache with it; a service calls it at start so that the first
// requests do not wait for a fetch. Concurrent lookups share the fetch.
func (r *RemoteKeys) Refresh(ctx context.Context) error {
	_, err, _ := r.group.Do("fetch", func() (any, error) { return nil, r.refresh(ctx) })
	return err
}
