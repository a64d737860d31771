package userapi_test

import (
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/grpcerr"
	"github.com/todo-platform/todo/pkg/testkit"
	"github.com/todo-platform/todo/services/user/internal/user"
)

func TestCreateUser_PasswordLengthIsCheckedInCharactersAndNothingIsTruncated(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		name     string
		password string
	}{
		{"11 characters", strings.Repeat("a", 11)},
		{"129 characters", strings.Repeat("a", 129)},
		{"11 emoji", strings.Repeat("😀", 11)},
	} {
		_, err := b.client.CreateUser(testkit.Context(t), &userv1.CreateUserRequest{Email: "short@example.com", Username: "short", Password: tc.password})
		wantCode(t, err, codes.InvalidArgument)
		if got := grpcerr.Fields(err); len(got) != 1 || got[0] != "password" {
			t.Errorf("%s: field violations %v, want [password]", tc.name, got)
		}
	}

	for i, tc := range []struct {
		name     string
		password string
		// wrong differs from password in its last character only.
		wrong string
	}{
		{"12 characters", "abcdefghijkl", "abcdefghijkm"},
		{"64 characters", strings.Repeat("p", 63) + "q", strings.Repeat("p", 64)},
		{"128 characters", strings.Repeat("x", 127) + "y", strings.Repeat("x", 128)},
		{"12 emoji", "😀😃😄😁😆😅🤣😂🙂🙃😉😊", "😀😃😄😁😆😅🤣😂🙂🙃😉😇"},
	} {
		username := "pw" + string(rune('a'+i))
		u := b.signUp(t, username+"@example.com", username, tc.password)
		if got := b.login(t, username, tc.password).GetUser().GetId(); got != u.GetId() {
			t.Errorf("%s: login returned user %d, want %d", tc.name, got, u.GetId())
		}
		_, err := b.client.Login(testkit.Context(t), &userv1.LoginRequest{Login: username, Password: tc.wrong})
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s: login with the last character changed: %v, want Unauthenticated (truncated?)", tc.name, err)
		}

		var hash string
		if err := b.db.Owner.QueryRow(testkit.Context(t), `SELECT password_hash FROM "user" WHERE id = $1`, u.GetId()).Scan(&hash); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(hash, "$argon2id$v=19$") {
			t.Errorf("%s: stored hash %q is not an argon2id PHC string", tc.name, hash)
		}
		p, _, _, err := user.DecodePHC(hash)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if p.Memory < 19456 || p.Time < 2 || p.Threads < 1 {
			t.Errorf("%s: stored hash parameters m=%d t=%d p=%d, want m>=19456 t>=2 p>=1", tc.name, p.Memory, p.Time, p.Threads)
		}
		if strings.Contains(hash, tc.password) {
			t.Errorf("%s: stored hash contains the password", tc.name)
		}
	}
}

func TestCreateUser_DuplicateEmailInAnyCaseOrUsernameIsAlreadyExists(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.signUp(t, "alice@example.com", "alice", "correct horse battery")

	_, err := b.client.CreateUser(testkit.Context(t), &userv1.CreateUserRequest{Email: "Alice@Example.com", Username: "alice2", Password: "correct horse battery"})
	st := wantCode(t, err, codes.AlreadyExists)
	if got := badRequestFields(st); len(got) != 1 || got[0] != "email" {
		t.Errorf("duplicate email: field violations %v, want [email]", got)
	}

	_, err = b.client.CreateUser(testkit.Context(t), &userv1.CreateUserRequest{Email: "other@example.com", Username: "alice", Password: "correct horse battery"})
	st = wantCode(t, err, codes.AlreadyExists)
	if got := badRequestFields(st); len(got) != 1 || got[0] != "username" {
		t.Errorf("duplicate username: field violations %v, want [username]", got)
	}

	// Stored in lower case; sign-in by email ignores case.
	c := b.signUp(t, "Carol@Example.COM", "carol", "correct horse battery")
	if got, want := c.GetEmail(), "carol@example.com"; got != want {
		t.Errorf("stored email = %q, want %q", got, want)
	}
	b.login(t, "CAROL@example.com", "correct horse battery")

	if !u.GetIsActive() || u.GetIsVerified() || u.GetIsAdmin() || u.GetCreatedAt() == nil {
		t.Errorf("new user = %v, want active, unverified, not admin, with created_at", u)
	}
}

func badRequestFields(st *status.Status) []string {
	var out []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, fv := range br.GetFieldViolations() {
				out = append(out, fv.GetField())
			}
		}
	}
	return out
}
