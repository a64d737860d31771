package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
)

// JWK field values of the platform's keys.
const (
	jwkKty = "OKP"
	jwkCrv = "Ed25519"
	jwkAlg = "EdDSA"
	jwkUse = "sig"
)

// pemType is the PEM block type of a PKCS #8 private key.
const pemType = "PRIVATE KEY"

// LoadPrivateKeyFile reads an Ed25519 private key from a PKCS #8 PEM file, as
// written by "openssl genpkey -algorithm ed25519" or WritePrivateKeyFile.
func LoadPrivateKeyFile(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: read private key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("auth: private key file %s: no PEM block", path)
	}
	if block.Type != pemType {
		return nil, fmt.Errorf("auth: private key file %s: PEM type %q, want %q (PKCS #8)", path, block.Type, pemType)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("auth: private key file %s: %w", path, err)
	}
	ed, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("auth: private key file %s: key is %T, want an Ed25519 key", path, key)
	}
	return ed, nil
}

// WritePrivateKeyFile generates a new Ed25519 private key and writes it to
// path as PKCS #8 PEM with mode 0600. It refuses to overwrite an existing file
// (the error wraps fs.ErrExist).
func WritePrivateKeyFile(path string) error {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("auth: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("auth: marshal key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("auth: create private key file: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: pemType, Bytes: der}); err != nil {
		_ = f.Close()
		return fmt.Errorf("auth: write private key file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("auth: write private key file %s: %w", path, err)
	}
	return nil
}

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

// ToProto returns k as a JWK: kty OKP, crv Ed25519, x the unpadded base64url
// key, alg EdDSA, use sig.
func (k PublicKey) ToProto() *userv1.PublicKey {
	return &userv1.PublicKey{
		Kid: k.KeyID,
		Kty: jwkKty,
		Crv: jwkCrv,
		X:   base64.RawURLEncoding.EncodeToString(k.Key),
		Alg: jwkAlg,
		Use: jwkUse,
	}
}

// PublicKeyFromProto parses a JWK as ToProto writes it. It refuses any other
// key type, curve or algorithm, a use other than sig (empty is allowed), a
// missing kid and a key that is not 32 bytes.
func PublicKeyFromProto(p *userv1.PublicKey) (PublicKey, error) {
	switch {
	case p.GetKid() == "":
		return PublicKey{}, errors.New("auth: JWK without kid")
	case p.GetKty() != jwkKty || p.GetCrv() != jwkCrv:
		return PublicKey{}, fmt.Errorf("auth: JWK %s: kty %q crv %q, want %s %s", p.GetKid(), p.GetKty(), p.GetCrv(), jwkKty, jwkCrv)
	case p.GetAlg() != "" && p.GetAlg() != jwkAlg:
		return PublicKey{}, fmt.Errorf("auth: JWK %s: alg %q, want %s", p.GetKid(), p.GetAlg(), jwkAlg)
	case p.GetUse() != "" && p.GetUse() != jwkUse:
		return PublicKey{}, fmt.Errorf("auth: JWK %s: use %q, want %s", p.GetKid(), p.GetUse(), jwkUse)
	}
	x, err := base64.RawURLEncoding.DecodeString(p.GetX())
	if err != nil {
		return PublicKey{}, fmt.Errorf("auth: JWK %s: x: %w", p.GetKid(), err)
	}
	if len(x) != ed25519.PublicKeySize {
		return PublicKey{}, fmt.Errorf("auth: JWK %s: x is %d bytes, want %d", p.GetKid(), len(x), ed25519.PublicKeySize)
	}
	return PublicKey{KeyID: p.GetKid(), Key: ed25519.PublicKey(x)}, nil
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

// FetchFromUserService returns a fetch function for NewRemoteKeys that calls
// GetPublicKeys on client and parses every key.
func FetchFromUserService(client userv1.UserServiceClient) func(ctx context.Context) ([]PublicKey, error) {
	return func(ctx context.Context) ([]PublicKey, error) {
		resp, err := client.GetPublicKeys(ctx, &userv1.GetPublicKeysRequest{})
		if err != nil {
			return nil, fmt.Errorf("GetPublicKeys: %w", err)
		}
		keys := make([]PublicKey, 0, len(resp.GetKeys()))
		for _, p := range resp.GetKeys() {
			k, err := PublicKeyFromProto(p)
			if err != nil {
				return nil, err
			}
			keys = append(keys, k)
		}
		return keys, nil
	}
}

// Refresh fetches the key set now, regardless of the refresh limit, and
// replaces the cache with it; a service calls it at start so that the first
// requests do not wait for a fetch. Concurrent lookups share the fetch.
func (r *RemoteKeys) Refresh(ctx context.Context) error {
	_, err, _ := r.group.Do("fetch", func() (any, error) { return nil, r.refresh(ctx) })
	return err
}
