package userapi_test

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/testkit"
)

// TestListUserAuditEvents_AdminFilters: an admin lists the user service's audit
// log newest first with each filter, paging through it one event at a
// time; a user who is not an admin gets PERMISSION_DENIED.
func TestListUserAuditEvents_AdminFilters(t *testing.T) {
	t.Parallel()
	b := setup(t, cheapHashing)
	ctx := testkit.Context(t)
	const pw = "first secret passphrase"
	before := time.Now().Add(-time.Second)
	alice := b.signUp(t, "alice@example.com", "alice", pw)
	_, err := b.client.Login(ctx, &userv1.LoginRequest{Login: "alice", Password: "wrong guess passphrase"})
	wantCode(t, err, codes.Unauthenticated)
	aliceToken := b.login(t, "alice", pw).GetTokens().GetAccessToken()
	root, rootToken := b.admin(t, "root")

	list := func(t *testing.T, req *userv1.ListUserAuditEventsRequest) []*userv1.UserAuditEvent {
		t.Helper()
		var out []*userv1.UserAuditEvent
		for pages := 0; ; pages++ {
			resp, err := b.client.ListUserAuditEvents(as(ctx, rootToken), req)
			if err != nil {
				t.Fatalf("ListUserAuditEvents(%v): %v", req, err)
			}
			out = append(out, resp.GetEvents()...)
			if resp.GetNextPageToken() == "" {
				return out
			}
			if pages > 50 {
				t.Fatal("ListUserAuditEvents does not end")
			}
			req.PageToken = resp.GetNextPageToken()
		}
	}
	actions := func(events []*userv1.UserAuditEvent) []string {
		var out []string
		for _, e := range events {
			out = append(out, e.GetAction())
		}
		return out
	}
	aliceID, rootID := alice.GetId(), root.GetId()
	all := actions(list(t, &userv1.ListUserAuditEventsRequest{}))
	if paged := actions(list(t, &userv1.ListUserAuditEventsRequest{PageSize: 1})); !slices.Equal(paged, all) || len(all) < 4 {
		t.Fatalf("one per page %q, all at once %q", paged, all)
	}
	if want := []string{"user.login", "user.login_failed", "user.sign_up"}; !slices.Equal(all[len(all)-3:], want) {
		t.Errorf("the oldest events are %q, want %q (newest first)", all, want)
	}
	future := timestamppb.New(time.Now().Add(time.Hour))
	for _, tt := range []struct {
		name string
		req  *userv1.ListUserAuditEventsRequest
		want []string
	}{
		{"action", &userv1.ListUserAuditEventsRequest{Action: "user.login_failed"}, []string{"user.login_failed"}},
		{"actor alice", &userv1.ListUserAuditEventsRequest{ActorId: &aliceID, Action: "user.login"}, []string{"user.login"}},
		{"target alice", &userv1.ListUserAuditEventsRequest{TargetUserId: &aliceID, PageSize: 2}, []string{"user.login", "user.login_failed", "user.sign_up"}},
		{"target root, signed up", &userv1.ListUserAuditEventsRequest{TargetUserId: &rootID, Action: "user.sign_up"}, []string{"user.sign_up"}},
		{"since before", &userv1.ListUserAuditEventsRequest{StartTime: timestamppb.New(before)}, all},
		{"since the future", &userv1.ListUserAuditEventsRequest{StartTime: future}, nil},
		{"until before", &userv1.ListUserAuditEventsRequest{EndTime: timestamppb.New(before)}, nil},
		{"until the future", &userv1.ListUserAuditEventsRequest{EndTime: future, Action: "user.sign_up", TargetUserId: &aliceID}, []string{"user.sign_up"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := actions(list(t, tt.req)); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	failed := list(t, &userv1.ListUserAuditEventsRequest{Action: "user.login_failed"})
	if len(failed) == 1 {
		if login := failed[0].GetChange().GetFields()["login"].GetStringValue(); login != "alice" {
			t.Errorf("failed sign-in change %v, want the login alice", failed[0].GetChange())
		}
	}

	// A token of one filter is refused with another.
	resp, err := b.client.ListUserAuditEvents(as(ctx, rootToken), &userv1.ListUserAuditEventsRequest{PageSize: 1})
	if err != nil || resp.GetNextPageToken() == "" {
		t.Fatalf("first page: %v", err)
	}
	_, err = b.client.ListUserAuditEvents(as(ctx, rootToken), &userv1.ListUserAuditEventsRequest{PageToken: resp.GetNextPageToken(), Action: "user.login"})
	wantCode(t, err, codes.InvalidArgument)

	_, err = b.client.ListUserAuditEvents(as(ctx, aliceToken), &userv1.ListUserAuditEventsRequest{})
	wantCode(t, err, codes.PermissionDenied)
}
