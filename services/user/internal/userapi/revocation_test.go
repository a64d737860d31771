package userapi_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/testkit"
)

// revocationBound is how soon a revocation must reach every verifier.
const revocationBound = 5 * time.Second

// refusedWithin polls GetCurrentUser with token until it is Unauthenticated,
// failing the test if that takes longer than revocationBound.
func (b *bundle) refusedWithin(t *testing.T, token string) {
	t.Helper()
	deadline := time.Now().Add(revocationBound)
	for {
		_, err := b.client.GetCurrentUser(as(testkit.Context(t), token), &userv1.GetCurrentUserRequest{})
		if status.Code(err) == codes.Unauthenticated {
			return
		}
		if err != nil {
			t.Fatalf("GetCurrentUser with the revoked token: %v, want Unauthenticated", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the token is still accepted %s after its revocation", revocationBound)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// accepted requires GetCurrentUser with token to succeed.
func (b *bundle) accepted(t *testing.T, token string) {
	t.Helper()
	if _, err := b.client.GetCurrentUser(as(testkit.Context(t), token), &userv1.GetCurrentUserRequest{}); err != nil {
		t.Fatalf("GetCurrentUser: %v", err)
	}
}

func TestRevocation_DeactivationVoidsAccessTokensWithinSeconds(t *testing.T) {
	t.Parallel()
	b := setup(t, cheapHashing)
	ctx := testkit.Context(t)
	_, adminToken := b.admin(t, "root")
	alice, token := b.signedIn(t, "alice")
	_, bobToken := b.signedIn(t, "bob")
	b.accepted(t, token) // cached now

	if _, err := b.client.DeactivateUser(as(ctx, adminToken), &userv1.DeactivateUserRequest{Id: alice.GetId()}); err != nil {
		t.Fatal(err)
	}
	b.refusedWithin(t, token)
	b.accepted(t, bobToken)
	b.accepted(t, adminToken)

	// Activated again, alice signs in and her new token works.
	if _, err := b.client.ActivateUser(as(ctx, adminToken), &userv1.ActivateUserRequest{Id: alice.GetId()}); err != nil {
		t.Fatal(err)
	}
	b.accepted(t, b.login(t, "alice", "correct horse battery").GetTokens().GetAccessToken())
}

func TestRevocation_LogoutAllVoidsAccessAndRefreshTokens(t *testing.T) {
	t.Parallel()
	b := setup(t, cheapHashing)
	ctx := testkit.Context(t)
	const pw = "correct horse battery"
	b.signUp(t, "alice@example.com", "alice", pw)
	first, second := b.login(t, "alice", pw), b.login(t, "alice", pw)
	b.accepted(t, first.GetTokens().GetAccessToken())

	if _, err := b.client.LogoutAll(as(ctx, second.GetTokens().GetAccessToken()), &userv1.LogoutAllRequest{}); err != nil {
		t.Fatal(err)
	}
	b.refusedWithin(t, first.GetTokens().GetAccessToken())
	b.refusedWithin(t, second.GetTokens().GetAccessToken())
	for _, r := range []*userv1.LoginResponse{first, second} {
		_, err := b.client.RefreshToken(ctx, &userv1.RefreshTokenRequest{RefreshToken: r.GetTokens().GetRefreshToken()})
		wantCode(t, err, codes.Unauthenticated)
	}
	// A new sign-in is not affected.
	b.accepted(t, b.login(t, "alice", pw).GetTokens().GetAccessToken())

	_, err := b.client.LogoutAll(ctx, &userv1.LogoutAllRequest{})
	wantCode(t, err, codes.Unauthenticated)
}

func TestRevocation_PasswordChangeVoidsEarlierAccessTokens(t *testing.T) {
	t.Parallel()
	b := setup(t, cheapHashing)
	ctx := testkit.Context(t)
	const pw, next = "correct horse battery", "another horse battery"
	alice := b.signUp(t, "alice@example.com", "alice", pw)
	token := b.login(t, "alice", pw).GetTokens().GetAccessToken()
	b.accepted(t, token)
	_, err := b.client.ChangePassword(as(ctx, token), &userv1.ChangePasswordRequest{Id: alice.GetId(), CurrentPassword: pw, NewPassword: next})
	if err != nil {
		t.Fatal(err)
	}
	b.refusedWithin(t, token)
	b.accepted(t, b.login(t, "alice", next).GetTokens().GetAccessToken())
}

// TestRevocation_RefreshAfterRevocationIssuesTheNewGeneration checks that
// tokens issued after a revocation carry the new generation: a refresh of
// a session started after LogoutAll gives a token that is accepted.
func TestRevocation_RefreshAfterRevocationIssuesTheNewGeneration(t *testing.T) {
	t.Parallel()
	b := setup(t, cheapHashing)
	ctx := testkit.Context(t)
	const pw = "correct horse battery"
	b.signUp(t, "alice@example.com", "alice", pw)
	old := b.login(t, "alice", pw).GetTokens().GetAccessToken()
	if _, err := b.client.LogoutAll(as(ctx, old), &userv1.LogoutAllRequest{}); err != nil {
		t.Fatal(err)
	}
	b.refusedWithin(t, old)
	fresh := b.login(t, "alice", pw)
	r, err := b.client.RefreshToken(ctx, &userv1.RefreshTokenRequest{RefreshToken: fresh.GetTokens().GetRefreshToken()})
	if err != nil {
		t.Fatal(err)
	}
	b.accepted(t, r.GetTokens().GetAccessToken())
	b.accepted(t, fresh.GetTokens().GetAccessToken())
}
