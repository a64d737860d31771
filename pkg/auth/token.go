// Package auth issues and verifies the platform's access tokens: JWTs signed
// with Ed25519 (alg EdDSA, typ "at+jwt"), verified as RFC 8725 recommends.
// It knows nothing of the transport: package grpcauth carries tokens in gRPC
// metadata, and package keyfile reads the keys from PEM files.
package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Defaults for the iss and aud claims.
const (
	DefaultIssuer   = "todo-user-service"
	DefaultAudience = "todo"
)

// TokenType is the JOSE "typ" header of access tokens (RFC 9068).
const TokenType = "at+jwt"

// Leeway is the clock skew tolerated when checking exp and iat.
const Leeway = 30 * time.Second

// ErrInvalidToken is wrapped by every error that says a token is not
// acceptable (malformed, badly signed, expired, wrong issuer, audience or
// type, unknown key id).
var ErrInvalidToken = errors.New("invalid access token")

// ErrUnknownKey is returned by a KeySource that has no key with the requested
// id; it wraps ErrInvalidToken.
var ErrUnknownKey = fmt.Errorf("%w: unknown key id", ErrInvalidToken)

// Principal is the authenticated caller of a request.
type Principal struct {
	UserID int64
	Admin  bool
	// Generation is the user's token generation when the token was issued
	// (claim "gen"; 0 when absent): a Verifier refuses a token whose
	// generation is below the one it last learnt for the user (see
	// Verifier.Revoke).
	Generation int64
	// TokenID is the id of the personal access token the caller presented
	// (0 for an access token).
	TokenID int64
	// ReadOnly is true for a personal access token of read-only scope: the
	// caller may read, not write (see grpcauth).
	ReadOnly bool
}

type principalKey struct{}

// NewContext returns a copy of ctx carrying p.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the Principal stored in ctx by NewContext, and whether
// there was one.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// claims are the JWT claims of an access token.
type claims struct {
	jwt.RegisteredClaims
	Admin bool `json:"adm,omitempty"`
	// Gen is the user's token generation (Principal.Generation).
	Gen int64 `json:"gen,omitempty"`
}

// Signer issues access tokens signed with one Ed25519 key.
type Signer struct {
	key      ed25519.PrivateKey
	kid      string
	issuer   string
	audience string
	ttl      time.Duration
}

// NewSigner returns a Signer whose tokens carry the given issuer and audience
// and expire ttl after they are issued. The header's kid is the RFC 7638
// thumbprint of the key's public half.
func NewSigner(key ed25519.PrivateKey, issuer, audience string, ttl time.Duration) *Signer {
	pub, _ := key.Public().(ed25519.PublicKey)
	return &Signer{key: key, kid: Thumbprint(pub), issuer: issuer, audience: audience, ttl: ttl}
}

// KeyID returns the RFC 7638 thumbprint of the signing key's public half,
// which every token carries as its kid header.
func (s *Signer) KeyID() string { return s.kid }

// PublicKey returns the public half of the signing key with its key id, as
// GetPublicKeys publishes it.
func (s *Signer) PublicKey() PublicKey {
	pub, _ := s.key.Public().(ed25519.PublicKey)
	return PublicKey{KeyID: s.kid, Key: pub}
}

// Sign issues an access token for p, issued at now, and returns it with its
// expiry time. The token has header alg EdDSA, typ "at+jwt" and kid, and
// claims iss, aud, sub (the user id in decimal), iat, exp, jti (random),
// adm (true for admins, absent otherwise) and gen (p.Generation, absent
// when 0).
func (s *Signer) Sign(p Principal, now time.Time) (string, time.Time, error) {
	if p.UserID <= 0 {
		return "", time.Time{}, fmt.Errorf("auth: sign: user id %d is not positive", p.UserID)
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", time.Time{}, fmt.Errorf("auth: sign: token id: %w", err)
	}
	now = now.Truncate(time.Second)
	exp := now.Add(s.ttl)
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.issuer,
			Subject:   strconv.FormatInt(p.UserID, 10),
			Audience:  jwt.ClaimStrings{s.audience},
			ExpiresAt: jwt.NewNumericDate(exp),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        base64.RawURLEncoding.EncodeToString(jti[:]),
		},
		Admin: p.Admin,
		Gen:   p.Generation,
	})
	t.Header["typ"] = TokenType
	t.Header["kid"] = s.kid
	signed, err := t.SignedString(s.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: sign: %w", err)
	}
	return signed, exp, nil
}

// Verifier checks access tokens against the keys of a KeySource. It is safe
// for concurrent use.
//
// A Verifier remembers the tokens it accepted (DefaultCacheSize of them unless
// WithCacheSize says otherwise), keyed by the SHA-256 of their exact bytes,
// with the Principal, exp and kid they were proven to carry. Verifying a
// remembered token again skips the Ed25519 signature check, which is most of
// the cost of Verify; a token that differs in any byte is verified in full. A
// remembered token is used only while the Verifier's clock is before its exp
// (after that it is verified in full, which still allows Leeway, so no token
// is accepted at or after exp + Leeway, cached or not). A hit still asks the
// KeySource for the token's kid and requires the very key that checked the
// signature, so a key that the KeySource no longer has, or now maps to other
// bytes, stops its cached tokens as it stops new ones.
//
// The trade-off of key rotation is the KeySource's, not the cache's: tokens
// signed with a key that was withdrawn from the user service stay accepted
// for as long as the KeySource still returns that key, at most until they
// expire (the access token lifetime, 15 minutes). RemoteKeys replaces its key
// set only when it fetches it again, which it does when a token with an
// unknown kid arrives.
type Verifier struct {
	keys     KeySource
	parser   *jwt.Parser
	now      func() time.Time
	cache    *tokenCache // nil when caching is disabled
	revoked  revocations
	pats     PATSource // nil: personal access tokens are refused
	patCache patCache

	hits, misses atomic.Uint64
}

// VerifierOption configures a Verifier built by NewVerifier.
type VerifierOption func(*verifierOptions)

type verifierOptions struct {
	cacheSize int
	pats      PATSource
}

// WithCacheSize sets how many verified tokens the Verifier remembers; when it
// holds that many, it forgets expired ones or else the one expiring first. A
// size of 0 (or less) disables the cache: every token is verified in full.
func WithCacheSize(n int) VerifierOption {
	return func(o *verifierOptions) { o.cacheSize = n }
}

// NewVerifier returns a Verifier that accepts only EdDSA tokens of type
// "at+jwt" with a kid known to keys, the given issuer and audience, an exp in
// the future, an iat not in the future (both with Leeway) and a positive
// integer sub. It caches verified tokens as the Verifier documentation says,
// DefaultCacheSize of them unless an option says otherwise.
func NewVerifier(keys KeySource, issuer, audience string, opts ...VerifierOption) *Verifier {
	return newVerifier(keys, issuer, audience, time.Now, opts...)
}

func newVerifier(keys KeySource, issuer, audience string, now func() time.Time, opts ...VerifierOption) *Verifier {
	o := verifierOptions{cacheSize: DefaultCacheSize}
	for _, opt := range opts {
		opt(&o)
	}
	return &Verifier{
		pats:     o.pats,
		patCache: patCache{entries: map[tokenDigest]patEntry{}},
		revoked:  revocations{byUser: map[int64]revocation{}},
		keys:     keys,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithIssuer(issuer),
			jwt.WithAudience(audience),
			jwt.WithLeeway(Leeway),
			jwt.WithTimeFunc(now),
		),
		now:   now,
		cache: newTokenCache(o.cacheSize),
	}
}

// keySourceError marks a KeySource failure that is not about the token (the
// keys could not be fetched).
type keySourceError struct{ err error }

func (e *keySourceError) Error() string { return "auth: verification keys: " + e.err.Error() }
func (e *keySourceError) Unwrap() error { return e.err }

// Verify checks token and returns its Principal. An unacceptable token gives
// an error wrapping ErrInvalidToken; an error that does not wrap it means the
// verification keys could not be obtained (the token may be fine).
func (v *Verifier) Verify(ctx context.Context, token string) (Principal, error) {
	if IsPAT(token) {
		return v.verifyPAT(ctx, token)
	}
	if v.cache == nil {
		e, err := v.verify(ctx, token)
		if err != nil {
			return Principal{}, err
		}
		return e.principal, nil
	}
	d := digest(token)
	if e, ok := v.cache.get(d, v.now()); ok {
		if key, err := v.keys.PublicKey(ctx, e.kid); err == nil && key.Equal(e.key) {
			v.hits.Add(1)
			return e.principal, nil
		}
		// The key is gone or changed: forget the token and verify it in full,
		// which refuses it or proves it again (with the KeySource's error).
		v.cache.remove(d)
	}
	v.misses.Add(1)
	epoch := v.revoked.epoch.Load()
	e, err := v.verify(ctx, token)
	if err != nil {
		return Principal{}, err
	}
	v.cache.putUnlessRevoked(d, e, v.now(), &v.revoked.epoch, epoch)
	return e.principal, nil
}

// CacheStats returns how many tokens Verify found in its cache (hits) and
// how many it verified in full with the cache on (misses), since the start.
func (v *Verifier) CacheStats() (hits, misses uint64) {
	return v.hits.Load(), v.misses.Load()
}

// digest returns the SHA-256 of token, copying a token of usual size through
// a stack buffer rather than allocating.
func digest(token string) tokenDigest {
	var buf [1024]byte
	if len(token) <= len(buf) {
		return sha256.Sum256(append(buf[:0], token...))
	}
	return sha256.Sum256([]byte(token))
}

// verify checks token in full, signature included, and returns what it
// proved.
func (v *Verifier) verify(ctx context.Context, token string) (cacheEntry, error) {
	var (
		c      claims
		kid    string
		pubKey ed25519.PublicKey
	)
	_, err := v.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		if t.Method != jwt.SigningMethodEdDSA {
			return nil, fmt.Errorf("%w: signing method %v", ErrInvalidToken, t.Header["alg"])
		}
		if typ, _ := t.Header["typ"].(string); !isAccessTokenType(typ) {
			return nil, fmt.Errorf("%w: type %q is not %q", ErrInvalidToken, typ, TokenType)
		}
		kid, _ = t.Header["kid"].(string)
		if kid == "" {
			return nil, fmt.Errorf("%w: no kid header", ErrInvalidToken)
		}
		key, err := v.keys.PublicKey(ctx, kid)
		if err != nil {
			if errors.Is(err, ErrInvalidToken) {
				return nil, err
			}
			return nil, &keySourceError{err: err}
		}
		pubKey = key
		return key, nil
	})
	if err != nil {
		var kse *keySourceError
		if errors.As(err, &kse) {
			return cacheEntry{}, kse
		}
		if errors.Is(err, ErrInvalidToken) {
			return cacheEntry{}, fmt.Errorf("auth: verify: %w", err)
		}
		return cacheEntry{}, fmt.Errorf("auth: verify: %w: %w", ErrInvalidToken, err)
	}
	id, err := strconv.ParseInt(c.Subject, 10, 64)
	if err != nil || id <= 0 {
		return cacheEntry{}, fmt.Errorf("auth: verify: %w: sub %q is not a positive integer", ErrInvalidToken, c.Subject)
	}
	if c.IssuedAt == nil || c.ExpiresAt.Sub(c.IssuedAt.Time) > MaxTokenLifetime {
		return cacheEntry{}, fmt.Errorf("auth: verify: %w: lifetime exp - iat exceeds %s", ErrInvalidToken, MaxTokenLifetime)
	}
	if c.Gen < 0 {
		return cacheEntry{}, fmt.Errorf("auth: verify: %w: gen %d is negative", ErrInvalidToken, c.Gen)
	}
	if g := v.revoked.generation(id); c.Gen < g {
		return cacheEntry{}, fmt.Errorf("auth: verify: %w: revoked (token generation %d, user %d is at %d)", ErrInvalidToken, c.Gen, id, g)
	}
	return cacheEntry{
		principal: Principal{UserID: id, Admin: c.Admin, Generation: c.Gen},
		exp:       c.ExpiresAt.Time, // WithExpirationRequired: present
		kid:       kid,
		key:       pubKey,
	}, nil
}

// isAccessTokenType reports whether typ names an access token; RFC 9068 §4
// allows the media type with or without its "application/" prefix.
func isAccessTokenType(typ string) bool {
	typ = strings.ToLower(typ)
	return typ == TokenType || typ == "application/"+TokenType
}
