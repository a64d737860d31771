package userclient_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/auth/keyfile"
	"github.com/todo-platform/todo/pkg/keyring/keyringtest"
	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/pkg/proc"
	"github.com/todo-platform/todo/pkg/proctest"
	"github.com/todo-platform/todo/pkg/testkit"
	"github.com/todo-platform/todo/services/task/internal/task"
	"github.com/todo-platform/todo/services/task/internal/userclient"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestAgainstTheUserServiceBinary runs the real user service and checks the
// task service's client of it over the real connection: the keys FetchKeys
// returns verify a token the user service issued at login, and the
// Directory tells an active user from an inactive and an unknown one.
func TestAgainstTheUserServiceBinary(t *testing.T) {
	db := pgtest.New(t)
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	if err := keyfile.WritePrivate(keyFile); err != nil {
		t.Fatal(err)
	}
	_, ringFile := keyringtest.New(t)
	p := proctest.Serve(t, proc.Spec{
		Name: "user-service", Path: proctest.Build(t, "github.com/todo-platform/todo/services/user"), Args: []string{"serve"},
		Env:     []string{"DATABASE_URL=" + db.UserAppURL, "TOKEN_PRIVATE_KEY_FILE=" + keyFile, "DATA_KEYRING_FILE=" + ringFile},
		AddrEnv: "GRPC_ADDR", AdminAddrEnv: "ADMIN_ADDR", Ready: proc.GRPCHealth(userv1.UserService_ServiceDesc.ServiceName),
	})
	conn, err := userclient.Dial(p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	users := userv1.NewUserServiceClient(conn)

	ctx := testkit.Context(t)
	const password = "a long enough password"
	created, err := users.CreateUser(ctx, &userv1.CreateUserRequest{Email: "ann@example.com", Username: "ann", Password: password})
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	login, err := users.Login(ctx, &userv1.LoginRequest{Login: "ann", Password: password})
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	token := login.GetTokens().GetAccessToken()

	t.Run("FetchKeysVerifiesALoginToken", func(t *testing.T) {
		key, err := keyfile.LoadPrivate(keyFile)
		if err != nil {
			t.Fatal(err)
		}
		wantKid := auth.NewSigner(key, auth.DefaultIssuer, auth.DefaultAudience, time.Minute).KeyID()
		keys, err := userclient.FetchKeys(users)(testkit.Context(t))
		if err != nil {
			t.Fatalf("FetchKeys: %v", err)
		}
		if len(keys) != 1 || keys[0].KeyID != wantKid || !keys[0].Key.Equal(key.Public()) {
			t.Errorf("FetchKeys = %v, want the one key of %s (kid %s)", keys, keyFile, wantKid)
		}

		remote := auth.NewRemoteKeys(userclient.FetchKeys(users), time.Minute)
		verifier := auth.NewVerifier(remote, auth.DefaultIssuer, auth.DefaultAudience)
		got, err := verifier.Verify(testkit.Context(t), token)
		if err != nil {
			t.Fatalf("Verify the login token with the fetched keys: %v", err)
		}
		if got.UserID != created.GetId() || got.Admin {
			t.Errorf("Verify = %+v, want user %d, not admin", got, created.GetId())
		}
		altered := []byte(token)
		i := strings.LastIndexByte(token, '.') + 5 // a character inside the signature
		altered[i] = map[bool]byte{true: 'A', false: 'B'}[altered[i] != 'A']
		if _, err := verifier.Verify(testkit.Context(t), string(altered)); err == nil {
			t.Error("Verify accepted a token with an altered signature")
		}
	})

	t.Run("DirectoryChecksAssignees", func(t *testing.T) {
		inactive := db.SeedUser(t, pgtest.User{Name: "gone", Active: false})
		// CheckAssignee forwards the bearer token of the call it serves.
		incoming := metadata.NewIncomingContext(testkit.Context(t), metadata.Pairs("authorization", "Bearer "+token))
		dir := userclient.NewDirectory(users)
		if err := dir.CheckAssignee(incoming, created.GetId()); err != nil {
			t.Errorf("CheckAssignee(active user) = %v, want nil", err)
		}
		for name, id := range map[string]int64{"inactive": inactive, "unknown": inactive + 1000} {
			if err := dir.CheckAssignee(incoming, id); !errors.Is(err, task.ErrInvalidAssignee) {
				t.Errorf("CheckAssignee(%s user %d) = %v, want task.ErrInvalidAssignee", name, id, err)
			}
		}
	})
}
