package userapi_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/testkit"
	"github.com/todo-platform/todo/services/user/internal/user"
)

func TestLogin_UnknownWrongAndInactiveAreIndistinguishable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const pw = "correct horse battery"
	b.signUp(t, "alice@example.com", "alice", pw)
	inactive := b.signUp(t, "ivan@example.com", "ivan", pw)
	if _, err := b.db.Owner.Exec(testkit.Context(t), `UPDATE "user" SET is_active = false WHERE id = $1`, inactive.GetId()); err != nil {
		t.Fatal(err)
	}

	var statuses []*status.Status
	for _, req := range []*userv1.LoginRequest{
		{Login: "nobody@example.com", Password: pw},      // unknown email
		{Login: "nobody", Password: pw},                  // unknown username
		{Login: "alice@example.com", Password: pw + "x"}, // wrong password
		{Login: "ivan@example.com", Password: pw},        // inactive, right password
	} {
		_, err := b.client.Login(testkit.Context(t), req)
		statuses = append(statuses, wantCode(t, err, codes.Unauthenticated))
	}
	for i, st := range statuses[1:] {
		if !proto.Equal(st.Proto(), statuses[0].Proto()) {
			t.Errorf("case %d: status %v differs from the unknown-account status %v", i+1, st.Proto(), statuses[0].Proto())
		}
	}
	if got, want := statuses[0].Message(), "invalid credentials"; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
}

// retryDelay returns the RetryInfo delay of a ResourceExhausted status.
func retryDelay(t *testing.T, err error) time.Duration {
	t.Helper()
	st := wantCode(t, err, codes.ResourceExhausted)
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration()
		}
	}
	t.Fatalf("ResourceExhausted without RetryInfo: %v", st.Proto())
	return 0
}

func TestLogin_101stFailureForOneAccountIsThrottledOthersAreNot(t *testing.T) {
	t.Parallel()
	// Default limits (100 per account per hour); cheap hashing keeps the 100
	// real failed sign-ins fast, and the limit counts attempts, not hashes.
	b := setup(t, cheapHashing)
	const pw = "correct horse battery"
	b.signUp(t, "alice@example.com", "alice", pw)
	b.signUp(t, "bob@example.com", "bob", pw)

	for i := 1; i <= b.cfg.MaxFailuresPerAccount; i++ {
		// Alternate email and username: both name the same account.
		login := "alice"
		if i%2 == 0 {
			login = "Alice@Example.com"
		}
		_, err := b.client.Login(testkit.Context(t), &userv1.LoginRequest{Login: login, Password: fmt.Sprintf("wrong password %d", i)})
		if status.Code(err) != codes.Unauthenticated {
			t.Fatalf("failure %d: %v, want Unauthenticated", i, err)
		}
	}
	// The 101st attempt is refused before the password is looked at: even the
	// right password does not get through.
	_, err := b.client.Login(testkit.Context(t), &userv1.LoginRequest{Login: "alice", Password: pw})
	if d := retryDelay(t, err); d <= 0 || d > time.Hour {
		t.Errorf("retry delay %v, want within (0, 1h]", d)
	}
	// Another account (from the same address) is not affected.
	b.login(t, "bob", pw)

	// Never permanent: once the window has passed, alice signs in again.
	if _, err := b.db.Owner.Exec(testkit.Context(t), `UPDATE login_throttle SET window_start = window_start - interval '61 minutes'`); err != nil {
		t.Fatal(err)
	}
	b.login(t, "alice", pw)
}

// TestLogin_FloodFromOneAddressCannotLockTheVictimOut: 150 wrong
// passwords for V from address X throttle X (with a retry delay), while V
// still signs in with the right password from address Y.
func TestLogin_FloodFromOneAddressCannotLockTheVictimOut(t *testing.T) {
	t.Parallel()
	b := setup(t, cheapHashing)
	const pw = "correct horse battery"
	b.signUp(t, "victim@example.com", "victim", pw)
	x, y := "203.0.113.7", "198.51.100.20"
	var refused int
	for i := range 150 {
		_, err := b.client.Login(withForwardedFor(testkit.Context(t), x), &userv1.LoginRequest{Login: "victim", Password: fmt.Sprintf("guess %d", i)})
		switch status.Code(err) {
		case codes.Unauthenticated:
			if refused > 0 {
				t.Fatalf("attempt %d: Unauthenticated after being throttled", i+1)
			}
		case codes.ResourceExhausted:
			if d := retryDelay(t, err); d <= 0 || d > time.Hour {
				t.Fatalf("attempt %d: retry delay %v", i+1, d)
			}
			refused++
		default:
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	if want := 150 - b.cfg.MaxFailuresPerAccount; refused != want {
		t.Errorf("%d of 150 attempts throttled, want %d (the limit is %d)", refused, want, b.cfg.MaxFailuresPerAccount)
	}
	// X is throttled for V even with the right password…
	_, err := b.client.Login(withForwardedFor(testkit.Context(t), x), &userv1.LoginRequest{Login: "victim", Password: pw})
	retryDelay(t, err)
	// …but V signs in from Y.
	if _, err := b.client.Login(withForwardedFor(testkit.Context(t), y), &userv1.LoginRequest{Login: "victim", Password: pw}); err != nil {
		t.Fatalf("the victim from another address: %v", err)
	}
}

func TestLogin_UnknownAccountsAreThrottledLikeKnownOnes(t *testing.T) {
	t.Parallel()
	b := setup(t, cheapHashing, func(o *options) { o.cfg.MaxFailuresPerAccount = 3 })
	for _, login := range []string{"ghost@example.com", "ghost"} {
		for i := 0; i < 3; i++ {
			_, err := b.client.Login(testkit.Context(t), &userv1.LoginRequest{Login: login, Password: "whatever it is"})
			wantCode(t, err, codes.Unauthenticated)
		}
		_, err := b.client.Login(testkit.Context(t), &userv1.LoginRequest{Login: login, Password: "whatever it is"})
		retryDelay(t, err)
	}
}

func withForwardedFor(ctx context.Context, addr string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "x-forwarded-for", addr)
}

func TestLogin_ThrottlesPerClientAddressFromTrustedProxy(t *testing.T) {
	t.Parallel()
	// The test client connects from 127.0.0.1, a trusted proxy here (as the
	// gateway is by default), so x-forwarded-for names the client.
	b := setup(t, cheapHashing, func(o *options) { o.cfg.MaxFailuresPerAddress = 4 })
	const pw = "correct horse battery"
	for _, name := range []string{"usr1", "usr2", "usr3", "usr4", "usr5"} {
		b.signUp(t, name+"@example.com", name, pw)
	}
	attacker := "203.0.113.7"
	for i, name := range []string{"usr1", "usr2", "usr3", "usr4"} {
		_, err := b.client.Login(withForwardedFor(testkit.Context(t), attacker), &userv1.LoginRequest{Login: name, Password: "not the password"})
		if status.Code(err) != codes.Unauthenticated {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	_, err := b.client.Login(withForwardedFor(testkit.Context(t), attacker), &userv1.LoginRequest{Login: "usr5", Password: pw})
	retryDelay(t, err)

	// Another client behind the same proxy is not affected, nor are the
	// accounts (each has one failure only).
	if _, err := b.client.Login(withForwardedFor(testkit.Context(t), "198.51.100.1"), &userv1.LoginRequest{Login: "usr1", Password: pw}); err != nil {
		t.Fatalf("other client: %v", err)
	}
	// A client-chosen x-forwarded-for before the proxy's own entry does not
	// help: the rightmost untrusted entry is the client.
	_, err = b.client.Login(withForwardedFor(testkit.Context(t), "198.51.100.99, "+attacker), &userv1.LoginRequest{Login: "usr5", Password: pw})
	retryDelay(t, err)
}

func TestLogin_ForwardedForFromAnUntrustedPeerIsIgnored(t *testing.T) {
	t.Parallel()
	b := setup(t, cheapHashing, func(o *options) {
		o.cfg.MaxFailuresPerAddress = 2
		o.proxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	const pw = "correct horse battery"
	b.signUp(t, "usr1@example.com", "usr1", pw)
	for i, fwd := range []string{"192.0.2.1", "192.0.2.2"} {
		_, err := b.client.Login(withForwardedFor(testkit.Context(t), fwd), &userv1.LoginRequest{Login: "usr1", Password: "not the password"})
		if status.Code(err) != codes.Unauthenticated {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	// Both failures counted against the real peer, 127.0.0.1.
	_, err := b.client.Login(withForwardedFor(testkit.Context(t), "192.0.2.3"), &userv1.LoginRequest{Login: "usr1", Password: pw})
	retryDelay(t, err)
}

func TestLogin_UpgradesWeakerAndLegacyHashes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	weak, err := user.NewHasher(user.Params{Memory: 8192, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 1).Hash(testkit.Context(t), "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := bcrypt.GenerateFromPassword([]byte("correct horse battery"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ username, hash string }{{"weak", weak}, {"legacy", string(legacy)}} {
		var id int64
		err := b.db.Owner.QueryRow(testkit.Context(t), `INSERT INTO "user" (email, username, password_hash) VALUES ($1, $2, $3) RETURNING id`,
			tc.username+"@example.com", tc.username, tc.hash).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		b.login(t, tc.username, "correct horse battery")
		var stored string
		if err := b.db.Owner.QueryRow(testkit.Context(t), `SELECT password_hash FROM "user" WHERE id = $1`, id).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		p, _, _, err := user.DecodePHC(stored)
		if err != nil || p.Memory < user.OWASPMemoryKiB || p.Time < user.OWASPTime {
			t.Errorf("%s: hash after login = %q (%v), want upgraded to m>=19456 t>=2", tc.username, stored, err)
		}
		// And the upgraded hash still verifies.
		b.login(t, tc.username, "correct horse battery")
	}
	if strings.Contains(weak, "m=19456") {
		t.Fatal("test setup: the weak hash is not weak")
	}
}
