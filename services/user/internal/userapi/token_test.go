package userapi_test

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/testkit"
)

// unsignedJWT builds header.claims.signature by hand, signing the input with
// sign (nil: an empty signature).
func unsignedJWT(t *testing.T, header, claims map[string]any, sign func(input []byte) []byte) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestAccessTokens_BadTokensAreUnauthenticated(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const pw = "correct horse battery"
	u := b.signUp(t, "alice@example.com", "alice", pw)
	pair := b.login(t, "alice", pw).GetTokens()
	sub := strconv.FormatInt(u.GetId(), 10)
	now := time.Now()
	claims := map[string]any{
		"iss": auth.DefaultIssuer, "aud": auth.DefaultAudience, "sub": sub,
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "jti": "x",
	}

	expired, _, err := b.signer.Sign(auth.Principal{UserID: u.GetId()}, now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	wrongAud, _, err := auth.NewSigner(b.key, auth.DefaultIssuer, "another-audience", time.Minute).Sign(auth.Principal{UserID: u.GetId()}, now)
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	unknownKid, _, err := auth.NewSigner(otherKey, auth.DefaultIssuer, auth.DefaultAudience, time.Minute).Sign(auth.Principal{UserID: u.GetId()}, now)
	if err != nil {
		t.Fatal(err)
	}
	algNone := unsignedJWT(t, map[string]any{"alg": "none", "typ": auth.TokenType, "kid": b.signer.KeyID()}, claims, nil)
	// HS256 keyed with the public key: the classic algorithm confusion.
	hs256 := unsignedJWT(t, map[string]any{"alg": "HS256", "typ": auth.TokenType, "kid": b.signer.KeyID()}, claims, func(in []byte) []byte {
		m := hmac.New(sha256.New, b.signer.PublicKey().Key)
		m.Write(in)
		return m.Sum(nil)
	})
	// The same claims properly signed pass, so the refusals above are about
	// what each case changes.
	good := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims(claims))
	good.Header["typ"] = auth.TokenType
	good.Header["kid"] = b.signer.KeyID()
	goodToken, err := good.SignedString(b.key)
	if err != nil {
		t.Fatal(err)
	}
	for _, token := range []string{pair.GetAccessToken(), goodToken} {
		if _, err := b.client.GetCurrentUser(as(testkit.Context(t), token), &userv1.GetCurrentUserRequest{}); err != nil {
			t.Fatalf("valid token refused: %v", err)
		}
	}

	for _, tc := range []struct{ name, token string }{
		{"expired", expired},
		{"wrong audience", wrongAud},
		{"alg none", algNone},
		{"HS256", hs256},
		{"unknown kid", unknownKid},
		{"refresh token as access token", pair.GetRefreshToken()},
		{"garbage", "not.a.token"},
	} {
		_, err := b.client.GetCurrentUser(as(testkit.Context(t), tc.token), &userv1.GetCurrentUserRequest{})
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s: %v, want Unauthenticated", tc.name, err)
		}
	}
	_, err = b.client.GetCurrentUser(testkit.Context(t), &userv1.GetCurrentUserRequest{})
	wantCode(t, err, codes.Unauthenticated)
}

func TestAccessToken_CarriesAdminOnlyForAdmins(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice, aliceToken := b.signedIn(t, "alice")
	_, rootToken := b.admin(t, "root")
	v := auth.NewVerifier(auth.StaticKeys{b.signer.KeyID(): b.signer.PublicKey().Key}, auth.DefaultIssuer, auth.DefaultAudience)
	p, err := v.Verify(testkit.Context(t), aliceToken)
	if err != nil || p.UserID != alice.GetId() || p.Admin {
		t.Errorf("alice's token: %+v, %v", p, err)
	}
	if p, err := v.Verify(testkit.Context(t), rootToken); err != nil || !p.Admin {
		t.Errorf("admin's token: %+v, %v", p, err)
	}
}

func refresh(t *testing.T, b *bundle, token string) (*userv1.TokenPair, error) {
	t.Helper()
	resp, err := b.client.RefreshToken(testkit.Context(t), &userv1.RefreshTokenRequest{RefreshToken: token})
	return resp.GetTokens(), err
}

func TestRefreshToken_RotatesAndReplayRevokesTheFamily(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const pw = "correct horse battery"
	u := b.signUp(t, "alice@example.com", "alice", pw)
	first := b.login(t, "alice", pw).GetTokens()
	other := b.login(t, "alice", pw).GetTokens() // a second sign-in: another family

	// Stored only as SHA-256.
	sum := sha256.Sum256([]byte(first.GetRefreshToken()))
	var n int
	if err := b.db.Owner.QueryRow(testkit.Context(t), `SELECT count(*) FROM user_session WHERE token_hash = $1 AND user_id = $2`, sum[:], u.GetId()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d sessions with the token's SHA-256, want 1", n)
	}
	if raw, _ := base64.RawURLEncoding.DecodeString(first.GetRefreshToken()); len(raw) != 32 {
		t.Errorf("refresh token carries %d random bytes, want 32", len(raw))
	}

	second, err := refresh(t, b, first.GetRefreshToken())
	if err != nil {
		t.Fatalf("first refresh: %v", err)
	}
	if second.GetRefreshToken() == first.GetRefreshToken() || second.GetAccessToken() == "" {
		t.Fatalf("refresh did not rotate: %v", second)
	}
	if _, err := b.client.GetCurrentUser(as(testkit.Context(t), second.GetAccessToken()), &userv1.GetCurrentUserRequest{}); err != nil {
		t.Fatalf("refreshed access token: %v", err)
	}
	third, err := refresh(t, b, second.GetRefreshToken())
	if err != nil {
		t.Fatalf("the new refresh token works once: %v", err)
	}

	// Replaying a spent token fails and kills the live one of its family.
	_, err = refresh(t, b, first.GetRefreshToken())
	wantCode(t, err, codes.Unauthenticated)
	_, err = refresh(t, b, third.GetRefreshToken())
	wantCode(t, err, codes.Unauthenticated)

	// The other sign-in's family is untouched.
	if _, err := refresh(t, b, other.GetRefreshToken()); err != nil {
		t.Fatalf("other family: %v", err)
	}
}

func TestRefreshToken_ConcurrentUseOfOneTokenLeavesAtMostOneWinnerThenRevokes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const pw = "correct horse battery"
	b.signUp(t, "alice@example.com", "alice", pw)
	tok := b.login(t, "alice", pw).GetTokens().GetRefreshToken()

	const n = 4
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []*userv1.TokenPair
	)
	for range n {
		wg.Go(func() {
			pair, err := refresh(t, b, tok)
			if err == nil {
				mu.Lock()
				winners = append(winners, pair)
				mu.Unlock()
			} else if status.Code(err) != codes.Unauthenticated {
				t.Errorf("concurrent refresh: %v", err)
			}
		})
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d of %d concurrent refreshes of one token succeeded, want 1", len(winners), n)
	}
	// The losers were replays: the winner's token is revoked with the family.
	_, err := refresh(t, b, winners[0].GetRefreshToken())
	wantCode(t, err, codes.Unauthenticated)
}

func TestLogout_RevokesAndIsSafeToRetry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const pw = "correct horse battery"
	b.signUp(t, "alice@example.com", "alice", pw)
	first := b.login(t, "alice", pw).GetTokens()
	second, err := refresh(t, b, first.GetRefreshToken())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := b.client.Logout(testkit.Context(t), &userv1.LogoutRequest{RefreshToken: second.GetRefreshToken()}); err != nil {
			t.Fatalf("logout #%d: %v", i+1, err)
		}
	}
	_, err = refresh(t, b, second.GetRefreshToken())
	wantCode(t, err, codes.Unauthenticated)
	if _, err := b.client.Logout(testkit.Context(t), &userv1.LogoutRequest{RefreshToken: "never-issued"}); err != nil {
		t.Fatalf("logout of an unknown token: %v", err)
	}
}

func TestRefreshToken_ExpiredIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const pw = "correct horse battery"
	b.signUp(t, "alice@example.com", "alice", pw)
	tok := b.login(t, "alice", pw).GetTokens().GetRefreshToken()
	if _, err := b.db.Owner.Exec(testkit.Context(t), `UPDATE user_session SET expires_at = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	_, err := refresh(t, b, tok)
	wantCode(t, err, codes.Unauthenticated)
}
