package userapi_test

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/grpcserver/grpcservertest"
	"github.com/todo-platform/todo/pkg/testkit"
)

// hostileText are seeds every text fuzz target starts from: NUL, invalid
// UTF-8, encoded surrogates, huge strings, separators.
var hostileText = []string{
	"", "\x00", "a\x00b", "\xff", "\xc0\xaf", "\xed\xa0\x80", "\xed\xbf\xbf", "\U0010FFFF", "\uFFFD",
	strings.Repeat("x", 1025), strings.Repeat("é", 6000), " ", ",", "..", "full_name,full_name", "*", "@",
}

// textField returns the string field at path of requests of m's type.
func textField(f *testing.F, m proto.Message, path string) grpcservertest.TextField {
	f.Helper()
	tf, err := grpcservertest.TextFieldAt(m.ProtoReflect().Descriptor(), path)
	if err != nil {
		f.Fatal(err)
	}
	return tf
}

// wantCodeNot fails when err's code is one of refused.
func wantCodeNot(t *testing.T, err error, refused ...codes.Code) {
	t.Helper()
	if c := status.Code(err); slices.Contains(refused, c) {
		t.Fatalf("code %v (%v)", c, err)
	}
}

// FuzzLogin: whatever the login and password, Login never answers Internal
// or Unknown.
func FuzzLogin(f *testing.F) {
	b := setup(f, cheapHashing)
	const pw = "correct horse battery"
	b.signUp(f, "ann@example.com", "ann", pw)
	for _, s := range append([]string{"ann", "ann@example.com", "ANN@EXAMPLE.COM", "ann\x00", "ann@example.com\x00"}, hostileText...) {
		f.Add(s, pw)
		f.Add(s, s)
	}
	login := textField(f, &userv1.LoginRequest{}, "login")
	password := textField(f, &userv1.LoginRequest{}, "password")
	f.Fuzz(func(t *testing.T, l, p string) {
		raw := password.Append(login.Append(nil, l), p)
		err := grpcservertest.InvokeRaw(testkit.Context(t), b.conn, userv1.UserService_Login_FullMethodName, raw, &userv1.LoginResponse{})
		wantCodeNot(t, err, codes.Internal, codes.Unknown)
	})
}

// FuzzListUsers_PageToken: whatever the page token, ListUsers (by an admin)
// answers OK or InvalidArgument.
func FuzzListUsers_PageToken(f *testing.F) {
	b := setup(f, cheapHashing)
	_, token := b.admin(f, "root")
	b.signUp(f, "ann@example.com", "ann", "correct horse battery")
	first, err := b.client.ListUsers(as(testkit.Context(f), token), &userv1.ListUsersRequest{PageSize: 1})
	if err != nil {
		f.Fatal(err)
	}
	tok := first.GetNextPageToken()
	for _, s := range append([]string{tok, tok[:len(tok)-1], tok + "A", strings.ToUpper(tok), tok + "\x00"}, hostileText...) {
		f.Add(s)
	}
	field := textField(f, &userv1.ListUsersRequest{}, "page_token")
	f.Fuzz(func(t *testing.T, pageToken string) {
		base, err := proto.Marshal(&userv1.ListUsersRequest{PageSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		err = grpcservertest.InvokeRaw(as(testkit.Context(t), token), b.conn, userv1.UserService_ListUsers_FullMethodName,
			field.Append(base, pageToken), &userv1.ListUsersResponse{})
		if c := status.Code(err); c != codes.OK && c != codes.InvalidArgument {
			t.Fatalf("code %v (%v), want OK or InvalidArgument", c, err)
		}
	})
}

// FuzzUpdateUser_Mask: whatever the update_mask paths (and full name sent
// with them), UpdateUser of oneself answers one of the codes of a refused or
// accepted update, never Internal or Unknown.
func FuzzUpdateUser_Mask(f *testing.F) {
	b := setup(f, cheapHashing)
	u, token := b.signedIn(f, "ann")
	for _, s := range append([]string{"full_name", "email", "username", "full_name,email", "is_active", "id", "password",
		"user.full_name", "Full_Name", "full_name.x"}, hostileText...) {
		f.Add(s, "Ann Example")
		f.Add(s, "\xed\xa0\x80")
	}
	paths := textField(f, &userv1.UpdateUserRequest{}, "update_mask.paths[0]")
	fullName := textField(f, &userv1.UpdateUserRequest{}, "user.full_name")
	allowed := []codes.Code{codes.OK, codes.InvalidArgument, codes.NotFound, codes.PermissionDenied, codes.FailedPrecondition, codes.Aborted}
	f.Fuzz(func(t *testing.T, mask, name string) {
		raw, err := proto.Marshal(&userv1.UpdateUserRequest{User: &userv1.User{Id: u.GetId()}})
		if err != nil {
			t.Fatal(err)
		}
		for p := range strings.SplitSeq(mask, ",") {
			raw = paths.Append(raw, p)
		}
		raw = fullName.Append(raw, name)
		err = grpcservertest.InvokeRaw(as(testkit.Context(t), token), b.conn, userv1.UserService_UpdateUser_FullMethodName, raw, &userv1.User{})
		if c := status.Code(err); !slices.Contains(allowed, c) {
			t.Fatalf("code %v (%v), want one of %v", c, err, allowed)
		}
	})
}
