package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// cacheBundle is a Signer and a Verifier (with a fake clock) that trusts it.
type cacheBundle struct {
	signer *Signer
	keys   StaticKeys
	clock  *fakeClock
	v      *Verifier
}

func newCacheBundle(t *testing.T, opts ...VerifierOption) *cacheBundle {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b := &cacheBundle{
		signer: NewSigner(key, DefaultIssuer, DefaultAudience, 15*time.Minute),
		clock:  &fakeClock{t: time.Unix(1_700_000_000, 0)},
	}
	b.keys = StaticKeys{b.signer.KeyID(): b.signer.PublicKey().Key}
	b.v = newVerifier(b.keys, DefaultIssuer, DefaultAudience, b.clock.now, opts...)
	return b
}

func (b *cacheBundle) sign(t *testing.T, p Principal) (string, time.Time) {
	t.Helper()
	tok, exp, err := b.signer.Sign(p, b.clock.now())
	if err != nil {
		t.Fatal(err)
	}
	return tok, exp
}

// cached reports whether the Verifier would serve token from its cache now.
func (b *cacheBundle) cached(token string) bool {
	_, ok := b.v.cache.get(digest(token), b.clock.now())
	return ok
}

func TestVerifier_CachedTokenVerifiesToTheSamePrincipal(t *testing.T) {
	b := newCacheBundle(t)
	want := Principal{UserID: 7, Admin: true}
	tok, _ := b.sign(t, want)
	if b.cached(tok) {
		t.Fatal("token cached before it was verified")
	}
	for i := range 3 {
		got, err := b.v.Verify(t.Context(), tok)
		if err != nil || got != want {
			t.Fatalf("Verify #%d = %+v, %v; want %+v", i, got, err, want)
		}
		if !b.cached(tok) {
			t.Fatalf("after Verify #%d the token is not cached", i)
		}
	}
	if got := b.v.cache.len(); got != 1 {
		t.Errorf("cache holds %d entries, want 1", got)
	}
}

// tamper returns token with its part i (0 header, 1 payload, 2 signature)
// replaced by f of it.
func tamper(token string, i int, f func(string) string) string {
	parts := strings.Split(token, ".")
	parts[i] = f(parts[i])
	return strings.Join(parts, ".")
}

// flipMiddle changes the middle character of a base64url string to another
// one (in the middle, every bit of a character is data).
func flipMiddle(s string) string {
	i := len(s) / 2
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

// withClaim re-encodes a payload with claim k set to v.
func withClaim(t *testing.T, k string, v any) func(string) string {
	return func(payload string) string {
		raw, err := base64.RawURLEncoding.DecodeString(payload)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]any{}
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		m[k] = v
		raw, err = json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(raw)
	}
}

func TestVerifier_TamperedCopyOfACachedTokenIsRefused(t *testing.T) {
	b := newCacheBundle(t)
	tok, _ := b.sign(t, Principal{UserID: 7})
	if _, err := b.v.Verify(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, token string }{
		{"signature byte", tamper(tok, 2, flipMiddle)},
		{"payload byte", tamper(tok, 1, flipMiddle)},
		{"sub", tamper(tok, 1, withClaim(t, "sub", "8"))},
		{"adm", tamper(tok, 1, withClaim(t, "adm", true))},
		{"header byte", tamper(tok, 0, flipMiddle)},
	} {
		if tc.token == tok {
			t.Fatalf("%s: tampering left the token unchanged", tc.name)
		}
		p, err := b.v.Verify(t.Context(), tc.token)
		if !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: Verify = %+v, %v; want ErrInvalidToken", tc.name, p, err)
		}
		if b.cached(tc.token) {
			t.Errorf("%s: the refused token is cached", tc.name)
		}
	}
	if p, err := b.v.Verify(t.Context(), tok); err != nil || p.UserID != 7 {
		t.Errorf("original after the tampered ones = %+v, %v", p, err)
	}
	if got := b.v.cache.len(); got != 1 {
		t.Errorf("cache holds %d entries, want 1", got)
	}
}

func TestVerifier_CachedTokenIsNotServedFromExpOnAndRefusedAfterLeeway(t *testing.T) {
	b := newCacheBundle(t)
	tok, exp := b.sign(t, Principal{UserID: 7})
	if _, err := b.v.Verify(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	b.clock.advance(exp.Sub(b.clock.now()) - time.Second)
	if !b.cached(tok) {
		t.Fatal("token not served from the cache a second before exp")
	}
	if _, err := b.v.Verify(t.Context(), tok); err != nil {
		t.Fatalf("a second before exp: %v", err)
	}
	b.clock.advance(time.Second) // at exp
	if b.cached(tok) {
		t.Error("token served from the cache at exp")
	}
	// Verified in full, it is still within Leeway, as without a cache.
	if _, err := b.v.Verify(t.Context(), tok); err != nil {
		t.Errorf("at exp (within leeway): %v", err)
	}
	b.clock.advance(Leeway + time.Second)
	if p, err := b.v.Verify(t.Context(), tok); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("after exp+leeway: Verify = %+v, %v; want ErrInvalidToken", p, err)
	}
}

func TestVerifier_CachedTokenOfAWithdrawnKeyIsRefused(t *testing.T) {
	b := newCacheBundle(t)
	tok, _ := b.sign(t, Principal{UserID: 7})
	if _, err := b.v.Verify(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	kid := b.signer.KeyID()
	other, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b.keys[kid] = other // same kid, other key bytes
	if _, err := b.v.Verify(t.Context(), tok); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("kid now names another key: %v, want ErrInvalidToken", err)
	}
	b.keys[kid] = b.signer.PublicKey().Key
	if _, err := b.v.Verify(t.Context(), tok); err != nil {
		t.Fatalf("key restored: %v", err)
	}
	delete(b.keys, kid)
	if _, err := b.v.Verify(t.Context(), tok); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("key removed: %v, want ErrUnknownKey", err)
	}
}

func TestVerifier_CacheStaysWithinItsBound(t *testing.T) {
	const size = 40
	b := newCacheBundle(t, WithCacheSize(size))
	var last string
	for i := range 5 * size {
		last, _ = b.sign(t, Principal{UserID: int64(i + 1)})
		p, err := b.v.Verify(t.Context(), last)
		if err != nil || p.UserID != int64(i+1) {
			t.Fatalf("token %d: %+v, %v", i, p, err)
		}
		if got := b.v.cache.len(); got > size {
			t.Fatalf("after %d tokens the cache holds %d entries, more than %d", i+1, got, size)
		}
	}
	if got := b.v.cache.len(); got != size {
		t.Errorf("cache holds %d entries, want it full (%d)", got, size)
	}
	if !b.cached(last) {
		t.Error("the last token verified is not cached")
	}
}

func TestTokenCache_FullShardDropsExpiredElseFirstToExpire(t *testing.T) {
	c := newTokenCache(2 * cacheShards) // two entries per shard
	now := time.Unix(1_700_000_000, 0)
	d := func(b byte) tokenDigest { return tokenDigest{0: b * cacheShards, 1: b} } // all in shard 0
	put := func(b byte, exp time.Duration) { c.put(d(b), cacheEntry{exp: now.Add(exp)}, now) }
	has := func(b byte) bool { _, ok := c.get(d(b), now); return ok }

	put(1, 10*time.Minute)
	put(2, 5*time.Minute)
	put(3, 15*time.Minute) // full: 2 expires first
	if !has(1) || has(2) || !has(3) {
		t.Errorf("after 3 puts: has 1,2,3 = %v,%v,%v; want true,false,true", has(1), has(2), has(3))
	}
	now = now.Add(12 * time.Minute) // 1 expired
	put(4, 15*time.Minute)
	if has(1) || !has(3) || !has(4) {
		t.Errorf("after expiry: has 1,3,4 = %v,%v,%v; want false,true,true", has(1), has(3), has(4))
	}
	put(5, -time.Second) // already expired: not stored
	if has(5) || c.len() != 2 {
		t.Errorf("expired entry stored: has(5) = %v, len = %d", has(5), c.len())
	}
}

func TestVerifier_CacheSizeZeroDisablesTheCache(t *testing.T) {
	for _, n := range []int{0, -1} {
		b := newCacheBundle(t, WithCacheSize(n))
		if b.v.cache != nil {
			t.Fatalf("WithCacheSize(%d): cache enabled", n)
		}
		tok, _ := b.sign(t, Principal{UserID: 7})
		for range 2 {
			if p, err := b.v.Verify(t.Context(), tok); err != nil || p.UserID != 7 {
				t.Errorf("WithCacheSize(%d): Verify = %+v, %v", n, p, err)
			}
		}
		if _, err := b.v.Verify(t.Context(), tamper(tok, 2, flipMiddle)); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("WithCacheSize(%d): tampered token: %v", n, err)
		}
	}
	if v := NewVerifier(StaticKeys{}, DefaultIssuer, DefaultAudience); v.cache == nil || v.cache.len() != 0 {
		t.Error("NewVerifier without options has no (empty) cache")
	}
}

func TestVerifier_ConcurrentVerifyWithEviction(t *testing.T) {
	b := newCacheBundle(t, WithCacheSize(8)) // fewer entries than tokens
	type tc struct {
		token string
		user  int64 // 0: must be refused
	}
	var cases []tc
	for i := range 24 {
		tok, _ := b.sign(t, Principal{UserID: int64(i + 1)})
		cases = append(cases, tc{tok, int64(i + 1)}, tc{tamper(tok, 2, flipMiddle), 0})
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 10 * len(cases) {
				c := cases[(i+g*7)%len(cases)]
				p, err := b.v.Verify(t.Context(), c.token)
				switch {
				case c.user == 0 && !errors.Is(err, ErrInvalidToken):
					errs <- "tampered token accepted"
					return
				case c.user != 0 && (err != nil || p.UserID != c.user):
					errs <- fmt.Sprintf("good token of user %d: %+v, %v", c.user, p, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if got := b.v.cache.len(); got > 8 {
		t.Errorf("cache holds %d entries, more than 8", got)
	}
}
