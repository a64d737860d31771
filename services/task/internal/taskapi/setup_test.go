package taskapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
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
	"github.com/todo-platform/todo/pkg/grpcerr"
	"github.com/todo-platform/todo/pkg/grpcserver"
	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/services/task/internal/task"
	"github.com/todo-platform/todo/services/task/internal/taskapi"
	"github.com/todo-platform/todo/services/task/internal/taskstore"
	"github.com/todo-platform/todo/services/task/internal/userclient"
)

// userServiceBinary is where the real user service is built, once per test
// binary, by buildUserService.
var userServiceBinary struct {
	dir  string
	once sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "taskapi-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	userServiceBinary.dir = dir
	code := pgtest.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildUserService builds the user service from the workspace.
func buildUserService(t *testing.T) string {
	t.Helper()
	b := &userServiceBinary
	b.once.Do(func() {
		b.path = filepath.Join(b.dir, "user-service")
		out, err := exec.Command("go", "build", "-o", b.path, "github.com/todo-platform/todo/services/user").CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build user-service: %v\n%s", err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// userService is a running user-service process.
type userService struct {
	addr string
	cmd  *exec.Cmd
	wait func() error
}

// startUserService runs the real user service on db (as the app role) with
// the signing key in keyFile, on a free loopback port, and stops it when the
// test ends.
func startUserService(t *testing.T, db *pgtest.DB, keyFile string) *userService {
	t.Helper()
	cmd := exec.Command(buildUserService(t))
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"DATABASE_URL=" + db.AppURL,
		"GRPC_ADDR=127.0.0.1:0",
		"TOKEN_PRIVATE_KEY_FILE=" + keyFile,
		"SHUTDOWN_TIMEOUT=2s",
	}
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
	u := &userService{cmd: cmd, wait: func() error {
		once.Do(func() { <-copied; waitErr = cmd.Wait() })
		return waitErr
	}}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = u.wait()
		if t.Failed() {
			logMu.Lock()
			t.Logf("user-service log:\n%s", logs.String())
			logMu.Unlock()
		}
	})
	select {
	case u.addr = <-addrc:
		return u
	case <-copied:
		_ = u.wait()
		t.Fatalf("user-service exited before listening")
	case <-time.After(time.Minute):
		t.Fatalf("user-service did not start listening")
	}
	return nil
}

// stop stops the process (SIGTERM) and waits for it to exit.
func (u *userService) stop(t *testing.T) {
	t.Helper()
	if err := u.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := u.wait(); err != nil {
		t.Fatalf("user-service exit: %v", err)
	}
}

// bundle is one test's world: a database with users A (creator), B
// (assignee), C (stranger), an admin and an inactive user; the real user
// service; and the task service on a loopback listener with a client.
type bundle struct {
	db                               *pgtest.DB
	users                            *userService
	client                           taskv1.TaskServiceClient
	conn                             *grpc.ClientConn
	signer                           *auth.Signer
	a, b, c, admin, inactive         int64
	asA, asB, asC, asAdmin, asNobody func(t *testing.T) context.Context
}

type options struct {
	// userInterceptor, when set, sees every call the task service makes to
	// the user service.
	userInterceptor grpc.UnaryClientInterceptor
	// statementTimeout, when set, replaces the runtime pool's
	// statement_timeout (given in the DSN, as operators do).
	statementTimeout time.Duration
}

func setup(t *testing.T, opts ...func(*options)) *bundle {
	t.Helper()
	var o options
	for _, f := range opts {
		f(&o)
	}
	db := pgtest.New(t)
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	if err := keyfile.WritePrivate(keyFile); err != nil {
		t.Fatal(err)
	}
	key, err := keyfile.LoadPrivate(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	bn := &bundle{db: db, signer: auth.NewSigner(key, auth.DefaultIssuer, auth.DefaultAudience, 15*time.Minute)}
	bn.a = seedUser(t, db, "a", true, false)
	bn.b = seedUser(t, db, "b", true, false)
	bn.c = seedUser(t, db, "c", true, false)
	bn.admin = seedUser(t, db, "admin", true, true)
	bn.inactive = seedUser(t, db, "inactive", false, false)
	bn.asA = bn.as(auth.Principal{UserID: bn.a})
	bn.asB = bn.as(auth.Principal{UserID: bn.b})
	bn.asC = bn.as(auth.Principal{UserID: bn.c})
	bn.asAdmin = bn.as(auth.Principal{UserID: bn.admin, Admin: true})
	bn.asNobody = func(t *testing.T) context.Context { return ctxT(t) }

	bn.users = startUserService(t, db, keyFile)

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	var dialOpts []grpc.DialOption
	if o.userInterceptor != nil {
		dialOpts = append(dialOpts, grpc.WithUnaryInterceptor(o.userInterceptor))
	}
	userConn, err := userclient.Dial(bn.users.addr, dialOpts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { userConn.Close() })
	userClient := userv1.NewUserServiceClient(userConn)
	keys := auth.NewRemoteKeys(userclient.FetchKeys(userClient), time.Second)
	appDB := db.App
	if o.statementTimeout > 0 {
		cfg, err := pgdb.ParseConfig(db.AppURL + dsnSep(db.AppURL) + "statement_timeout=" + o.statementTimeout.String())
		if err != nil {
			t.Fatal(err)
		}
		if cfg.StatementTimeout != o.statementTimeout {
			t.Fatalf("statement_timeout from the DSN: %v, want %v", cfg.StatementTimeout, o.statementTimeout)
		}
		if appDB, err = pgdb.Open(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(appDB.Close)
	}
	svc := task.NewService(taskstore.New(appDB), userclient.NewDirectory(userClient))
	srv := grpcserver.New(log, grpcserver.Config{}, grpcauth.UnaryServerInterceptor(auth.NewVerifier(keys, auth.DefaultIssuer, auth.DefaultAudience)))
	taskapi.New(log, svc).Register(srv.GRPC())

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	bn.conn, err = grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bn.conn.Close() })
	bn.client = taskv1.NewTaskServiceClient(bn.conn)
	return bn
}

// dsnSep is what joins one more parameter to dsn: "&" or "?" for a URL, a
// space for a keyword/value DSN.
func dsnSep(dsn string) string {
	switch {
	case !strings.Contains(dsn, "://"):
		return " "
	case strings.Contains(dsn, "?"):
		return "&"
	}
	return "?"
}

// seedUser inserts a user through the owner pool and returns its id.
func seedUser(t *testing.T, db *pgtest.DB, name string, active, admin bool) int64 {
	t.Helper()
	var id int64
	err := db.Owner.QueryRow(context.Background(),
		`INSERT INTO "user" (email, username, password_hash, is_active, is_admin)
		 VALUES ($1 || '@example.com', $1, 'x', $2, $3) RETURNING id`, name, active, admin).Scan(&id)
	if err != nil {
		t.Fatalf("seed user %s: %v", name, err)
	}
	return id
}

// as returns a function giving a test context that carries p's access token.
func (bn *bundle) as(p auth.Principal) func(t *testing.T) context.Context {
	return func(t *testing.T) context.Context {
		t.Helper()
		token, _, err := bn.signer.Sign(p, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return grpcauth.WithBearer(ctxT(t), token)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// create creates a task through the API and fails the test on error.
func (bn *bundle) create(t *testing.T, ctx context.Context, tk *taskv1.Task) *taskv1.Task {
	t.Helper()
	resp, err := bn.client.CreateTask(ctx, &taskv1.CreateTaskRequest{Task: tk})
	if err != nil {
		t.Fatalf("CreateTask(%v): %v", tk, err)
	}
	return resp.GetTask()
}

// wantStatus fails the test unless err has code want and, when fields are
// given, names exactly those fields in its details.
func wantStatus(t *testing.T, err error, want codes.Code, fields ...string) *status.Status {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != want {
		t.Fatalf("got %v (%q), want %v", st.Code(), st.Message(), want)
	}
	if len(fields) > 0 {
		got := grpcerr.Fields(err)
		if strings.Join(got, ",") != strings.Join(fields, ",") {
			t.Fatalf("%v names fields %q, want %q", want, got, fields)
		}
	}
	return st
}
