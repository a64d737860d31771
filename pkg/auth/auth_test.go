package auth_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/auth/authtest"
)

const ttl = authtest.TTL

func TestSignVerify_RoundTrip(t *testing.T) {
	signer := auth.NewSigner(authtest.NewKey(t), auth.DefaultIssuer, auth.DefaultAudience, ttl)
	v := auth.NewVerifier(authtest.Keys(signer), auth.DefaultIssuer, auth.DefaultAudience)
	now := time.Now()
	for _, want := range []auth.Principal{{UserID: 42}, {UserID: 1 << 40, Admin: true}} {
		token, exp, err := signer.Sign(want, now)
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		if got := exp.Sub(now); got <= ttl-time.Second || got > ttl {
			t.Errorf("expiry is %v after now, want %v", got, ttl)
		}
		got, err := v.Verify(t.Context(), token)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if got != want {
			t.Errorf("Verify = %+v, want %+v", got, want)
		}
	}
}

func TestSign_TokenHeaderAndClaims(t *testing.T) {
	signer := auth.NewSigner(authtest.NewKey(t), "iss-x", "aud-y", ttl)
	token, exp, err := signer.Sign(auth.Principal{UserID: 7, Admin: true}, time.Unix(1_700_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	var header, claims map[string]any
	decode := func(s string, v any) {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatal(err)
		}
	}
	decode(parts[0], &header)
	decode(parts[1], &claims)
	if header["alg"] != "EdDSA" || header["typ"] != "at+jwt" || header["kid"] != signer.KeyID() {
		t.Errorf("header = %v", header)
	}
	if claims["iss"] != "iss-x" || claims["sub"] != "7" || claims["adm"] != true ||
		claims["iat"] != float64(1_700_000_000) || claims["exp"] != float64(exp.Unix()) || claims["jti"] == "" {
		t.Errorf("claims = %v", claims)
	}
	if aud, _ := claims["aud"].([]any); len(aud) != 1 || aud[0] != "aud-y" {
		t.Errorf("aud = %v", claims["aud"])
	}
	if _, _, err := signer.Sign(auth.Principal{UserID: 0}, time.Now()); err == nil {
		t.Error("Sign for user 0 succeeded")
	}
}

func TestPublicKey_JWKRoundTrip(t *testing.T) {
	signer := auth.NewSigner(authtest.NewKey(t), auth.DefaultIssuer, auth.DefaultAudience, ttl)
	pk := signer.PublicKey()
	j := pk.JWK()
	if j.Kty != "OKP" || j.Crv != "Ed25519" || j.Alg != "EdDSA" || j.Use != "sig" || j.Kid != signer.KeyID() {
		t.Errorf("JWK = %+v", j)
	}
	if strings.ContainsAny(j.X, "=+/") {
		t.Errorf("x = %q, want unpadded base64url", j.X)
	}
	back, err := auth.ParseJWK(j)
	if err != nil {
		t.Fatal(err)
	}
	if back.KeyID != pk.KeyID || !back.Key.Equal(pk.Key) {
		t.Errorf("round trip = %+v, want %+v", back, pk)
	}
	bad := []auth.JWK{
		{Kid: "", Kty: "OKP", Crv: "Ed25519", X: j.X},
		{Kid: "k", Kty: "RSA", Crv: "Ed25519", X: j.X},
		{Kid: "k", Kty: "OKP", Crv: "X25519", X: j.X},
		{Kid: "k", Kty: "OKP", Crv: "Ed25519", X: j.X, Alg: "HS256"},
		{Kid: "k", Kty: "OKP", Crv: "Ed25519", X: j.X, Use: "enc"},
		{Kid: "k", Kty: "OKP", Crv: "Ed25519", X: j.X[:20]},
		{Kid: "k", Kty: "OKP", Crv: "Ed25519", X: "!!!"},
	}
	for _, b := range bad {
		if _, err := auth.ParseJWK(b); err == nil {
			t.Errorf("ParseJWK(%+v) = nil error", b)
		}
	}
}

func TestThumbprint_RFC8037Example(t *testing.T) {
	// RFC 8037 appendix A.1 and A.3.
	x, err := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := auth.Thumbprint(x), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Errorf("Thumbprint = %q, want %q", got, want)
	}
}
