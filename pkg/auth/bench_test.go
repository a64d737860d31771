package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/auth/authtest"
)

// BenchmarkVerify measures verifying one access token, with static keys and
// with the cached remote key set the task service uses: Cold with the token
// cache disabled (the full check, signature included, every time) and Warm
// for a token the Verifier has already accepted (a cache hit).
func BenchmarkVerify(b *testing.B) {
	signer := auth.NewSigner(authtest.NewKey(b), auth.DefaultIssuer, auth.DefaultAudience, ttl)
	token, _, err := signer.Sign(auth.Principal{UserID: 42}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	remote := auth.NewRemoteKeys(func(context.Context) ([]auth.PublicKey, error) {
		return []auth.PublicKey{signer.PublicKey()}, nil
	}, time.Minute)
	for _, src := range []struct {
		name string
		keys auth.KeySource
	}{
		{"StaticKeys", authtest.Keys(signer)},
		{"RemoteKeys", remote},
	} {
		for _, c := range []struct {
			name string
			opts []auth.VerifierOption
		}{
			{"Cold", []auth.VerifierOption{auth.WithCacheSize(0)}},
			{"Warm", nil},
			{"WarmAfter1000Revocations", nil},
		} {
			v := auth.NewVerifier(src.keys, auth.DefaultIssuer, auth.DefaultAudience, c.opts...)
			if c.name == "WarmAfter1000Revocations" {
				// Other users' revocations: the hit path does not look at them.
				for u := range int64(1000) {
					v.Revoke(1000+u, 1)
				}
			}
			ctx := context.Background()
			if _, err := v.Verify(ctx, token); err != nil {
				b.Fatal(err)
			}
			b.Run(src.name+"/"+c.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := v.Verify(ctx, token); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkSign measures issuing one access token.
func BenchmarkSign(b *testing.B) {
	signer := auth.NewSigner(authtest.NewKey(b), auth.DefaultIssuer, auth.DefaultAudience, ttl)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := signer.Sign(auth.Principal{UserID: 42}, now); err != nil {
			b.Fatal(err)
		}
	}
}
