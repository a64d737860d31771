package userapi_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/grpcerr"
	"github.com/todo-platform/todo/pkg/testkit"
)

func TestAdminMethods_NonAdminsArePermissionDenied(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice, token := b.signedIn(t, "alice")
	ctx := as(testkit.Context(t), token)
	_, err := b.client.ListUsers(ctx, &userv1.ListUsersRequest{})
	wantCode(t, err, codes.PermissionDenied)
	_, err = b.client.DeactivateUser(ctx, &userv1.DeactivateUserRequest{Id: alice.GetId()})
	wantCode(t, err, codes.PermissionDenied)
	_, err = b.client.ActivateUser(ctx, &userv1.ActivateUserRequest{Id: alice.GetId()})
	wantCode(t, err, codes.PermissionDenied)
}

func TestDeactivateUser_StopsSignInAndRefreshUntilActivated(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const pw = "correct horse battery"
	alice := b.signUp(t, "alice@example.com", "alice", pw)
	pair := b.login(t, "alice", pw).GetTokens()
	_, rootToken := b.admin(t, "root")
	admin := as(testkit.Context(t), rootToken)

	resp, err := b.client.DeactivateUser(admin, &userv1.DeactivateUserRequest{Id: alice.GetId()})
	if err != nil || resp.GetIsActive() {
		t.Fatalf("DeactivateUser: %v, %v", resp, err)
	}
	_, err = refresh(t, b, pair.GetRefreshToken())
	wantCode(t, err, codes.Unauthenticated)
	_, err = b.client.Login(testkit.Context(t), &userv1.LoginRequest{Login: "alice", Password: pw})
	wantCode(t, err, codes.Unauthenticated)

	resp2, err := b.client.ActivateUser(admin, &userv1.ActivateUserRequest{Id: alice.GetId()})
	if err != nil || !resp2.GetIsActive() {
		t.Fatalf("ActivateUser: %v, %v", resp2, err)
	}
	b.login(t, "alice", pw)
	// Sessions revoked by deactivation stay revoked.
	_, err = refresh(t, b, pair.GetRefreshToken())
	wantCode(t, err, codes.Unauthenticated)

	_, err = b.client.DeactivateUser(admin, &userv1.DeactivateUserRequest{Id: 424242})
	wantCode(t, err, codes.NotFound)
}

func TestListUsers_PagesOldestFirstWithFilterBoundTokens(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, rootToken := b.admin(t, "root")
	ctx := as(testkit.Context(t), rootToken)
	// Seven more users, some sharing created_at (ties are ordered by id), two inactive.
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, name := range []string{"u1", "u2", "u3", "u4", "u5", "u6", "u7"} {
		_, err := b.db.Owner.Exec(testkit.Context(t), `INSERT INTO "user" (email, username, password_hash, is_active, created_at) VALUES ($1, $2, 'x', $3, $4)`,
			name+"@example.com", "user"+name, i%3 != 1, base.Add(time.Duration(i/2)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
	}
	list := func(req *userv1.ListUsersRequest) []string {
		t.Helper()
		var names []string
		for page := 0; ; page++ {
			resp, err := b.client.ListUsers(ctx, req)
			if err != nil {
				t.Fatalf("page %d: %v", page, err)
			}
			if len(resp.GetUsers()) > int(max(req.GetPageSize(), 50)) {
				t.Fatalf("page %d has %d users", page, len(resp.GetUsers()))
			}
			for _, u := range resp.GetUsers() {
				names = append(names, u.GetUsername())
			}
			if resp.GetNextPageToken() == "" {
				return names
			}
			req = proto.CloneOf(req)
			req.PageToken = resp.GetNextPageToken()
		}
	}
	all := list(&userv1.ListUsersRequest{PageSize: 3})
	want := []string{"root", "useru1", "useru2", "useru3", "useru4", "useru5", "useru6", "useru7"}
	if !equal(all, want) {
		t.Errorf("all users in pages of 3: %v, want %v", all, want)
	}
	if got := list(&userv1.ListUsersRequest{}); !equal(got, want) {
		t.Errorf("default page size: %v", got)
	}
	inactive := false
	if got, want := list(&userv1.ListUsersRequest{PageSize: 1, IsActive: &inactive}), []string{"useru2", "useru5"}; !equal(got, want) {
		t.Errorf("inactive users: %v, want %v", got, want)
	}

	// A token is bound to the filter it was made for.
	first, err := b.client.ListUsers(ctx, &userv1.ListUsersRequest{PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.client.ListUsers(ctx, &userv1.ListUsersRequest{PageSize: 2, IsActive: &inactive, PageToken: first.GetNextPageToken()})
	wantCode(t, err, codes.InvalidArgument)
	if got := grpcerr.Fields(err); len(got) != 1 || got[0] != "page_token" {
		t.Errorf("violations %v, want [page_token]", got)
	}
	_, err = b.client.ListUsers(ctx, &userv1.ListUsersRequest{PageToken: "garbage!"})
	wantCode(t, err, codes.InvalidArgument)
	_, err = b.client.ListUsers(ctx, &userv1.ListUsersRequest{PageSize: 1001})
	wantCode(t, err, codes.InvalidArgument)
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
