package userapi_test

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/testkit"
)

// TestCreateUser_ThrottledPerClientAddress: sign-up attempts (successful
// or answered 409) count against the client address; past the limit the
// address is refused with a retry delay, another address is not.
func TestCreateUser_ThrottledPerClientAddress(t *testing.T) {
	t.Parallel()
	b := setup(t, cheapHashing, func(o *options) { o.cfg.MaxSignUpsPerAddress = 3 })
	const pw = "correct horse battery"
	x, y := "203.0.113.7", "198.51.100.20"
	signUp := func(addr, name string) error {
		_, err := b.client.CreateUser(withForwardedFor(testkit.Context(t), addr),
			&userv1.CreateUserRequest{Email: name + "@example.com", Username: name, Password: pw})
		return err
	}
	if err := signUp(x, "usr1"); err != nil {
		t.Fatal(err)
	}
	// Probing for a taken address counts too: enumeration is slowed.
	for range 2 {
		if err := signUp(x, "usr1"); status.Code(err) != codes.AlreadyExists {
			t.Fatalf("taken email: %v, want AlreadyExists", err)
		}
	}
	for i, name := range []string{"usr2", "usr1"} {
		err := signUp(x, name)
		if d := retryDelay(t, err); d <= 0 || d > time.Hour {
			t.Errorf("attempt %d past the limit: retry delay %v", i+1, d)
		}
		if got := status.Convert(err).Message(); got != "too many sign-ups from this address; retry later" {
			t.Errorf("message %q", got)
		}
	}
	if err := signUp(y, "usr2"); err != nil {
		t.Fatalf("another address: %v", err)
	}
	// Invalid input is refused before it counts.
	for i := range 5 {
		_, err := b.client.CreateUser(withForwardedFor(testkit.Context(t), y),
			&userv1.CreateUserRequest{Email: fmt.Sprintf("bad%d", i), Username: "usr9", Password: pw})
		wantCode(t, err, codes.InvalidArgument)
	}
	if err := signUp(y, "usr3"); err != nil {
		t.Fatalf("after invalid attempts: %v", err)
	}
}
