// Package e2e tests the platform end to end: it runs the three real
// binaries (user-service, task-service, gateway, built once through their
// tool directives in go.mod) as processes on loopback listeners against a
// fresh test database, and drives them over HTTP and gRPC the way the README
// does.
package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/auth/keyfile"
	"github.com/todo-platform/todo/pkg/keyring/keyringtest"
	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/pkg/proc"
	"github.com/todo-platform/todo/pkg/proctest"
)

// TestMain runs the tests against a throwaway PostgreSQL (pgtest.Main).
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// stack is the whole platform for one test.
type stack struct {
	t       testing.TB
	db      *pgtest.DB
	user    *proctest.Server
	task    *proctest.Server
	gateway *proctest.Server
	baseURL string       // the gateway, http://127.0.0.1:port
	http    *http.Client // checks every API call against the OpenAPI document
	userBin string
	dsn     string // the user service's DATABASE_URL
	// keyringFile is the user service's DATA_KEYRING_FILE.
	keyringFile string
}

// startStack starts user-service, task-service and gateway against a fresh
// database and waits until the gateway's /readyz is 200; userEnv is added to
// the processes' environment (NAME=value; only the user service reads the
// user service's variables). When the test ends
// each process gets SIGTERM and must exit 0 within 10 s; the processes'
// output is printed if the test failed.
func startStack(t testing.TB, userEnv ...string) *stack {
	t.Helper()
	return startStackOn(t, pgtest.New(t), userEnv...)
}

// startStackOn is startStack on db, with env added to every process's
// environment.
func startStackOn(t testing.TB, db *pgtest.DB, env ...string) *stack {
	t.Helper()
	return startStackWith(t, db, stackConfig{env: env})
}

// stackConfig is how startStackWith runs the platform.
type stackConfig struct {
	// userDatabaseURL and taskDatabaseURL are the services' DATABASE_URLs,
	// each the service's own login role; empty means db.UserAppURL and
	// db.TaskAppURL.
	userDatabaseURL, taskDatabaseURL string
	// userListenURL and taskListenURL, when set, are the services'
	// DATABASE_LISTEN_URLs (direct, beside a pooled DATABASE_URL).
	userListenURL, taskListenURL string
	// env is added to every process's environment.
	env []string
	// tls, when set, puts every hop on TLS (see tlsStack).
	tls *tlsStack
}

// startStackWith is startStack on db, configured by cfg.
func startStackWith(t testing.TB, db *pgtest.DB, cfg stackConfig) *stack {
	t.Helper()
	env := cfg.env
	dsn, taskDSN := cfg.userDatabaseURL, cfg.taskDatabaseURL
	if dsn == "" {
		dsn = db.UserAppURL
	}
	if taskDSN == "" {
		taskDSN = db.TaskAppURL
	}
	const module = "github.com/todo-platform/todo/services/"
	key := filepath.Join(t.TempDir(), "token.pem")
	if err := keyfile.WritePrivate(key); err != nil {
		t.Fatal(err)
	}
	userReady, taskReady, gatewayReady := proc.GRPCHealth(userv1.UserService_ServiceDesc.ServiceName),
		proc.GRPCHealth(taskv1.TaskService_ServiceDesc.ServiceName), proc.HTTPOK("/readyz")
	var userEnv, taskEnv, gatewayEnv []string
	next := http.DefaultTransport
	scheme := "http"
	if ts := cfg.tls; ts != nil {
		userEnv, taskEnv, gatewayEnv = ts.userEnv(), ts.taskEnv(), ts.gatewayEnv()
		userReady = proc.GRPCHealthTLS(userv1.UserService_ServiceDesc.ServiceName, ts.internalClient)
		taskReady = proc.GRPCHealthTLS(taskv1.TaskService_ServiceDesc.ServiceName, ts.internalClient)
		gatewayReady = proc.HTTPSOK("/readyz", ts.restClient)
		next = &http.Transport{TLSClientConfig: ts.restClient}
		scheme = "https"
	}
	if cfg.userListenURL != "" {
		userEnv = append(userEnv, "DATABASE_LISTEN_URL="+cfg.userListenURL)
	}
	if cfg.taskListenURL != "" {
		taskEnv = append(taskEnv, "DATABASE_LISTEN_URL="+cfg.taskListenURL)
	}
	_, ringFile := keyringtest.New(t)
	s := &stack{t: t, db: db, dsn: dsn, keyringFile: ringFile, userBin: proctest.Build(t, module+"user"), http: newContractClientVia(t, next)}
	// Each listener is bound before its process starts, so the services
	// that depend on it are given its address.
	s.user = proctest.NewServer(t, proc.Spec{
		Name: "user-service", Path: s.userBin, Args: []string{"serve"}, AddrEnv: "GRPC_ADDR", AdminAddrEnv: "ADMIN_ADDR",
		Env:   slices.Concat([]string{"DATABASE_URL=" + dsn, "TOKEN_PRIVATE_KEY_FILE=" + key, "DATA_KEYRING_FILE=" + s.keyringFile}, userEnv, env),
		Ready: userReady,
	})
	s.task = proctest.NewServer(t, proc.Spec{
		Name: "task-service", Path: proctest.Build(t, module+"task"), Args: []string{"serve"}, AddrEnv: "GRPC_ADDR", AdminAddrEnv: "ADMIN_ADDR",
		Env:   slices.Concat([]string{"DATABASE_URL=" + taskDSN, "USER_SERVICE_ADDR=" + s.user.Addr()}, taskEnv, env),
		Ready: taskReady,
	})
	// The gateway counts as started once /readyz reports both services
	// SERVING through it.
	s.gateway = proctest.NewServer(t, proc.Spec{
		Name: "gateway", Path: proctest.Build(t, module+"gateway"), AddrEnv: "HTTP_ADDR", AdminAddrEnv: "ADMIN_ADDR",
		Env:   slices.Concat([]string{"USER_SERVICE_ADDR=" + s.user.Addr(), "TASK_SERVICE_ADDR=" + s.task.Addr()}, gatewayEnv, env),
		Ready: gatewayReady,
	})
	s.baseURL = scheme + "://" + s.gateway.Addr()

	// In dependency order, as make run does: the task service fetches the
	// token keys from the user service when it starts.
	s.user.Start(t)
	s.task.Start(t)
	s.gateway.Start(t)
	return s
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
	t     testing.TB
	http  *http.Client
	base  string
	token string
	bad   bool // requests may break the OpenAPI document on purpose
}

func (s *stack) anon() *client { return &client{t: s.t, http: s.http, base: s.baseURL} }

func (c *client) as(token string) *client {
	cp := *c
	cp.token = token
	return &cp
}

// offContract returns a client whose requests may break the OpenAPI
// document on purpose; the server must then refuse them (see contract).
func (c *client) offContract() *client {
	cp := *c
	cp.bad = true
	return &cp
}

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
	ctx := c.t.Context()
	if c.bad {
		ctx = offContract(ctx)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
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
	resp, err := c.http.Do(req)
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
func get(t testing.TB, o obj, path string) any {
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

func str(t testing.TB, o obj, path string) string {
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
func signUp(t testing.TB, c *client, username, password string) string {
	t.Helper()
	body := c.ok("POST", "/v1/users", obj{
		"email": username + "@example.com", "username": username, "password": password, "full_name": strings.ToUpper(username[:1]) + username[1:],
	})
	return str(t, body, "id")
}

// logIn returns an access token.
func logIn(t testing.TB, c *client, login, password string) string {
	t.Helper()
	body := c.ok("POST", "/v1/auth/login", obj{"login": login, "password": password})
	return str(t, body, "tokens.access_token")
}

// createAdmin runs `user-service admin create` against the stack's database,
// as the README says.
func (s *stack) createAdmin(username, password string) {
	s.t.Helper()
	cmd := proctest.Command(s.t, s.userBin, []string{"DATABASE_URL=" + s.dsn, "DATA_KEYRING_FILE=" + s.keyringFile, "ADMIN_EMAIL=" + username + "@example.com",
		"ADMIN_USERNAME=" + username, "ADMIN_PASSWORD=" + password}, "admin", "create")
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("user-service admin create: %v\n%s", err, out)
	}
}
