package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/auth/grpcauth"
	"github.com/todo-platform/todo/pkg/auth/keyfile"
	"github.com/todo-platform/todo/pkg/keyring/keyringtest"
	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/pkg/proc"
	"github.com/todo-platform/todo/pkg/proctest"
	"github.com/todo-platform/todo/pkg/testkit"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestBinary builds task-service (and user-service) and runs them as
// processes, the way operators do.
func TestBinary(t *testing.T) {
	bin := proctest.Build(t, "github.com/todo-platform/todo/services/task")
	userBin := proctest.Build(t, "github.com/todo-platform/todo/services/user")
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	if err := keyfile.WritePrivate(keyFile); err != nil {
		t.Fatal(err)
	}

	t.Run("SuperuserIsRefused", func(t *testing.T) {
		db := pgtest.New(t)
		cmd := proctest.Command(t, bin, []string{"DATABASE_URL=" + db.OwnerURL, "GRPC_ADDR=127.0.0.1:0"}, "serve")
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
			env := []string{dsn, "GRPC_ADDR=127.0.0.1:0", "ADMIN_ADDR="}
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

	t.Run("MigrateDownUpStatus", func(t *testing.T) {
		db := pgtest.New(t)
		env := []string{"DATABASE_URL=" + db.OwnerURL}
		for _, args := range [][]string{{"migrate", "down"}, {"migrate", "down"}, {"migrate", "up"}} {
			if out, err := proctest.Command(t, bin, env, args...).CombinedOutput(); err != nil {
				t.Fatalf("%v: %v\n%s", args, err, out)
			}
		}
		out, err := proctest.Command(t, bin, env, "migrate", "status").Output()
		if err != nil {
			t.Fatalf("migrate status: %v", err)
		}
		for _, want := range []string{"00001_task.sql", "00002_task_version_requests_list_indexes.sql", "00003_task_open_created_by_due.sql"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("migrate status does not list %s:\n%s", want, out)
			}
		}
		if strings.Contains(string(out), "pending") {
			t.Errorf("migrate status shows a pending migration after up:\n%s", out)
		}
		if out, err := proctest.Command(t, bin, env, "migrate", "sideways").CombinedOutput(); err == nil {
			t.Errorf("migrate sideways succeeded:\n%s", out)
		}
	})

	t.Run("ServesWhateverTheStartOrderAndStopsOnSIGTERM", func(t *testing.T) {
		db := pgtest.New(t)
		// The user service is not there yet when the task service starts:
		// its address is bound, and nothing accepts there.
		user := userServer(t, userBin, db, keyFile)
		taskProc := proctest.Serve(t, taskSpec(bin, db, user.Addr()))
		if logs := taskProc.Logs(); !strings.Contains(logs, "keys not fetched at start") {
			t.Errorf("no warning about the missing keys:\n%s", logs)
		}
		users := userv1.NewUserServiceClient(proctest.Dial(t, user.Addr()))
		tasks := taskv1.NewTaskServiceClient(proctest.Dial(t, taskProc.Addr()))

		// Tokens cannot be checked yet: Unavailable, not Unauthenticated.
		signer := auth.NewSigner(mustKey(t, keyFile), auth.DefaultIssuer, auth.DefaultAudience, time.Minute)
		early, _, err := signer.Sign(auth.Principal{UserID: 1}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		_, err = tasks.ListTasks(grpcauth.WithBearer(testkit.Context(t), early), &taskv1.ListTasksRequest{})
		if status.Code(err) != codes.Unavailable {
			t.Errorf("call while the user service is down: %v, want Unavailable", err)
		}

		user.Start(t)
		if _, err := users.CreateUser(testkit.Context(t), &userv1.CreateUserRequest{Email: "ann@example.com", Username: "ann", Password: "a long enough password"}); err != nil {
			t.Fatal(err)
		}
		login, err := users.Login(testkit.Context(t), &userv1.LoginRequest{Login: "ann", Password: "a long enough password"})
		if err != nil {
			t.Fatal(err)
		}
		ctx := grpcauth.WithBearer(testkit.Context(t), login.GetTokens().GetAccessToken())

		// The task service fetches the keys on a later request (after a
		// failed fetch it waits at most a second before trying again).
		var created *taskv1.Task
		for deadline := time.Now().Add(20 * time.Second); ; {
			resp, err := tasks.CreateTask(ctx, &taskv1.CreateTaskRequest{Task: &taskv1.Task{Title: "first"}})
			if err == nil {
				created = resp
				break
			}
			if status.Code(err) != codes.Unavailable || time.Now().After(deadline) {
				t.Fatalf("CreateTask once the user service is up: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if created.GetCreatedBy() != login.GetUser().GetId() {
			t.Errorf("created_by %d, want the signed-in user %d", created.GetCreatedBy(), login.GetUser().GetId())
		}
		assigned, err := tasks.AssignTask(ctx, &taskv1.AssignTaskRequest{Id: created.GetId(), AssigneeId: login.GetUser().GetId()})
		if err != nil || assigned.GetAssignedTo() != login.GetUser().GetId() {
			t.Errorf("AssignTask to oneself: %v, %v", assigned, err)
		}

		if err := taskProc.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := taskProc.Wait(); err != nil {
			t.Fatalf("serve after SIGTERM: %v, want exit 0\n%s", err, taskProc.Logs())
		}
	})

	t.Run("ReachesALateUserService", func(t *testing.T) {
		// The task service starts first; its first connection attempt to
		// the user service reaches a listener that accepts and never
		// answers (a user service that is starting, or a host that drops
		// packets). Then the real user service comes up on that address,
		// and a call with a valid token must then succeed: the task
		// service recovers without a restart. How fast it recovers (the
		// connect parameters of userclient.Dial) is not asserted
		// here: that would be a timing assertion. The overall bound is only
		// a guard against a hang.
		db := pgtest.New(t)
		// This test accepts on the user service's listener itself until the
		// user service starts on it.
		user := userServer(t, userBin, db, keyFile)
		silent := user.Listener().(*net.TCPListener)
		accepted := make(chan net.Conn, 16)
		acceptorDone := make(chan struct{})
		go func() {
			defer close(acceptorDone)
			for {
				c, err := silent.Accept()
				if err != nil {
					return
				}
				accepted <- c // held open, never answered, closed at the end
			}
		}()
		t.Cleanup(func() {
			for {
				select {
				case c := <-accepted:
					c.Close()
				default:
					return
				}
			}
		})

		taskProc := proctest.Serve(t, taskSpec(bin, db, user.Addr()))
		var first net.Conn
		select {
		case first = <-accepted:
		case <-testkit.Context(t).Done():
			t.Fatal("the task service never tried to reach the user service")
		}
		guard := testkit.Context(t)
		// Stop accepting here (the listener stays open for the user
		// service); connections made from now on wait for it.
		if err := silent.SetDeadline(time.Now()); err != nil {
			t.Fatal(err)
		}
		<-acceptorDone
		if err := silent.SetDeadline(time.Time{}); err != nil {
			t.Fatal(err)
		}
		accepted <- first

		user.Start(t)
		// Tokens signed with the user service's key, without asking it.
		signer := auth.NewSigner(mustKey(t, keyFile), auth.DefaultIssuer, auth.DefaultAudience, time.Minute)
		token, _, err := signer.Sign(auth.Principal{UserID: 1}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		tasks := taskv1.NewTaskServiceClient(proctest.Dial(t, taskProc.Addr()))
		for {
			ctx, cancel := context.WithTimeout(grpcauth.WithBearer(t.Context(), token), 2*time.Second)
			_, err := tasks.ListTasks(ctx, &taskv1.ListTasksRequest{})
			cancel()
			if err == nil {
				break
			}
			if c := status.Code(err); c != codes.Unavailable && c != codes.DeadlineExceeded {
				t.Fatalf("ListTasks: %v, want success, or Unavailable/DeadlineExceeded while connecting", err)
			}
			if guard.Err() != nil {
				t.Fatalf("ListTasks never succeeded after the user service came up: %v", err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
}

// userServer returns the user service on a listener of its own, not yet
// started, signing with keyFile.
func userServer(t *testing.T, bin string, db *pgtest.DB, keyFile string) *proctest.Server {
	_, ringFile := keyringtest.New(t)
	return proctest.NewServer(t, proc.Spec{
		Name: "user-service", Path: bin, Args: []string{"serve"},
		Env:     []string{"DATABASE_URL=" + db.UserAppURL, "TOKEN_PRIVATE_KEY_FILE=" + keyFile, "DATA_KEYRING_FILE=" + ringFile},
		AddrEnv: "GRPC_ADDR", AdminAddrEnv: "ADMIN_ADDR", Ready: proc.GRPCHealth(userv1.UserService_ServiceDesc.ServiceName),
	})
}

// taskSpec is the task service on db, asking the user service at userAddr.
func taskSpec(bin string, db *pgtest.DB, userAddr string) proc.Spec {
	return proc.Spec{
		Name: "task-service", Path: bin, Args: []string{"serve"},
		Env:     []string{"DATABASE_URL=" + db.TaskAppURL, "USER_SERVICE_ADDR=" + userAddr},
		AddrEnv: "GRPC_ADDR", AdminAddrEnv: "ADMIN_ADDR", Ready: proc.GRPCHealth(taskv1.TaskService_ServiceDesc.ServiceName),
	}
}

func mustKey(t *testing.T, path string) ed25519.PrivateKey {
	t.Helper()
	k, err := keyfile.LoadPrivate(path)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
