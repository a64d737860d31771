package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a settable time source.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func genPublicKey(t *testing.T) PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return PublicKey{KeyID: Thumbprint(pub), Key: pub}
}

// countingFetch serves a settable key set and counts its calls.
type countingFetch struct {
	mu    sync.Mutex
	keys  []PublicKey
	err   error
	calls atomic.Int32
}

func (f *countingFetch) fetch(context.Context) ([]PublicKey, error) {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.keys, f.err
}

func (f *countingFetch) set(err error, keys ...PublicKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys, f.err = keys, err
}

func TestRemoteKeys_RefetchesUnknownKidAtMostOncePerMinRefresh(t *testing.T) {
	a, b, c := genPublicKey(t), genPublicKey(t), genPublicKey(t)
	f := &countingFetch{}
	f.set(nil, a)
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	r := NewRemoteKeys(f.fetch, time.Minute)
	r.now = clock.now
	ctx := t.Context()

	lookup := func(k PublicKey) error {
		got, err := r.PublicKey(ctx, k.KeyID)
		if err == nil && !got.Equal(k.Key) {
			t.Fatalf("PublicKey(%s) returned another key", k.KeyID)
		}
		return err
	}
	calls := func(want int32) {
		t.Helper()
		if got := f.calls.Load(); got != want {
			t.Errorf("fetch calls = %d, want %d", got, want)
		}
	}

	if err := lookup(a); err != nil {
		t.Fatalf("first lookup: %v", err)
	}
	calls(1)
	if err := lookup(a); err != nil {
		t.Fatal(err)
	}
	calls(1) // cached

	f.set(nil, a, b) // b is published, but the last fetch is too recent
	clock.advance(time.Minute - time.Second)
	if err := lookup(b); !errors.Is(err, ErrUnknownKey) || !errors.Is(err, ErrInvalidToken) {
		t.Errorf("lookup(b) within minRefresh = %v, want ErrUnknownKey", err)
	}
	calls(1)

	clock.advance(time.Second)
	if err := lookup(b); err != nil {
		t.Errorf("lookup(b) after minRefresh: %v", err)
	}
	calls(2)
	for range 5 {
		if err := lookup(c); !errors.Is(err, ErrUnknownKey) {
			t.Errorf("lookup(c) = %v, want ErrUnknownKey", err)
		}
	}
	calls(2)
	clock.advance(time.Minute)
	if err := lookup(c); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("lookup(c) = %v, want ErrUnknownKey", err)
	}
	calls(3)

	// A key dropped from the published set is forgotten at the next fetch.
	f.set(nil, c)
	clock.advance(time.Minute)
	if err := lookup(c); err != nil {
		t.Errorf("lookup(c) after publication: %v", err)
	}
	if err := lookup(a); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("lookup(a) after it was withdrawn = %v, want ErrUnknownKey", err)
	}
	calls(4)
}

func TestRemoteKeys_FailedFetchIsNotAnInvalidTokenAndIsRetriedSoon(t *testing.T) {
	a := genPublicKey(t)
	f := &countingFetch{}
	f.set(errors.New("connection refused"))
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	r := NewRemoteKeys(f.fetch, time.Hour)
	r.now = clock.now

	for range 3 {
		_, err := r.PublicKey(t.Context(), a.KeyID)
		if err == nil || errors.Is(err, ErrInvalidToken) {
			t.Fatalf("lookup with the source down = %v, want a fetch error", err)
		}
	}
	if got := f.calls.Load(); got != 1 {
		t.Errorf("fetch calls = %d, want 1 (failures are rate-limited too)", got)
	}
	f.set(nil, a)
	clock.advance(time.Second) // well under minRefresh
	if _, err := r.PublicKey(t.Context(), a.KeyID); err != nil {
		t.Errorf("lookup after the source came back: %v", err)
	}
	if got := f.calls.Load(); got != 2 {
		t.Errorf("fetch calls = %d, want 2", got)
	}
}

func TestRemoteKeys_ConcurrentLookupsShareOneFetch(t *testing.T) {
	a := genPublicKey(t)
	f := &countingFetch{}
	f.set(nil, a)
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	r := NewRemoteKeys(f.fetch, time.Minute)
	r.now = clock.now

	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			_, err := r.PublicKey(t.Context(), a.KeyID)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("lookup: %v", err)
		}
	}
	if got := f.calls.Load(); got != 1 {
		t.Errorf("fetch calls = %d, want 1", got)
	}
}

func TestVerifier_LeewayBoundsExpiry(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSigner(key, DefaultIssuer, DefaultAudience, time.Minute)
	issued := time.Unix(1_700_000_000, 0)
	tok, exp, err := s.Sign(Principal{UserID: 1}, issued)
	if err != nil {
		t.Fatal(err)
	}
	keys := StaticKeys{s.KeyID(): s.PublicKey().Key}
	for _, tt := range []struct {
		at    time.Time
		valid bool
	}{
		{issued, true},
		{exp.Add(Leeway - time.Second), true},
		{exp.Add(Leeway + time.Second), false},
		{issued.Add(-Leeway - time.Second), false}, // iat in the future
	} {
		v := newVerifier(keys, DefaultIssuer, DefaultAudience, func() time.Time { return tt.at })
		_, err := v.Verify(t.Context(), tok)
		if (err == nil) != tt.valid {
			t.Errorf("Verify at exp%+v = %v, want valid=%v", tt.at.Sub(exp), err, tt.valid)
		}
		if err != nil && !errors.Is(err, ErrInvalidToken) {
			t.Errorf("Verify error %v does not wrap ErrInvalidToken", err)
		}
	}
}

func TestRemoteKeys_RefreshWarmsTheCacheAndReportsFailure(t *testing.T) {
	a := genPublicKey(t)
	f := &countingFetch{}
	f.set(errors.New("user service down"))
	r := NewRemoteKeys(f.fetch, time.Hour)
	ctx := t.Context()
	if err := r.Refresh(ctx); err == nil {
		t.Error("Refresh with the source down returned nil")
	}
	f.set(nil, a)
	// Refresh ignores the refresh limit.
	if err := r.Refresh(ctx); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if got, err := r.PublicKey(ctx, a.KeyID); err != nil || !got.Equal(a.Key) {
		t.Errorf("PublicKey after Refresh: %v", err)
	}
	if got := f.calls.Load(); got != 2 {
		t.Errorf("fetch calls = %d, want 2 (the lookup is served from the cache)", got)
	}
}
