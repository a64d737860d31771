package userapi_test

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/grpcerr"
	"github.com/todo-platform/todo/pkg/testkit"
)

func TestGetUser_SelfAndAdminSeeAllOthersThePublicProfileOfActiveUsers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice, aliceToken := b.signedIn(t, "alice")
	bob, bobToken := b.signedIn(t, "bob")
	_, rootToken := b.admin(t, "root")
	if _, err := b.client.UpdateUser(as(testkit.Context(t), bobToken), &userv1.UpdateUserRequest{
		User: &userv1.User{Id: bob.GetId(), FullName: "Bob B"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"full_name"}},
	}); err != nil {
		t.Fatal(err)
	}

	self, err := b.client.GetUser(as(testkit.Context(t), aliceToken), &userv1.GetUserRequest{Id: alice.GetId()})
	if err != nil || self.GetEmail() != "alice@example.com" || self.GetCreatedAt() == nil {
		t.Errorf("self: %v, %v", self, err)
	}
	public, err := b.client.GetUser(as(testkit.Context(t), aliceToken), &userv1.GetUserRequest{Id: bob.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	want := &userv1.User{Id: bob.GetId(), Username: "bob", FullName: "Bob B"}
	if got := public; got.String() != want.String() {
		t.Errorf("public profile = %v, want only %v", got, want)
	}
	me, err := b.client.GetCurrentUser(as(testkit.Context(t), aliceToken), &userv1.GetCurrentUserRequest{})
	if err != nil || me.GetId() != alice.GetId() || me.GetEmail() == "" {
		t.Errorf("GetCurrentUser: %v, %v", me, err)
	}

	// Inactive: NotFound to others, whole to admins.
	if _, err := b.client.DeactivateUser(as(testkit.Context(t), rootToken), &userv1.DeactivateUserRequest{Id: bob.GetId()}); err != nil {
		t.Fatal(err)
	}
	_, err = b.client.GetUser(as(testkit.Context(t), aliceToken), &userv1.GetUserRequest{Id: bob.GetId()})
	wantCode(t, err, codes.NotFound)
	_, err = b.client.GetUser(as(testkit.Context(t), aliceToken), &userv1.GetUserRequest{Id: 987654})
	wantCode(t, err, codes.NotFound)
	byAdmin, err := b.client.GetUser(as(testkit.Context(t), rootToken), &userv1.GetUserRequest{Id: bob.GetId()})
	if err != nil || byAdmin.GetEmail() != "bob@example.com" || byAdmin.GetIsActive() {
		t.Errorf("admin sees inactive bob: %v, %v", byAdmin, err)
	}
}

func TestUpdateUser_MaskChangesOnlyTheNamedFields(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice, token := b.signedIn(t, "alice")
	ctx := as(testkit.Context(t), token)

	resp, err := b.client.UpdateUser(ctx, &userv1.UpdateUserRequest{
		User:       &userv1.User{Id: alice.GetId(), FullName: "Alice A", Username: "zed", Email: new("zed@example.com")},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"full_name"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if u := resp; u.GetFullName() != "Alice A" || u.GetUsername() != "alice" || u.GetEmail() != "alice@example.com" {
		t.Errorf("mask full_name: got %v, want only full_name changed", u)
	}

	// No mask: only the fields given with a value; nothing is wiped.
	resp, err = b.client.UpdateUser(ctx, &userv1.UpdateUserRequest{User: &userv1.User{Id: alice.GetId(), Username: "alice2"}})
	if err != nil {
		t.Fatal(err)
	}
	if u := resp; u.GetFullName() != "Alice A" || u.GetUsername() != "alice2" || u.GetEmail() != "alice@example.com" {
		t.Errorf("no mask: got %v", u)
	}

	// An explicit mask may clear full_name.
	resp, err = b.client.UpdateUser(ctx, &userv1.UpdateUserRequest{
		User: &userv1.User{Id: alice.GetId()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"full_name"}},
	})
	if err != nil || resp.GetFullName() != "" || resp.GetUsername() != "alice2" {
		t.Errorf("clear full_name: %v, %v", resp, err)
	}

	// A changed email is stored in lower case and is no longer verified.
	if _, err := b.db.Owner.Exec(testkit.Context(t), `UPDATE "user" SET is_verified = true WHERE id = $1`, alice.GetId()); err != nil {
		t.Fatal(err)
	}
	resp, err = b.client.UpdateUser(ctx, &userv1.UpdateUserRequest{
		User: &userv1.User{Id: alice.GetId(), Email: new("New@Example.com")}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"email"}},
	})
	if err != nil || resp.GetEmail() != "new@example.com" || resp.GetIsVerified() {
		t.Errorf("email change: %v, %v", resp, err)
	}
	// The same email again keeps the (re-)verified state.
	if _, err := b.db.Owner.Exec(testkit.Context(t), `UPDATE "user" SET is_verified = true WHERE id = $1`, alice.GetId()); err != nil {
		t.Fatal(err)
	}
	resp, err = b.client.UpdateUser(ctx, &userv1.UpdateUserRequest{
		User: &userv1.User{Id: alice.GetId(), Email: new("new@example.com")}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"email"}},
	})
	if err != nil || !resp.GetIsVerified() {
		t.Errorf("unchanged email reset is_verified: %v, %v", resp, err)
	}
}

func TestUpdateUser_BadMaskDuplicatesAndOthersAreRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice, token := b.signedIn(t, "alice")
	bob, _ := b.signedIn(t, "bob")
	_, rootToken := b.admin(t, "root")
	ctx := as(testkit.Context(t), token)

	for _, path := range []string{"password_hash", "role", "full_name.first"} {
		_, err := b.client.UpdateUser(ctx, &userv1.UpdateUserRequest{
			User: &userv1.User{Id: alice.GetId()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{path}},
		})
		wantCode(t, err, codes.InvalidArgument)
		if got := grpcerr.Fields(err); len(got) != 1 || got[0] != "update_mask" {
			t.Errorf("path %q: field violations %v, want [update_mask]", path, got)
		}
	}
	// Output-only fields in the mask are ignored (AIP-203): naming is_admin
	// makes nobody an admin.
	got, err := b.client.UpdateUser(ctx, &userv1.UpdateUserRequest{
		User:       &userv1.User{Id: alice.GetId(), FullName: "Alice", IsAdmin: new(true), IsActive: new(false)},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"full_name", "is_admin", "is_active", "id", "created_at"}},
	})
	if err != nil || got.GetIsAdmin() || !got.GetIsActive() || got.GetFullName() != "Alice" {
		t.Errorf("mask with output-only paths: %v, %v; want only full_name changed", got, err)
	}
	_, err = b.client.UpdateUser(ctx, &userv1.UpdateUserRequest{
		User: &userv1.User{Id: alice.GetId(), Email: new("BOB@example.com")}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"email"}},
	})
	st := wantCode(t, err, codes.AlreadyExists)
	if got := badRequestFields(st); len(got) != 1 || got[0] != "user.email" {
		t.Errorf("duplicate email: %v, want [user.email]", got)
	}
	_, err = b.client.UpdateUser(ctx, &userv1.UpdateUserRequest{
		User: &userv1.User{Id: alice.GetId(), Username: "bob"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"username"}},
	})
	st = wantCode(t, err, codes.AlreadyExists)
	if got := badRequestFields(st); len(got) != 1 || got[0] != "user.username" {
		t.Errorf("duplicate username: %v, want [user.username]", got)
	}
	_, err = b.client.UpdateUser(ctx, &userv1.UpdateUserRequest{
		User: &userv1.User{Id: alice.GetId()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"username"}},
	})
	wantCode(t, err, codes.InvalidArgument)

	// Someone else's profile: PermissionDenied; an admin may.
	_, err = b.client.UpdateUser(ctx, &userv1.UpdateUserRequest{User: &userv1.User{Id: bob.GetId(), FullName: "Not Bob"}})
	wantCode(t, err, codes.PermissionDenied)
	resp, err := b.client.UpdateUser(as(testkit.Context(t), rootToken), &userv1.UpdateUserRequest{User: &userv1.User{Id: bob.GetId(), FullName: "Bob B"}})
	if err != nil || resp.GetFullName() != "Bob B" {
		t.Errorf("admin update: %v, %v", resp, err)
	}
	_, err = b.client.UpdateUser(ctx, &userv1.UpdateUserRequest{User: &userv1.User{FullName: "x"}})
	wantCode(t, err, codes.InvalidArgument)
}

func TestChangePassword_ChecksTheCurrentOneAndRevokesSessions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const pw, next = "correct horse battery", "another long password"
	alice := b.signUp(t, "alice@example.com", "alice", pw)
	bob, _ := b.signedIn(t, "bob")
	pair := b.login(t, "alice", pw).GetTokens()
	ctx := as(testkit.Context(t), pair.GetAccessToken())

	_, err := b.client.ChangePassword(ctx, &userv1.ChangePasswordRequest{Id: alice.GetId(), CurrentPassword: "wrong password!", NewPassword: next})
	wantCode(t, err, codes.InvalidArgument)
	if got := grpcerr.Fields(err); len(got) != 1 || got[0] != "current_password" {
		t.Errorf("wrong current password: violations %v", got)
	}
	_, err = b.client.ChangePassword(ctx, &userv1.ChangePasswordRequest{Id: bob.GetId(), CurrentPassword: pw, NewPassword: next})
	wantCode(t, err, codes.PermissionDenied)
	_, err = b.client.ChangePassword(ctx, &userv1.ChangePasswordRequest{Id: alice.GetId(), CurrentPassword: pw, NewPassword: "too short"})
	wantCode(t, err, codes.InvalidArgument)

	if _, err := b.client.ChangePassword(ctx, &userv1.ChangePasswordRequest{Id: alice.GetId(), CurrentPassword: pw, NewPassword: next}); err != nil {
		t.Fatal(err)
	}
	_, err = refresh(t, b, pair.GetRefreshToken())
	wantCode(t, err, codes.Unauthenticated)
	_, err = b.client.Login(testkit.Context(t), &userv1.LoginRequest{Login: "alice", Password: pw})
	wantCode(t, err, codes.Unauthenticated)
	b.login(t, "alice", next)
}
