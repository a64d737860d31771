package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestVerifier_RevokeRefusesCachedAndNewVerificationsOfOlderGenerations(t *testing.T) {
	b := newCacheBundle(t)
	old, _ := b.sign(t, Principal{UserID: 7, Generation: 2})
	other, _ := b.sign(t, Principal{UserID: 8})
	for _, tok := range []string{old, other} {
		if _, err := b.v.Verify(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if !b.cached(old) {
		t.Fatal("token not cached after Verify")
	}
	b.v.Revoke(7, 3)
	if b.cached(old) {
		t.Error("a revoked token is still in the cache")
	}
	for range 2 {
		if _, err := b.v.Verify(t.Context(), old); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("Verify(revoked token) = %v, want ErrInvalidToken", err)
		}
	}
	if _, err := b.v.Verify(t.Context(), other); err != nil {
		t.Errorf("another user's token: %v", err)
	}
	if !b.cached(other) {
		t.Error("another user's token was purged too")
	}
	fresh, _ := b.sign(t, Principal{UserID: 7, Generation: 3})
	if p, err := b.v.Verify(t.Context(), fresh); err != nil || p.Generation != 3 {
		t.Errorf("Verify(token of the new generation) = %+v, %v", p, err)
	}
	// A stale or repeated delivery changes nothing.
	b.v.Revoke(7, 1)
	b.v.Revoke(7, 3)
	if _, err := b.v.Verify(t.Context(), fresh); err != nil {
		t.Errorf("after a stale revocation: %v", err)
	}
}

func TestVerifier_RevokeWithoutCache(t *testing.T) {
	b := newCacheBundle(t, WithCacheSize(0))
	tok, _ := b.sign(t, Principal{UserID: 7})
	if _, err := b.v.Verify(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	b.v.Revoke(7, 1)
	if _, err := b.v.Verify(t.Context(), tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("Verify(revoked token) = %v, want ErrInvalidToken", err)
	}
}

func TestVerifier_TokenLivingLongerThanMaxTokenLifetimeIsRefused(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSigner(key, DefaultIssuer, DefaultAudience, MaxTokenLifetime+time.Second)
	v := NewVerifier(StaticKeys{s.KeyID(): s.PublicKey().Key}, DefaultIssuer, DefaultAudience)
	tok, _, err := s.Sign(Principal{UserID: 1}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(t.Context(), tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("Verify(token living %s) = %v, want ErrInvalidToken", MaxTokenLifetime+time.Second, err)
	}
}

func TestVerifier_PruneRevocationsForgetsOnlyOldOnes(t *testing.T) {
	b := newCacheBundle(t)
	b.v.Revoke(1, 1)
	b.clock.advance(RevocationRetention)
	b.v.Revoke(2, 1)
	b.clock.advance(time.Second)
	if n := b.v.PruneRevocations(); n != 1 {
		t.Fatalf("PruneRevocations kept %d, want 1", n)
	}
	if g := b.v.revoked.generation(1); g != 0 {
		t.Errorf("user 1 generation %d after its retention, want forgotten", g)
	}
	if g := b.v.revoked.generation(2); g != 1 {
		t.Errorf("user 2 generation %d, want 1", g)
	}
}

// TestVerifier_ConcurrentVerifyAndRevokeNeverServesARevokedToken races
// verifications of one token against its revocation: once Revoke has
// returned, no Verify may accept it, whatever was in flight.
func TestVerifier_ConcurrentVerifyAndRevokeNeverServesARevokedToken(t *testing.T) {
	for round := range 50 {
		b := newCacheBundle(t)
		tok, _ := b.sign(t, Principal{UserID: 7})
		var (
			wg      sync.WaitGroup
			revoked = make(chan struct{})
			bad     = make(chan error, 8)
		)
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-revoked:
						if _, err := b.v.Verify(t.Context(), tok); err == nil {
							bad <- errors.New("accepted after Revoke returned")
						}
						return
					default:
						_, _ = b.v.Verify(t.Context(), tok)
					}
				}
			})
		}
		b.v.Revoke(7, 1)
		close(revoked)
		wg.Wait()
		close(bad)
		for err := range bad {
			t.Fatalf("round %d: %v", round, err)
		}
		if b.cached(tok) {
			t.Fatalf("round %d: revoked token left in the cache", round)
		}
	}
}
