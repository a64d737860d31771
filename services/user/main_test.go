package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/stats"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/auth/grpcauth"
	"github.com/todo-platform/todo/pkg/auth/keyfile"
	"github.com/todo-platform/todo/pkg/keyring/keyringtest"
	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/pkg/proc"
	"github.com/todo-platform/todo/pkg/proctest"
	"github.com/todo-platform/todo/pkg/schema"
	"github.com/todo-platform/todo/pkg/testkit"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestBinary builds user-service once and runs it as a process, the way
// operators and the other services' tests do.
func TestBinary(t *testing.T) {
	bin := proctest.Build(t, "github.com/todo-platform/todo/services/user")
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	oldKeyFile := filepath.Join(t.TempDir(), "old-key.pem")
	for _, f := range []string{keyFile, oldKeyFile} {
		if err := keyfile.WritePrivate(f); err != nil {
			t.Fatal(err)
		}
	}
	_, ringFile := keyringtest.New(t)

	t.Run("SuperuserIsRefused", func(t *testing.T) {
		db := pgtest.New(t)
		cmd := proctest.Command(t, bin, []string{"DATABASE_URL=" + db.OwnerURL, "GRPC_ADDR=127.0.0.1:0", "TOKEN_PRIVATE_KEY_FILE=" + keyFile, "DATA_KEYRING_FILE=" + ringFile}, "serve")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() == 0 {
			t.Fatalf("serve as superuser: err = %v, want a non-zero exit\n%s", err, stderr.String())
		}
		if !strings.Contains(stderr.String(), "superuser") {
			t.Errorf("stderr does not say why (superuser):\n%s", stderr.String())
		}
	})

	t.Run("InsecureRemoteDatabaseIsRefused", func(t *testing.T) {
		// A host that is not on this machine with sslmode=disable: refused
		// before any connection, naming the host, the problem and the fix.
		const dsn = "DATABASE_URL=postgres://app:pw@db.example.invalid:5432/todo?sslmode=disable&connect_timeout=2"
		for _, allow := range []bool{false, true} {
			env := []string{dsn, "GRPC_ADDR=127.0.0.1:0", "TOKEN_PRIVATE_KEY_FILE=" + keyFile, "DATA_KEYRING_FILE=" + ringFile, "ADMIN_ADDR="}
			if allow {
				env = append(env, "DATABASE_ALLOW_INSECURE=true")
			}
			cmd := proctest.Command(t, bin, env, "serve")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() == 0 {
				t.Fatalf("serve with an unreachable insecure DSN (allow %v): err = %v, want a non-zero exit\n%s", allow, err, stderr.String())
			}
			refused := strings.Contains(stderr.String(), "db.example.invalid is not on this machine") &&
				strings.Contains(stderr.String(), "sslmode=verify-full") && strings.Contains(stderr.String(), "DATABASE_ALLOW_INSECURE")
			if refused == allow {
				t.Errorf("DATABASE_ALLOW_INSECURE=%v: refused for want of TLS = %v, want %v:\n%s", allow, refused, !allow, stderr.String())
			}
		}
	})

	t.Run("KeysRotateReencryptPrune", func(t *testing.T) {
		db := pgtest.New(t)
		// A name stored in clear text, as before encryption existed.
		id := db.SeedUser(t, pgtest.User{Name: "olga", Active: true})
		if _, err := db.Owner.Exec(testkit.Context(t), `UPDATE "user" SET full_name = 'Olga Old' WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		ring := filepath.Join(t.TempDir(), "keyring.json")
		env := []string{"DATABASE_URL=" + db.UserAppURL, "DATA_KEYRING_FILE=" + ring, "KEYS_BATCH_SIZE=1"}
		for _, step := range []struct{ action, want string }{
			{"rotate", "created keyring"},
			{"reencrypt", "re-encrypted 1 names; 0 left"},
			{"rotate", "new primary key"},
			{"prune", "names are not under the primary key yet"},
			{"reencrypt", "re-encrypted 1 names; 0 left"},
			{"prune", "removed 1 old keys"},
			{"decrypt", "decrypted 1 names"},
		} {
			out, err := proctest.Command(t, bin, env, "keys", step.action).CombinedOutput()
			if !strings.Contains(string(out), step.want) {
				t.Fatalf("keys %s: %v, output does not contain %q:\n%s", step.action, err, step.want, out)
			}
		}
		var name string
		if err := db.Owner.QueryRow(testkit.Context(t), `SELECT full_name FROM "user" WHERE id = $1 AND full_name_ct IS NULL`, id).Scan(&name); err != nil || name != "Olga Old" {
			t.Errorf("after keys decrypt: %q, %v; want Olga Old in clear text", name, err)
		}
		// Down over those after 00005 (the service role, …), then over 00005.
		for range migrationsAfter(t, 5) + 1 {
			if out, err := proctest.Command(t, bin, []string{"DATABASE_URL=" + db.OwnerURL}, "migrate", "down").CombinedOutput(); err != nil {
				t.Errorf("migrate down after keys decrypt: %v\n%s", err, out)
			}
		}
	})

	t.Run("MigrateDownRefusesWhileNamesAreEncrypted", func(t *testing.T) {
		db := pgtest.New(t)
		id := db.SeedUser(t, pgtest.User{Name: "ann", Active: true})
		if _, err := db.Owner.Exec(testkit.Context(t), `UPDATE "user" SET full_name_ct = '\x01'::bytea WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		// Down over those after 00005 (the service role, …) goes; 00005 refuses.
		for range migrationsAfter(t, 5) {
			if out, err := proctest.Command(t, bin, []string{"DATABASE_URL=" + db.OwnerURL}, "migrate", "down").CombinedOutput(); err != nil {
				t.Fatalf("migrate down to 00005: %v\n%s", err, out)
			}
		}
		out, err := proctest.Command(t, bin, []string{"DATABASE_URL=" + db.OwnerURL}, "migrate", "down").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "keys decrypt") {
			t.Errorf("migrate down with encrypted names: %v, want a refusal naming keys decrypt:\n%s", err, out)
		}
	})

	t.Run("MigrateDownUpStatus", func(t *testing.T) {
		db := pgtest.New(t)
		env := []string{"DATABASE_URL=" + db.OwnerURL}
		for _, args := range [][]string{{"migrate", "down"}, {"migrate", "up"}} {
			if out, err := proctest.Command(t, bin, env, args...).CombinedOutput(); err != nil {
				t.Fatalf("%v: %v\n%s", args, err, out)
			}
		}
		out, err := proctest.Command(t, bin, env, "migrate", "status").Output()
		if err != nil {
			t.Fatalf("migrate status: %v", err)
		}
		for _, want := range []string{"00001_user.sql", "00002_sessions_and_login_throttle.sql"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("migrate status does not list %s:\n%s", want, out)
			}
		}
		if strings.Contains(string(out), "pending") {
			t.Errorf("migrate status shows a pending migration after up:\n%s", out)
		}
	})

	t.Run("AdminCreateIsIdempotentAndServeStopsGracefully", func(t *testing.T) {
		db := pgtest.New(t)
		adminEnv := []string{
			"DATABASE_URL=" + db.UserAppURL,
			"DATA_KEYRING_FILE=" + ringFile,
			"ADMIN_EMAIL=Root@Example.com",
			"ADMIN_USERNAME=root",
			"ADMIN_PASSWORD=a long admin password",
		}
		for i := range 2 {
			if out, err := proctest.Command(t, bin, adminEnv, "admin", "create").CombinedOutput(); err != nil {
				t.Fatalf("admin create #%d: %v\n%s", i+1, err, out)
			}
		}
		var (
			n             int
			id            int64
			admin, active bool
			email         string
		)
		err := db.Owner.QueryRow(testkit.Context(t), `SELECT count(*) OVER (), id, is_admin, is_active, email FROM "user"`).Scan(&n, &id, &admin, &active, &email)
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 || !admin || !active || email != "root@example.com" {
			t.Fatalf("after admin create twice: %d users, admin=%t active=%t email=%q; want 1 active admin root@example.com", n, admin, active, email)
		}

		p := proctest.Serve(t, proc.Spec{
			Name: "user-service", Path: bin, Args: []string{"serve"},
			Env: []string{
				"DATABASE_URL=" + db.UserAppURL,
				"TOKEN_PRIVATE_KEY_FILE=" + keyFile,
				"TOKEN_PUBLIC_KEY_FILES=" + oldKeyFile,
				"DATA_KEYRING_FILE=" + ringFile,
			},
			AddrEnv: "GRPC_ADDR", AdminAddrEnv: "ADMIN_ADDR", Ready: proc.GRPCHealth(userv1.UserService_ServiceDesc.ServiceName),
		})

		sent := make(chan struct{})
		conn, err := grpc.NewClient(p.Addr(),
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithStatsHandler(&onRequestSent{method: userv1.UserService_Login_FullMethodName, sent: sent}))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		client := userv1.NewUserServiceClient(conn)
		keys, err := client.GetPublicKeys(testkit.Context(t), &userv1.GetPublicKeysRequest{})
		if err != nil {
			t.Fatalf("GetPublicKeys: %v", err)
		}
		oldKey, err := keyfile.LoadPrivate(oldKeyFile)
		if err != nil {
			t.Fatal(err)
		}
		oldSigner := auth.NewSigner(oldKey, auth.DefaultIssuer, auth.DefaultAudience, time.Minute)
		kids := map[string]bool{}
		for _, k := range keys.GetKeys() {
			kids[k.GetKid()] = true
		}
		if len(kids) != 2 || !kids[oldSigner.KeyID()] {
			t.Errorf("GetPublicKeys kids %v, want the signing key and the old key %s", kids, oldSigner.KeyID())
		}
		// A token signed by the old key is still accepted during rotation.
		oldToken, _, err := oldSigner.Sign(auth.Principal{UserID: id, Admin: true}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.GetCurrentUser(grpcauth.WithBearer(testkit.Context(t), oldToken), &userv1.GetCurrentUserRequest{}); err != nil {
			t.Errorf("token signed by the old key: %v", err)
		}

		// Login spends tens of milliseconds in argon2id; SIGTERM arrives once
		// the request is on the wire, so the server has it in flight.
		type result struct {
			resp *userv1.LoginResponse
			err  error
		}
		res := make(chan result, 1)
		go func() {
			resp, err := client.Login(testkit.Context(t), &userv1.LoginRequest{Login: "root", Password: "a long admin password"})
			res <- result{resp, err}
		}()
		<-sent
		if err := p.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		r := <-res
		if r.err != nil {
			t.Fatalf("Login in flight during SIGTERM: %v", r.err)
		}
		if !r.resp.GetUser().GetIsAdmin() || r.resp.GetTokens().GetAccessToken() == "" {
			t.Errorf("Login as the created admin: %v", r.resp)
		}
		if err := p.Wait(); err != nil {
			t.Fatalf("serve after SIGTERM: %v, want exit 0", err)
		}
	})
}

// onRequestSent is a client stats handler that closes sent once the request
// message of method has been written to the connection.
type onRequestSent struct {
	method string
	sent   chan struct{}
	once   sync.Once
}

type methodKey struct{}

func (h *onRequestSent) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, methodKey{}, info.FullMethodName)
}

func (h *onRequestSent) HandleRPC(ctx context.Context, s stats.RPCStats) {
	if _, ok := s.(*stats.OutPayload); ok && ctx.Value(methodKey{}) == h.method {
		h.once.Do(func() { close(h.sent) })
	}
}

func (h *onRequestSent) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}

func (h *onRequestSent) HandleConn(context.Context, stats.ConnStats) {}

// migrationsAfter returns how many migrations of the user set come after
// version v.
func migrationsAfter(t *testing.T, v int) int {
	t.Helper()
	entries, err := fs.ReadDir(schema.User().FS(), ".")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		var version int
		if _, err := fmt.Sscanf(e.Name(), "%05d_", &version); err == nil && version > v {
			n++
		}
	}
	return n
}
