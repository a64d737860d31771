// Package e2e tests the platform end to end: it builds the three real
// binaries (user-service, task-service, gateway) once per test binary,
// starts them as processes on free loopback ports against a fresh test
// database, and drives them over HTTP and gRPC the way the README does.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/todo-platform/todo/pkg/auth/keyfile"
	"github.com/todo-platform/todo/pkg/pgtest"
)

// TestMain runs the tests against a throwaway PostgreSQL (pgtest.Main) and
// removes the binaries built for them afterwards.
func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// binaries are the three programs under test, built once per test binary
// into a temporary folder.
type binaries struct {
	dir, user, task, gateway string
}

// The build happens at most once per test binary and is shared by its tests
// (and removed by TestMain).
var (
	buildOnce sync.Once
	built     binaries
	buildErr  error
)

// buildBinaries builds the three binaries from the workspace with `go
// build`, once per test binary.
func buildBinaries(t *testing.T) binaries {
	t.Helper()
	buildOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		dir, err := os.MkdirTemp("", "todo-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		built.dir = dir
		b := binaries{
			dir:     dir,
			user:    filepath.Join(dir, "user-service"),
			task:    filepath.Join(dir, "task-service"),
			gateway: filepath.Join(dir, "gateway"),
		}
		for out, pkg := range map[string]string{
			b.user:    "github.com/todo-platform/todo/services/user",
			b.task:    "github.com/todo-platform/todo/services/task",
			b.gateway: "github.com/todo-platform/todo/services/gateway",
		} {
			cmd := exec.Command(goBin, "build", "-o", out, pkg)
			if outp, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %w\n%s", pkg, err, outp)
				return
			}
		}
		built = b
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

// proc is one running binary.
type proc struct {
	t    *testing.T
	name string
	bin  string
	args []string
	env  []string
	addr string // host:port it listens on
	log  string // file holding its stdout and stderr

	cmd  *exec.Cmd
	done chan struct{}
	err  error // exit status, valid once done is closed
}

func (p *proc) start() {
	p.t.Helper()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	p.cmd = exec.Command(p.bin, p.args...)
	p.cmd.Env = p.env
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		f.Close()
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	p.done = make(chan struct{})
	go func() {
		p.err = p.cmd.Wait()
		f.Close()
		close(p.done)
	}()
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits for the exit; it returns whether the
// process exited within timeout (else it is killed) and its exit error.
func (p *proc) stop(timeout time.Duration) (inTime bool, exitErr error) {
	if p.cmd == nil || !p.running() {
		return true, p.err
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return true, p.err
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return false, p.err
	}
}

func (p *proc) logTail(n int) string {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// stack is the whole platform for one test.
type stack struct {
	t        *testing.T
	db       *pgtest.DB
	user     *proc
	task     *proc
	gateway  *proc
	baseURL  string // the gateway, http://127.0.0.1:port
	keyFile  string
	bins     binaries
	procsDir string
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// baseEnv is the environment every process gets: nothing from the test's
// own environment but PATH and HOME, so a developer's DATABASE_URL cannot
// leak in.
func baseEnv(extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, extra...)
}

// startStack starts user-service, task-service and gateway against a fresh
// database and waits until the gateway's /readyz is 200. Everything is
// stopped when the test ends; the processes' logs are printed if it failed.
func startStack(t *testing.T) *stack {
	t.Helper()
	bins := buildBinaries(t)
	db := pgtest.New(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "token.pem")
	if err := keyfile.WritePrivate(key); err != nil {
		t.Fatal(err)
	}
	s := &stack{t: t, db: db, keyFile: key, bins: bins, procsDir: dir}
	userAddr, taskAddr, httpAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	s.user = &proc{t: t, name: "user-service", bin: bins.user, args: []string{"serve"}, addr: userAddr,
		log: filepath.Join(dir, "user-service.log"),
		env: baseEnv("DATABASE_URL="+db.AppURL, "GRPC_ADDR="+userAddr, "TOKEN_PRIVATE_KEY_FILE="+key)}
	s.task = &proc{t: t, name: "task-service", bin: bins.task, args: []string{"serve"}, addr: taskAddr,
		log: filepath.Join(dir, "task-service.log"),
		env: baseEnv("DATABASE_URL="+db.AppURL, "GRPC_ADDR="+taskAddr, "USER_SERVICE_ADDR="+userAddr)}
	s.gateway = &proc{t: t, name: "gateway", bin: bins.gateway, addr: httpAddr,
		log: filepath.Join(dir, "gateway.log"),
		env: baseEnv("HTTP_ADDR="+httpAddr, "USER_SERVICE_ADDR="+userAddr, "TASK_SERVICE_ADDR="+taskAddr)}
	s.baseURL = "http://" + httpAddr

	t.Cleanup(func() {
		for _, p := range []*proc{s.gateway, s.task, s.user} {
			if inTime, _ := p.stop(10 * time.Second); !inTime {
				t.Errorf("%s did not stop within 10s of SIGTERM", p.name)
			}
		}
		if t.Failed() {
			for _, p := range []*proc{s.user, s.task, s.gateway} {
				t.Logf("---- %s log (last lines) ----\n%s", p.name, p.logTail(40))
			}
		}
	})
	// In dependency order, as make run does: the task service fetches the
	// token keys from the user service when it starts.
	s.user.start()
	waitHealth(t, s.user, "todo.user.v1.UserService")
	s.task.start()
	waitHealth(t, s.task, "todo.task.v1.TaskService")
	s.gateway.start()
	s.waitReady()
	return s
}

// waitReady waits until the gateway reports both services SERVING.
func (s *stack) waitReady() {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		for _, p := range []*proc{s.user, s.task, s.gateway} {
			if !p.running() {
				s.t.Fatalf("%s exited during start-up (%v):\n%s", p.name, p.err, p.logTail(40))
			}
		}
		resp, err := http.Get(s.baseURL + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, b)
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("the stack was not ready within 60s; last /readyz: %s", last)
}

// grpcConn returns a client connection to addr, closed when the test ends.
func grpcConn(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// waitHealth waits until p reports service SERVING on grpc.health.v1.
func waitHealth(t *testing.T, p *proc, service string) {
	t.Helper()
	hc := healthpb.NewHealthClient(grpcConn(t, p.addr))
	deadline := time.Now().Add(60 * time.Second)
	for {
		if !p.running() {
			t.Fatalf("%s exited during start-up (%v):\n%s", p.name, p.err, p.logTail(40))
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: service}, grpc.WaitForReady(true))
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not SERVING within 60s: %v %v", p.name, resp, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ---------------------------------------------------------------- REST

// obj is a decoded JSON object.
type obj = map[string]any

// reply is one HTTP response.
type reply struct {
	status int
	header http.Header
	raw    []byte
	body   obj // nil when the body is not a JSON object
}

// client calls the gateway, as one signed-in user when token is set.
type client struct {
	t     *testing.T
	base  string
	token string
}

func (s *stack) anon() *client { return &client{t: s.t, base: s.baseURL} }

func (c *client) as(token string) *client { return &client{t: c.t, base: c.base, token: token} }

// do sends a request whose body is body marshalled as JSON (nil: no body;
// []byte or io.Reader: sent as is).
func (c *client) do(method, path string, body any, header ...string) reply {
	c.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	case io.Reader:
		r = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	rep := reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &rep.body)
	return rep
}

// ok is do that requires a 200 and returns the body.
func (c *client) ok(method, path string, body any) obj {
	c.t.Helper()
	r := c.do(method, path, body)
	if r.status != http.StatusOK {
		c.t.Fatalf("%s %s: status %d, want 200: %s", method, path, r.status, r.raw)
	}
	if r.body == nil {
		c.t.Fatalf("%s %s: body is not a JSON object: %s", method, path, r.raw)
	}
	return r.body
}

// wantStatus requires an error reply with httpStatus and a JSON body of
// code, message and details, and returns the body.
func (r reply) wantError(t *testing.T, httpStatus int) obj {
	t.Helper()
	if r.status != httpStatus {
		t.Fatalf("status %d, want %d: %s", r.status, httpStatus, r.raw)
	}
	if r.body == nil {
		t.Fatalf("error body is not a JSON object: %q", r.raw)
	}
	if _, ok := r.body["code"].(float64); !ok {
		t.Errorf("no numeric code in %s", r.raw)
	}
	if _, ok := r.body["message"].(string); !ok {
		t.Errorf("no message in %s", r.raw)
	}
	if _, ok := r.body["details"].([]any); !ok {
		t.Errorf("no details array in %s", r.raw)
	}
	return r.body
}

// get walks a path of keys ("task.id") through nested objects.
func get(t *testing.T, o obj, path string) any {
	t.Helper()
	var cur any = o
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(obj)
		if !ok {
			t.Fatalf("%s: %v is not an object", path, cur)
		}
		cur, ok = m[k]
		if !ok {
			t.Fatalf("%s: no key %q in %v", path, k, m)
		}
	}
	return cur
}

func str(t *testing.T, o obj, path string) string {
	t.Helper()
	s, ok := get(t, o, path).(string)
	if !ok {
		t.Fatalf("%s = %#v, not a string", path, get(t, o, path))
	}
	return s
}

func list(t *testing.T, o obj, path string) []obj {
	t.Helper()
	raw, ok := get(t, o, path).([]any)
	if !ok {
		t.Fatalf("%s = %#v, not an array", path, get(t, o, path))
	}
	out := make([]obj, len(raw))
	for i, v := range raw {
		out[i], ok = v.(obj)
		if !ok {
			t.Fatalf("%s[%d] = %#v, not an object", path, i, v)
		}
	}
	return out
}

// ids returns the "id" of each object.
func ids(t *testing.T, objs []obj) []string {
	t.Helper()
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = str(t, o, "id")
	}
	return out
}

// signUp creates a user through the gateway and returns its id.
func signUp(t *testing.T, c *client, username, password string) string {
	t.Helper()
	body := c.ok("POST", "/v1/users", obj{
		"email": username + "@example.com", "username": username, "password": password, "full_name": strings.ToUpper(username[:1]) + username[1:],
	})
	return str(t, body, "user.id")
}

// logIn returns an access token.
func logIn(t *testing.T, c *client, login, password string) string {
	t.Helper()
	body := c.ok("POST", "/v1/auth/login", obj{"login": login, "password": password})
	return str(t, body, "tokens.access_token")
}

// createAdmin runs `user-service admin create` against the stack's database,
// as the README says, and returns the admin's login.
func (s *stack) createAdmin(username, password string) {
	s.t.Helper()
	cmd := exec.Command(s.bins.user, "admin", "create")
	cmd.Env = baseEnv("DATABASE_URL="+s.db.AppURL, "ADMIN_EMAIL="+username+"@example.com",
		"ADMIN_USERNAME="+username, "ADMIN_PASSWORD="+password)
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("user-service admin create: %v\n%s", err, out)
	}
}

// scanLines returns the lines of a file that contain all of words.
func scanLines(path string, words ...string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
next:
	for sc.Scan() {
		for _, w := range words {
			if !strings.Contains(sc.Text(), w) {
				continue next
			}
		}
		out = append(out, sc.Text())
	}
	return out
}

// exitCode is the exit status of a finished process (-1 when it was killed
// by a signal or the error is not an exit).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
