package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/auth/grpcauth"
	"github.com/todo-platform/todo/pkg/auth/keyfile"
	"github.com/todo-platform/todo/pkg/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestBinary builds task-service (and user-service) and runs them as
// processes, the way operators do.
func TestBinary(t *testing.T) {
	dir := t.TempDir()
	bin, userBin := filepath.Join(dir, "task-service"), filepath.Join(dir, "user-service")
	for _, b := range []struct{ out, pkg string }{{bin, "."}, {userBin, "github.com/todo-platform/todo/services/user"}} {
		if out, err := exec.Command("go", "build", "-o", b.out, b.pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	keyFile := filepath.Join(dir, "key.pem")
	if err := keyfile.WritePrivate(keyFile); err != nil {
		t.Fatal(err)
	}

	t.Run("SuperuserIsRefused", func(t *testing.T) {
		db := pgtest.New(t)
		cmd := command(t, bin, []string{"DATABASE_URL=" + db.OwnerURL, "GRPC_ADDR=127.0.0.1:0"}, "serve")
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

	t.Run("MigrateDownUpStatus", func(t *testing.T) {
		db := pgtest.New(t)
		env := []string{"DATABASE_URL=" + db.OwnerURL}
		for _, args := range [][]string{{"migrate", "down"}, {"migrate", "down"}, {"migrate", "up"}} {
			if out, err := command(t, bin, env, args...).CombinedOutput(); err != nil {
				t.Fatalf("%v: %v\n%s", args, err, out)
			}
		}
		out, err := command(t, bin, env, "migrate", "status").Output()
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
		if out, err := command(t, bin, env, "migrate", "sideways").CombinedOutput(); err == nil {
			t.Errorf("migrate sideways succeeded:\n%s", out)
		}
	})

	t.Run("ServesWhateverTheStartOrderAndStopsOnSIGTERM", func(t *testing.T) {
		db := pgtest.New(t)
		// The user service is not there yet when the task service starts.
		userAddr := freeAddr(t)
		taskCmd := command(t, bin, []string{
			"DATABASE_URL=" + db.AppURL,
			"GRPC_ADDR=127.0.0.1:0",
			"USER_SERVICE_ADDR=" + userAddr,
		}, "serve")
		taskAddr, logs, waitTask := start(t, taskCmd, "task-service")
		if !strings.Contains(logs(), "keys not fetched at start") {
			t.Errorf("no warning about the missing keys:\n%s", logs())
		}
		userConn, tasks := dial(t, userAddr), taskv1.NewTaskServiceClient(dial(t, taskAddr))
		users := userv1.NewUserServiceClient(userConn)

		// Tokens cannot be checked yet: Unavailable, not Unauthenticated.
		signer := auth.NewSigner(mustKey(t, keyFile), auth.DefaultIssuer, auth.DefaultAudience, time.Minute)
		early, _, err := signer.Sign(auth.Principal{UserID: 1}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		_, err = tasks.ListTasks(grpcauth.WithBearer(ctxT(t), early), &taskv1.ListTasksRequest{})
		if status.Code(err) != codes.Unavailable {
			t.Errorf("call while the user service is down: %v, want Unavailable", err)
		}

		start(t, command(t, userBin, []string{
			"DATABASE_URL=" + db.AppURL,
			"GRPC_ADDR=" + userAddr,
			"TOKEN_PRIVATE_KEY_FILE=" + keyFile,
		}, "serve"), "user-service")
		if _, err := users.CreateUser(ctxT(t), &userv1.CreateUserRequest{Email: "ann@example.com", Username: "ann", Password: "a long enough password"}); err != nil {
			t.Fatal(err)
		}
		login, err := users.Login(ctxT(t), &userv1.LoginRequest{Login: "ann", Password: "a long enough password"})
		if err != nil {
			t.Fatal(err)
		}
		ctx := grpcauth.WithBearer(ctxT(t), login.GetTokens().GetAccessToken())

		// The task service fetches the keys on a later request (after a
		// failed fetch it waits at most a second before trying again).
		var created *taskv1.Task
		for deadline := time.Now().Add(20 * time.Second); ; {
			resp, err := tasks.CreateTask(ctx, &taskv1.CreateTaskRequest{Task: &taskv1.Task{Title: "first"}})
			if err == nil {
				created = resp.GetTask()
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
		if err != nil || assigned.GetTask().GetAssignedTo() != login.GetUser().GetId() {
			t.Errorf("AssignTask to oneself: %v, %v", assigned, err)
		}

		if err := taskCmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := waitTask(); err != nil {
			t.Fatalf("serve after SIGTERM: %v, want exit 0\n%s", err, logs())
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
		silent, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		userAddr := silent.Addr().String()
		accepted := make(chan net.Conn, 16)
		go func() {
			for {
				c, err := silent.Accept()
				if err != nil {
					return
				}
				accepted <- c // held open, never answered, closed at the end
			}
		}()
		t.Cleanup(func() {
			silent.Close()
			for {
				select {
				case c := <-accepted:
					c.Close()
				default:
					return
				}
			}
		})

		taskAddr, _, _ := start(t, command(t, bin, []string{
			"DATABASE_URL=" + db.AppURL,
			"GRPC_ADDR=127.0.0.1:0",
			"USER_SERVICE_ADDR=" + userAddr,
		}, "serve"), "task-service")
		var first net.Conn
		select {
		case first = <-accepted:
		case <-ctxT(t).Done():
			t.Fatal("the task service never tried to reach the user service")
		}
		guard := ctxT(t)
		silent.Close()
		accepted <- first

		start(t, command(t, userBin, []string{
			"DATABASE_URL=" + db.AppURL,
			"GRPC_ADDR=" + userAddr,
			"TOKEN_PRIVATE_KEY_FILE=" + keyFile,
		}, "serve"), "user-service")
		// Tokens signed with the user service's key, without asking it.
		signer := auth.NewSigner(mustKey(t, keyFile), auth.DefaultIssuer, auth.DefaultAudience, time.Minute)
		token, _, err := signer.Sign(auth.Principal{UserID: 1}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		tasks := taskv1.NewTaskServiceClient(dial(t, taskAddr))
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

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// command runs the binary with exactly env (plus PATH and HOME).
func command(t *testing.T, bin string, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctxT(t), bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	return cmd
}

// start starts cmd and returns the address from its "gRPC server listening"
// log line, a function returning its log so far, and one that waits for it
// to exit. The process is killed when the test ends.
func start(t *testing.T, cmd *exec.Cmd, name string) (string, func() string, func() error) {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		logMu sync.Mutex
		logs  strings.Builder
	)
	readLogs := func() string {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.String()
	}
	addrc := make(chan string, 1)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			logMu.Lock()
			logs.WriteString(line + "\n")
			logMu.Unlock()
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "gRPC server listening" {
				addrc <- rec.Addr
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	var once sync.Once
	var waitErr error
	wait := func() error {
		once.Do(func() { <-copied; waitErr = cmd.Wait() })
		return waitErr
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = wait()
		if t.Failed() {
			t.Logf("%s log:\n%s", name, readLogs())
		}
	})
	select {
	case addr := <-addrc:
		return addr, readLogs, wait
	case <-copied:
		_ = wait()
		t.Fatalf("%s exited before listening:\n%s", name, readLogs())
	case <-ctxT(t).Done():
		t.Fatalf("%s did not start listening", name)
	}
	return "", nil, nil
}

// freeAddr returns a loopback address nothing listens on (just now).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func mustKey(t *testing.T, path string) ed25519.PrivateKey {
	t.Helper()
	k, err := keyfile.LoadPrivate(path)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
