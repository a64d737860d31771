// Package pgtest gives tests a real PostgreSQL: one throwaway cluster per test
// run (or per test binary), and for each test a fresh database cloned from a
// template that has every user and task migration applied.
//
// Use it from every package whose tests touch the database:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		db := pgtest.New(t)
//		…
//	}
//
// The cluster is the one named by the environment variable TODO_TEST_PG_URL
// (a superuser URL; `make test` starts one with pkg/pgtest/cmd/withpg and
// shares it between all test binaries), else Main starts one for the test
// binary and stops it when the tests end.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/todo-platform/todo/pkg/pgcluster"
	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/pkg/schema"
)

// EnvURL names the environment variable holding a superuser URL of the
// cluster to use.
const EnvURL = "TODO_TEST_PG_URL"

// UserAppRoleName is the LOGIN role, a member of the user service's group
// (schema.UserRole) only, that DB.UserAppURL names.
const UserAppRoleName = "todo_test_user"

// TaskAppRoleName is the LOGIN role, a member of the task service's group
// (schema.TaskRole) only, that DB.TaskAppURL names.
const TaskAppRoleName = "todo_test_task"

// appRolePassword lets the login roles' URLs work on clusters that do not
// trust loopback.
const appRolePassword = "todo_test_app"

// templateLockID is the advisory lock (in the "postgres" database) under which
// templates and the app role are created.
const templateLockID = 0x746f646f_74706c

// Cluster is a throwaway PostgreSQL cluster (see pgcluster), as NewPrivate
// returns it.
type Cluster = pgcluster.Cluster

// BinDir returns the directory of the PostgreSQL server binaries (see
// pgcluster.BinDir), for tests that run pg_dump or pgbench.
func BinDir() (string, error) { return pgcluster.BinDir() }

// Main runs the tests of m against the cluster named by TODO_TEST_PG_URL, or,
// when that is unset, against a cluster it starts before and stops after the
// tests. It returns the exit code for os.Exit.
func Main(m *testing.M) int {
	if os.Getenv(EnvURL) != "" {
		return m.Run()
	}
	ctx := context.Background()
	c, err := pgcluster.Start(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: start PostgreSQL: %v\n", err)
		return 1
	}
	// New reads the cluster from the environment: this process's tests only.
	os.Setenv(EnvURL, c.URL())
	code := m.Run()
	os.Unsetenv(EnvURL)
	if err := c.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: stop PostgreSQL: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// DB is one test's database.
type DB struct {
	// Name is the database name.
	Name string
	// OwnerURL is a superuser DSN of the database (migrations run as this).
	OwnerURL string
	// UserAppURL is a DSN of the user service's login role (UserAppRoleName):
	// a member of schema.UserRole, not superuser, no BYPASSRLS, owning
	// nothing. The user service's tests connect as it.
	UserAppURL string
	// TaskAppURL is the same for the task service (TaskAppRoleName, a member
	// of schema.TaskRole).
	TaskAppURL string
	// Owner is a superuser pool, for seeding and asserting; it bypasses
	// row-level security.
	Owner *pgxpool.Pool
	// UserApp is the runtime pool of the user service's login role, built
	// with pgdb.ParseConfig(UserAppURL).
	UserApp *pgdb.DB
	// TaskApp is the runtime pool of the task service's login role.
	TaskApp *pgdb.DB
}

// New returns a fresh database cloned from a template that has all user and
// task migrations applied, and drops it when the test ends. It is safe for
// parallel tests and parallel test binaries sharing one cluster.
func New(t testing.TB) *DB {
	t.Helper()
	admin := os.Getenv(EnvURL)
	if admin == "" {
		t.Fatalf("pgtest: %s is not set: call os.Exit(pgtest.Main(m)) from TestMain, or run the tests with make test", EnvURL)
	}
	return newOn(t, admin)
}

// NewPrivate is New on a cluster of the test's own, which it starts (a
// second or two) and stops when the test ends. A test that needs the
// database to go away calls the cluster's Stop: what a service sees then is
// PostgreSQL shut down.
func NewPrivate(t testing.TB) (*DB, *Cluster) {
	t.Helper()
	return newPrivate(t, nil)
}

// NewPrivateTLS is NewPrivate on a cluster that also serves TLS on
// 127.0.0.1:Port() with the given server certificate (see
// pgcluster.StartTLS). The DB's URLs still use the cluster's socket; Via
// turns one into a TCP URL with sslmode and sslrootcert.
func NewPrivateTLS(t testing.TB, tls pgcluster.TLS) (*DB, *Cluster) {
	t.Helper()
	return newPrivate(t, &tls)
}

func newPrivate(t testing.TB, tls *pgcluster.TLS) (*DB, *Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := pgcluster.Start
	if tls != nil {
		start = func(ctx context.Context, settings ...string) (*pgcluster.Cluster, error) {
			return pgcluster.StartTLS(ctx, *tls, settings...)
		}
	}
	c, err := start(ctx)
	if err != nil {
		t.Fatalf("pgtest: start private cluster: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("pgtest: stop private cluster: %v", err)
		}
	})
	return newOn(t, c.URL()), c
}

func newOn(t testing.TB, admin string) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest: connect to cluster: %v", err)
	}
	tmpl, err := ensureTemplate(ctx, conn, admin)
	name := databaseName(t.Name())
	if err == nil {
		_, err = conn.Exec(ctx, "CREATE DATABASE "+ident(name)+" TEMPLATE "+ident(tmpl))
		if err != nil {
			err = fmt.Errorf("create database %s: %w", name, err)
		}
	}
	conn.Close(ctx)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	db := &DB{Name: name}
	t.Cleanup(func() {
		for _, p := range []*pgdb.DB{db.UserApp, db.TaskApp} {
			if p != nil {
				p.Close()
			}
		}
		if db.Owner != nil {
			db.Owner.Close()
		}
		if err := dropDatabase(admin, name); err != nil && !stopped(admin) {
			t.Errorf("pgtest: %v", err)
		}
	})

	if db.OwnerURL, err = withDatabase(admin, name, ""); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if db.UserAppURL, err = withDatabase(admin, name, UserAppRoleName); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if db.TaskAppURL, err = withDatabase(admin, name, TaskAppRoleName); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if db.Owner, err = pgxpool.New(ctx, db.OwnerURL); err != nil {
		t.Fatalf("pgtest: owner pool: %v", err)
	}
	for _, p := range []struct {
		url  string
		pool **pgdb.DB
	}{{db.UserAppURL, &db.UserApp}, {db.TaskAppURL, &db.TaskApp}} {
		cfg, err := pgdb.ParseConfig(p.url)
		if err != nil {
			t.Fatalf("pgtest: %v", err)
		}
		if *p.pool, err = pgdb.Open(ctx, cfg); err != nil {
			t.Fatalf("pgtest: app pool: %v", err)
		}
	}
	return db
}

// Via returns dsn (a postgres:// URL such as DB.UserAppURL) connecting over TCP
// to host:port instead of its socket, with params (sslmode, sslrootcert, …)
// added to or replacing its own.
func Via(t testing.TB, dsn, host string, port int, params url.Values) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	q := u.Query()
	q.Del("host")
	q.Del("port")
	for k, v := range params {
		q[k] = v
	}
	u.Host = net.JoinHostPort(host, strconv.Itoa(port))
	u.RawQuery = q.Encode()
	return u.String()
}

func dropDatabase(admin, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// databaseName makes a unique database name that starts with the test's name.
func databaseName(test string) string {
	s := strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, strings.ToLower(test))
	if len(s) > 40 {
		s = s[:40]
	}
	b := make([]byte, 6)
	rand.Read(b)
	return "t_" + s + "_" + hex.EncodeToString(b)
}

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

// withDatabase returns the cluster URL admin pointed at database db, as role
// (with its password) when role is not empty.
func withDatabase(admin, db, role string) (string, error) {
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("%s must be a postgres:// URL", EnvURL)
	}
	u.Path = "/" + db
	u.RawPath = ""
	if role != "" {
		u.User = url.UserPassword(role, appRolePassword)
	}
	return u.String(), nil
}

// templateName names the template after the contents of every migration, so a
// changed or added migration gets a new template.
func templateName() (string, error) {
	h := sha256.New()
	for _, s := range []*schema.Set{schema.User(), schema.Task()} {
		fsys := s.FS()
		names, err := fs.Glob(fsys, "*.sql")
		if err != nil {
			return "", fmt.Errorf("list %s migrations: %w", s.Name, err)
		}
		for _, n := range names {
			b, err := fs.ReadFile(fsys, n)
			if err != nil {
				return "", fmt.Errorf("read %s migration %s: %w", s.Name, n, err)
			}
			fmt.Fprintf(h, "%s/%s %d\n", s.Name, n, len(b))
			h.Write(b)
		}
	}
	fmt.Fprintf(h, "river %d\n", schema.RiverTargetVersion)
	return "todo_tmpl_" + hex.EncodeToString(h.Sum(nil))[:16], nil
}

// ensureTemplate returns the name of the migrated template database, creating
// it (and the login roles) first, over conn to the cluster at admin, when it does
// not exist. A finished template
// does not allow connections; one that does is left over from an interrupted
// run and is rebuilt.
func ensureTemplate(ctx context.Context, conn *pgx.Conn, admin string) (string, error) {
	name, err := templateName()
	if err != nil {
		return "", err
	}

	ready := func() (bool, error) {
		var ok bool
		err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1 AND NOT datallowconn)`, name).Scan(&ok)
		if err != nil {
			return false, fmt.Errorf("look up template %s: %w", name, err)
		}
		return ok, nil
	}
	if ok, err := ready(); err != nil || ok {
		return name, err
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(templateLockID)); err != nil {
		return "", fmt.Errorf("lock template creation: %w", err)
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", int64(templateLockID))
	if ok, err := ready(); err != nil || ok {
		return name, err
	}

	for _, q := range []string{
		"DROP DATABASE IF EXISTS " + ident(name) + " WITH (FORCE)",
		"CREATE DATABASE " + ident(name),
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return "", fmt.Errorf("create template %s: %w", name, err)
		}
	}
	dsn, err := withDatabase(admin, name, "")
	if err != nil {
		return "", err
	}
	for _, s := range []*schema.Set{schema.User(), schema.Task()} {
		if err := schema.Up(ctx, dsn, s); err != nil {
			return "", fmt.Errorf("migrate template %s: %w", name, err)
		}
	}
	// The migrations made the services' groups; the login roles are
	// cluster-wide and made once.
	for _, r := range []struct{ name, group string }{
		{UserAppRoleName, schema.UserRole},
		{TaskAppRoleName, schema.TaskRole},
	} {
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)", r.name).Scan(&exists); err != nil {
			return "", fmt.Errorf("look up role %s: %w", r.name, err)
		}
		if exists {
			continue
		}
		q := fmt.Sprintf("CREATE ROLE %s LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD '%s' IN ROLE %s",
			ident(r.name), appRolePassword, ident(r.group))
		if _, err := conn.Exec(ctx, q); err != nil {
			return "", fmt.Errorf("create role %s: %w", r.name, err)
		}
	}
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+ident(name)+" WITH ALLOW_CONNECTIONS false"); err != nil {
		return "", fmt.Errorf("seal template %s: %w", name, err)
	}
	return name, nil
}

// stopped reports whether the cluster of admin no longer answers (a private
// cluster the test stopped).
func stopped(admin string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return true
	}
	conn.Close(ctx)
	return false
}

// User is a user row for SeedUser.
type User struct {
	// Name is the username; the email is Name@example.com.
	Name          string
	Active, Admin bool
}

// SeedUser inserts u through the owner pool (its password hash is a
// placeholder no password matches) and returns its id.
func (db *DB) SeedUser(t testing.TB, u User) int64 {
	t.Helper()
	var id int64
	err := db.Owner.QueryRow(context.Background(),
		`INSERT INTO "user" (email, username, password_hash, is_active, is_admin)
		 VALUES ($1 || '@example.com', $1, 'x', $2, $3) RETURNING id`, u.Name, u.Active, u.Admin).Scan(&id)
	if err != nil {
		t.Fatalf("pgtest: seed user %s: %v", u.Name, err)
	}
	return id
}

// TerminateApp ends every backend of the login roles (UserAppRoleName and
// TaskAppRoleName) in db's database, as an administrator or a PostgreSQL restart would, and returns
// how many it ended. The pools of those roles find their connections dead on
// their next use.
func (db *DB) TerminateApp(t testing.TB) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var n int
	err := db.Owner.QueryRow(ctx, `
SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
FROM pg_stat_activity WHERE datname = current_database() AND usename = ANY($1)`,
		[]string{UserAppRoleName, TaskAppRoleName}).Scan(&n)
	if err != nil {
		t.Fatalf("pgtest: terminate the app role's backends: %v", err)
	}
	return n
}
