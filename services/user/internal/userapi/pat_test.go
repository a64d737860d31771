package userapi_test

import (
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/testkit"
)

// createPAT creates a personal access token with token and returns it.
func (b *bundle) createPAT(t *testing.T, token, name string, scope userv1.PersonalAccessTokenScope) *userv1.PersonalAccessToken {
	t.Helper()
	p, err := b.client.CreatePersonalAccessToken(as(testkit.Context(t), token), &userv1.CreatePersonalAccessTokenRequest{
		PersonalAccessToken: &userv1.PersonalAccessToken{Name: name, Scope: scope},
	})
	if err != nil {
		t.Fatalf("CreatePersonalAccessToken: %v", err)
	}
	return p
}

func TestPAT_WorksAsBearerIsStoredHashedAndShownOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, cheapHashing)
	ctx := testkit.Context(t)
	ann, token := b.signedIn(t, "ann")
	p := b.createPAT(t, token, "backup script", userv1.PersonalAccessTokenScope_PERSONAL_ACCESS_TOKEN_SCOPE_READ_WRITE)
	if !strings.HasPrefix(p.GetToken(), "todo_pat_") || len(p.GetToken()) != len("todo_pat_")+43 {
		t.Fatalf("token %q: want todo_pat_ and 43 characters", p.GetToken())
	}
	if p.GetUserId() != ann.GetId() || p.GetName() != "backup script" || p.GetRevokedAt() != nil {
		t.Errorf("created %v", p)
	}
	if d := p.GetExpiresAt().AsTime().Sub(p.GetCreatedAt().AsTime()); d < 29*24*time.Hour || d > 31*24*time.Hour {
		t.Errorf("default lifetime %v, want 30 days", d)
	}
	// The database holds its hash only, and the audit log not even that.
	sum := sha256.Sum256([]byte(p.GetToken()))
	var hashed, leaked int
	if err := b.db.Owner.QueryRow(ctx, `SELECT count(*) FROM personal_access_token WHERE token_hash = $1`, sum[:]).Scan(&hashed); err != nil {
		t.Fatal(err)
	}
	if err := b.db.Owner.QueryRow(ctx, `SELECT count(*) FROM user_audit_event WHERE change::text LIKE '%' || $1 || '%'`, p.GetToken()).Scan(&leaked); err != nil {
		t.Fatal(err)
	}
	if hashed != 1 || leaked != 0 {
		t.Errorf("rows with its hash %d (want 1), audit rows with the secret %d (want 0)", hashed, leaked)
	}

	me, err := b.client.GetCurrentUser(as(ctx, p.GetToken()), &userv1.GetCurrentUserRequest{})
	if err != nil || me.GetId() != ann.GetId() {
		t.Fatalf("GetCurrentUser with the token: %v, %v", me, err)
	}
	// Read-write: it may write.
	if _, err := b.client.UpdateUser(as(ctx, p.GetToken()), &userv1.UpdateUserRequest{
		User: &userv1.User{Id: ann.GetId(), FullName: "Ann"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"full_name"}},
	}); err != nil {
		t.Errorf("UpdateUser with a read-write token: %v", err)
	}
	// Not another token, though.
	_, err = b.client.CreatePersonalAccessToken(as(ctx, p.GetToken()), &userv1.CreatePersonalAccessTokenRequest{
		PersonalAccessToken: &userv1.PersonalAccessToken{Name: "child"},
	})
	wantCode(t, err, codes.PermissionDenied)
	// Nor the email, which would take the password reset with it.
	_, err = b.client.UpdateUser(as(ctx, p.GetToken()), &userv1.UpdateUserRequest{
		User: &userv1.User{Id: ann.GetId(), Email: new("mallory@example.com")}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"email"}},
	})
	wantCode(t, err, codes.PermissionDenied)
	// A made-up token of the wrong shape is refused too.
	_, err = b.client.GetCurrentUser(as(ctx, "todo_pat_short"), &userv1.GetCurrentUserRequest{})
	wantCode(t, err, codes.Unauthenticated)

	// Listed without its secret.
	l, err := b.client.ListPersonalAccessTokens(as(ctx, token), &userv1.ListPersonalAccessTokensRequest{})
	if err != nil || len(l.GetPersonalAccessTokens()) != 1 || l.GetPersonalAccessTokens()[0].GetToken() != "" || l.GetPersonalAccessTokens()[0].GetId() != p.GetId() {
		t.Fatalf("ListPersonalAccessTokens = %v, %v; want the one token, no secret", l, err)
	}
	// An unknown token of the right form is refused.
	_, err = b.client.GetCurrentUser(as(ctx, "todo_pat_"+strings.Repeat("A", 43)), &userv1.GetCurrentUserRequest{})
	wantCode(t, err, codes.Unauthenticated)
}

func TestPAT_ReadOnlyIsRefusedForWrites(t *testing.T) {
	t.Parallel()
	b := setup(t, cheapHashing)
	ctx := testkit.Context(t)
	ann, token := b.signedIn(t, "ann")
	p := b.createPAT(t, token, "dashboard", userv1.PersonalAccessTokenScope_PERSONAL_ACCESS_TOKEN_SCOPE_UNSPECIFIED)
	if p.GetScope() != userv1.PersonalAccessTokenScope_PERSONAL_ACCESS_TOKEN_SCOPE_READ_ONLY {
		t.Errorf("unspecified scope gave %v, want read-only", p.GetScope())
	}
	if _, err := b.client.GetCurrentUser(as(ctx, p.GetToken()), &userv1.GetCurrentUserRequest{}); err != nil {
		t.Fatalf("read with a read-only token: %v", err)
	}
	_, err := b.client.UpdateUser(as(ctx, p.GetToken()), &userv1.UpdateUserRequest{
		User: &userv1.User{Id: ann.GetId(), FullName: "Mallory"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"full_name"}},
	})
	wantCode(t, err, codes.PermissionDenied)
	_, err = b.client.LogoutAll(as(ctx, p.GetToken()), &userv1.LogoutAllRequest{})
	wantCode(t, err, codes.PermissionDenied)
}

func TestPAT_RevokedByItsUserOrAnAdminIsRefusedWithinSeconds(t *testing.T) {
	t.Parallel()
	b := setup(t, cheapHashing)
	ctx := testkit.Context(t)
	_, annToken := b.signedIn(t, "ann")
	_, bobToken := b.signedIn(t, "bob")
	_, rootToken := b.admin(t, "root")
	mine := b.createPAT(t, annToken, "one", userv1.PersonalAccessTokenScope_PERSONAL_ACCESS_TOKEN_SCOPE_READ_ONLY)
	other := b.createPAT(t, annToken, "two", userv1.PersonalAccessTokenScope_PERSONAL_ACCESS_TOKEN_SCOPE_READ_ONLY)
	b.accepted(t, mine.GetToken())
	b.accepted(t, other.GetToken())

	// Bob cannot see, let alone revoke, Ann's token.
	_, err := b.client.RevokePersonalAccessToken(as(ctx, bobToken), &userv1.RevokePersonalAccessTokenRequest{Id: mine.GetId()})
	wantCode(t, err, codes.NotFound)
	_, err = b.client.ListPersonalAccessTokens(as(ctx, bobToken), &userv1.ListPersonalAccessTokensRequest{UserId: mine.GetUserId()})
	wantCode(t, err, codes.PermissionDenied)

	r, err := b.client.RevokePersonalAccessToken(as(ctx, annToken), &userv1.RevokePersonalAccessTokenRequest{Id: mine.GetId()})
	if err != nil || r.GetRevokedAt() == nil {
		t.Fatalf("RevokePersonalAccessToken = %v, %v", r, err)
	}
	b.refusedWithin(t, mine.GetToken())
	b.accepted(t, other.GetToken())

	// An admin revokes anyone's, and lists them.
	if _, err := b.client.RevokePersonalAccessToken(as(ctx, rootToken), &userv1.RevokePersonalAccessTokenRequest{Id: other.GetId()}); err != nil {
		t.Fatal(err)
	}
	b.refusedWithin(t, other.GetToken())
	l, err := b.client.ListPersonalAccessTokens(as(ctx, rootToken), &userv1.ListPersonalAccessTokensRequest{UserId: mine.GetUserId()})
	if err != nil || len(l.GetPersonalAccessTokens()) != 2 {
		t.Fatalf("admin's listing: %v, %v", l, err)
	}
	for _, p := range l.GetPersonalAccessTokens() {
		if p.GetRevokedAt() == nil {
			t.Errorf("%v not revoked", p)
		}
	}
}

func TestPAT_ExpiryIsCheckedAndEnforced(t *testing.T) {
	t.Parallel()
	b := setup(t, cheapHashing)
	ctx := testkit.Context(t)
	_, token := b.signedIn(t, "ann")
	for _, exp := range []time.Time{time.Now().Add(-time.Minute), time.Now().Add(400 * 24 * time.Hour)} {
		_, err := b.client.CreatePersonalAccessToken(as(ctx, token), &userv1.CreatePersonalAccessTokenRequest{
			PersonalAccessToken: &userv1.PersonalAccessToken{Name: "x", ExpiresAt: timestamppb.New(exp)},
		})
		st := wantCode(t, err, codes.InvalidArgument)
		var field string
		for _, d := range st.Details() {
			if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
				field = br.GetFieldViolations()[0].GetField()
			}
		}
		if field != "personal_access_token.expires_at" {
			t.Errorf("expiry %v: field %q", exp, field)
		}
	}
	p := b.createPAT(t, token, "soon", userv1.PersonalAccessTokenScope_PERSONAL_ACCESS_TOKEN_SCOPE_READ_ONLY)
	if _, err := b.db.Owner.Exec(ctx, `UPDATE personal_access_token SET expires_at = now() - interval '1 second' WHERE id = $1`, p.GetId()); err != nil {
		t.Fatal(err)
	}
	b.refusedWithin(t, p.GetToken())
}
