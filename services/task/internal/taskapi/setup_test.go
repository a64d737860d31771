package taskapi_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/auth/authtest"
	"github.com/todo-platform/todo/pkg/auth/grpcauth"
	"github.com/todo-platform/todo/pkg/grpcerr"
	"github.com/todo-platform/todo/pkg/grpcserver"
	"github.com/todo-platform/todo/pkg/grpcserver/grpcservertest"
	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/pkg/testkit"
	"github.com/todo-platform/todo/services/task/internal/task"
	"github.com/todo-platform/todo/services/task/internal/taskapi"
	"github.com/todo-platform/todo/services/task/internal/taskstore"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// directory is the task.UserDirectory of the tests: it knows the users it
// is told about, can be made unavailable or made to wait until its caller
// gives up, and records every question it is asked.
type directory struct {
	mu          sync.Mutex
	active      map[int64]bool // known users and whether they are active
	unavailable bool
	hang        bool
	released    chan struct{} // closed when the test ends: hanging checks return
	checks      []assigneeCheck
	returned    chan struct{} // receives a value each time a check returns
}

var _ task.UserDirectory = (*directory)(nil)

// assigneeCheck is one CheckAssignee call as the directory saw it.
type assigneeCheck struct {
	id int64
	// token is the bearer token of the incoming call the check runs for.
	token string
	// deadline is the check's context's deadline (zero: none).
	deadline time.Time
	// err is what the check returned.
	err error
}

func newDirectory() *directory {
	return &directory{active: map[int64]bool{}, released: make(chan struct{}), returned: make(chan struct{}, 100)}
}

// release makes hanging checks return.
func (d *directory) release() { close(d.released) }

// setUser makes id a known user, active or not.
func (d *directory) setUser(id int64, active bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.active[id] = active
}

// setUnavailable makes every check fail with task.ErrUserServiceUnavailable
// (or stop failing).
func (d *directory) setUnavailable(v bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.unavailable = v
}

// setHang makes every check wait until its context ends (or the test does),
// as a user service that does not answer would.
func (d *directory) setHang(v bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.hang = v
}

// seen returns the checks made so far.
func (d *directory) seen() []assigneeCheck {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]assigneeCheck(nil), d.checks...)
}

// CheckAssignee answers as the configuration says: nil for a known active
// user, task.ErrInvalidAssignee for an inactive or unknown one.
func (d *directory) CheckAssignee(ctx context.Context, id int64) error {
	c := assigneeCheck{id: id}
	c.token, _ = grpcauth.BearerToken(ctx)
	c.deadline, _ = ctx.Deadline()
	d.mu.Lock()
	active, unavailable, hang := d.active[id], d.unavailable, d.hang
	d.mu.Unlock()
	switch {
	case hang:
		select {
		case <-ctx.Done():
			c.err = fmt.Errorf("check assignee %d: %w", id, ctx.Err())
		case <-d.released:
			c.err = fmt.Errorf("check assignee %d: %w (the test ended first)", id, task.ErrUserServiceUnavailable)
		}
	case unavailable:
		c.err = fmt.Errorf("check assignee %d: %w", id, task.ErrUserServiceUnavailable)
	case !active:
		c.err = fmt.Errorf("check assignee %d: %w", id, task.ErrInvalidAssignee)
	}
	d.mu.Lock()
	d.checks = append(d.checks, c)
	d.mu.Unlock()
	select {
	case d.returned <- struct{}{}:
	default:
	}
	return c.err
}

// bundle is one test's world: a database with users A (creator), B
// (assignee), C (stranger), an admin and an inactive user, all known to a
// fake user directory; and the task service on a loopback gRPC server
// (pkg/grpcserver, the real interceptors) with a generated client.
type bundle struct {
	db                               *pgtest.DB
	users                            *directory
	client                           taskv1.TaskServiceClient
	conn                             *grpc.ClientConn
	signer                           *auth.Signer
	a, b, c, admin, inactive         int64
	asA, asB, asC, asAdmin, asNobody func(t *testing.T) context.Context

	// addr is the server's address; stop stops it gracefully.
	addr string
	stop func()
	// svc is the service behind the server; listener its Notifier, when
	// options.watch was set.
	svc      *task.Service
	listener *taskstore.Listener
}

type options struct {
	// db, when set, is the database instead of a fresh pgtest.New one.
	db *pgtest.DB
	// statementTimeout, when set, replaces the runtime pool's
	// statement_timeout (given in the DSN, as operators do).
	statementTimeout time.Duration
	// watch, when set, configures WatchTasks, with a taskstore.Listener
	// on the database as its Notifier.
	watch *task.WatchConfig
	// watchSendTimeout, when set, bounds each WatchTasks send.
	watchSendTimeout time.Duration
}

func setup(t testing.TB, opts ...func(*options)) *bundle {
	t.Helper()
	var o options
	for _, f := range opts {
		f(&o)
	}
	db := o.db
	if db == nil {
		db = pgtest.New(t)
	}
	bn := &bundle{db: db, users: newDirectory(), signer: authtest.NewSigner(t)}
	bn.a = db.SeedUser(t, pgtest.User{Name: "a", Active: true})
	bn.b = db.SeedUser(t, pgtest.User{Name: "b", Active: true})
	bn.c = db.SeedUser(t, pgtest.User{Name: "c", Active: true})
	bn.admin = db.SeedUser(t, pgtest.User{Name: "admin", Active: true, Admin: true})
	bn.inactive = db.SeedUser(t, pgtest.User{Name: "inactive"})
	for _, id := range []int64{bn.a, bn.b, bn.c, bn.admin} {
		bn.users.setUser(id, true)
	}
	bn.users.setUser(bn.inactive, false)
	bn.asA = bn.as(auth.Principal{UserID: bn.a})
	bn.asB = bn.as(auth.Principal{UserID: bn.b})
	bn.asC = bn.as(auth.Principal{UserID: bn.c})
	bn.asAdmin = bn.as(auth.Principal{UserID: bn.admin, Admin: true})
	bn.asNobody = func(t *testing.T) context.Context { return testkit.Context(t) }

	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	appDB := db.TaskApp
	if o.statementTimeout > 0 {
		cfg, err := pgdb.ParseConfig(db.TaskAppURL + dsnSep(db.TaskAppURL) + "statement_timeout=" + o.statementTimeout.String())
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
	keys := auth.StaticKeys{bn.signer.KeyID(): bn.signer.PublicKey().Key}
	svc := task.NewService(taskstore.New(appDB), bn.users)
	if o.watch != nil {
		cfg := *o.watch
		l, err := taskstore.NewListener(log, db.TaskAppURL, true)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = l.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		cfg.Notifier = l
		svc.SetWatch(cfg)
		bn.listener = l
	}
	bn.svc = svc
	verifier := auth.NewVerifier(keys, auth.DefaultIssuer, auth.DefaultAudience)
	srv := grpcserver.New(log, grpcserver.Config{StreamInterceptors: []grpc.StreamServerInterceptor{grpcauth.StreamServerInterceptor(verifier)}},
		grpcauth.UnaryServerInterceptor(verifier))
	api := taskapi.New(log, svc)
	if o.watchSendTimeout > 0 {
		api.SetWatchSendTimeout(o.watchSendTimeout)
	}
	api.Register(srv.GRPC())

	// Registered after the server, so it runs before the server stops: the
	// server need not wait for hanging checks.
	bn.addr, bn.stop = grpcservertest.Start(t, srv)
	conn, err := grpc.NewClient(bn.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	bn.conn = conn
	t.Cleanup(bn.users.release)
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

// token returns an access token of p.
func (bn *bundle) token(t testing.TB, p auth.Principal) string {
	t.Helper()
	token, _, err := bn.signer.Sign(p, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// as returns a function giving a test context that carries p's access token.
func (bn *bundle) as(p auth.Principal) func(t *testing.T) context.Context {
	return func(t *testing.T) context.Context {
		t.Helper()
		return grpcauth.WithBearer(testkit.Context(t), bn.token(t, p))
	}
}

// create creates a task through the API and fails the test on error.
func (bn *bundle) create(t *testing.T, ctx context.Context, tk *taskv1.Task) *taskv1.Task {
	t.Helper()
	resp, err := bn.client.CreateTask(ctx, &taskv1.CreateTaskRequest{Task: tk})
	if err != nil {
		t.Fatalf("CreateTask(%v): %v", tk, err)
	}
	return resp
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
