package user_test

import (
	"errors"
	"testing"

	"github.com/todo-platform/todo/services/user/internal/user"
)

func TestAuthorize_SelfAdminAndOthers(t *testing.T) {
	const alice, bob = 1, 2
	var (
		self   = user.Caller{UserID: alice}
		admin  = user.Caller{UserID: 99, Admin: true}
		other  = user.Caller{UserID: bob}
		nobody = user.Caller{}
	)
	for _, tc := range []struct {
		name   string
		caller user.Caller
		action user.Action
		want   bool
	}{
		{"look up: a user", other, user.ActionLookUp, true},
		{"look up: no user", nobody, user.ActionLookUp, false},
		{"update: self", self, user.ActionUpdate, true},
		{"update: admin", admin, user.ActionUpdate, true},
		{"update: someone else", other, user.ActionUpdate, false},
		{"update: no user", nobody, user.ActionUpdate, false},
		{"change password: self", self, user.ActionChangePassword, true},
		{"change password: admin for someone else", admin, user.ActionChangePassword, false},
		{"change password: someone else", other, user.ActionChangePassword, false},
		{"administer: admin", admin, user.ActionAdminister, true},
		{"administer: the user", self, user.ActionAdminister, false},
	} {
		err := user.Authorize(tc.caller, alice, tc.action)
		if got := err == nil; got != tc.want {
			t.Errorf("%s: Authorize = %v, want allowed=%t", tc.name, err, tc.want)
		}
		if err != nil && !errors.Is(err, user.ErrPermissionDenied) {
			t.Errorf("%s: %v, want ErrPermissionDenied", tc.name, err)
		}
	}
	if err := user.Authorize(user.Caller{}, 0, user.ActionUpdate); err == nil {
		t.Error("a Caller without a user may update the user with id 0")
	}
}

func TestCallerSees_WholeToSelfAndAdminsPublicProfileOfActiveUsersToOthers(t *testing.T) {
	active := user.User{ID: 1, Username: "alice", FullName: "Alice", Email: "alice@example.com", IsActive: true}
	inactive := active
	inactive.IsActive = false
	for _, tc := range []struct {
		name   string
		caller user.Caller
		u      user.User
		want   user.Visibility
	}{
		{"self", user.Caller{UserID: 1}, active, user.Whole},
		{"self, inactive", user.Caller{UserID: 1}, inactive, user.Whole},
		{"admin, inactive", user.Caller{UserID: 9, Admin: true}, inactive, user.Whole},
		{"other", user.Caller{UserID: 2}, active, user.Public},
		{"other, inactive", user.Caller{UserID: 2}, inactive, user.Hidden},
		{"no user", user.Caller{}, active, user.Hidden},
	} {
		if got := tc.caller.Sees(tc.u); got != tc.want {
			t.Errorf("%s: Sees = %v, want %v", tc.name, got, tc.want)
		}
	}
	if got, want := active.PublicProfile(), (user.User{ID: 1, Username: "alice", FullName: "Alice"}); got != want {
		t.Errorf("PublicProfile = %+v, want %+v", got, want)
	}
}
