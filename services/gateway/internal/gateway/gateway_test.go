package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/todo-platform/todo/pkg/grpcclient"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/api/openapi"
	"github.com/todo-platform/todo/services/gateway/internal/gateway"
)

// call is what a fake service saw of one RPC.
type call struct {
	method   string
	req      proto.Message
	md       metadata.MD
	deadline time.Time
	hasDL    bool
}

// recorder collects the calls the fake services receive.
type recorder struct {
	mu    sync.Mutex
	calls []call
}

func (r *recorder) add(ctx context.Context, method string, req proto.Message) {
	md, _ := metadata.FromIncomingContext(ctx)
	dl, ok := ctx.Deadline()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, call{method: method, req: proto.Clone(req), md: md, deadline: dl, hasDL: ok})
}

func (r *recorder) all() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

func (r *recorder) last(t *testing.T) call {
	t.Helper()
	c := r.all()
	if len(c) == 0 {
		t.Fatal("the upstream saw no call")
	}
	return c[len(c)-1]
}

// fakeUser answers GetCurrentUser and GetUser distinguishably.
type fakeUser struct {
	userv1.UnimplementedUserServiceServer
	rec *recorder
}

func (f *fakeUser) GetCurrentUser(ctx context.Context, req *userv1.GetCurrentUserRequest) (*userv1.User, error) {
	f.rec.add(ctx, "GetCurrentUser", req)
	return &userv1.User{Id: 7, Username: "me"}, nil
}

func (f *fakeUser) GetUser(ctx context.Context, req *userv1.GetUserRequest) (*userv1.User, error) {
	f.rec.add(ctx, "GetUser", req)
	return &userv1.User{Id: req.GetId(), Username: "other"}, nil
}

func (f *fakeUser) UpdateUser(ctx context.Context, req *userv1.UpdateUserRequest) (*userv1.User, error) {
	f.rec.add(ctx, "UpdateUser", req)
	return req.GetUser(), nil
}

// fakeTask returns whatever error the test asks for, else echoes.
type fakeTask struct {
	taskv1.UnimplementedTaskServiceServer
	rec *recorder
	err error
}

func (f *fakeTask) GetTask(ctx context.Context, req *taskv1.GetTaskRequest) (*taskv1.Task, error) {
	f.rec.add(ctx, "GetTask", req)
	if f.err != nil {
		return nil, f.err
	}
	return &taskv1.Task{Id: req.GetId(), Title: "t"}, nil
}

func (f *fakeTask) CreateTask(ctx context.Context, req *taskv1.CreateTaskRequest) (*taskv1.Task, error) {
	f.rec.add(ctx, "CreateTask", req)
	return req.GetTask(), nil
}

func (f *fakeTask) UpdateTask(ctx context.Context, req *taskv1.UpdateTaskRequest) (*taskv1.Task, error) {
	f.rec.add(ctx, "UpdateTask", req)
	return req.GetTask(), nil
}

func (f *fakeTask) ListTasks(ctx context.Context, req *taskv1.ListTasksRequest) (*taskv1.ListTasksResponse, error) {
	f.rec.add(ctx, "ListTasks", req)
	return &taskv1.ListTasksResponse{}, nil
}

type bundle struct {
	url    string
	rec    *recorder
	task   *fakeTask
	health *health.Server
	stop   func() // stops the fake gRPC server
}

func defaultConfig() gateway.Config {
	return gateway.Config{
		MaxBodyBytes:   4096,
		DefaultTimeout: 10 * time.Second,
		MaxTimeout:     60 * time.Second,
		ReadyTimeout:   2 * time.Second,
	}
}

// setup starts one fake gRPC server carrying both services and health, and
// the gateway handler in front of it.
func setup(t *testing.T, cfg gateway.Config) *bundle {
	t.Helper()
	rec := &recorder{}
	srv := grpc.NewServer()
	ft := &fakeTask{rec: rec}
	userv1.RegisterUserServiceServer(srv, &fakeUser{rec: rec})
	taskv1.RegisterTaskServiceServer(srv, ft)
	hs := health.NewServer()
	hs.SetServingStatus(userv1.UserService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(taskv1.TaskService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	conn, err := grpcclient.Dial(lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	h, err := gateway.New(t.Context(), log, cfg, conn, conn)
	if err != nil {
		t.Fatal(err)
	}
	hts := httptest.NewServer(h)
	t.Cleanup(hts.Close)
	return &bundle{url: hts.URL, rec: rec, task: ft, health: hs, stop: srv.Stop}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %q", err, r.body)
	}
	return m
}

func do(t *testing.T, method, url string, body io.Reader, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// wantError checks an error response: the status, a JSON body with code,
// message and details, and the gRPC code.
func wantError(t *testing.T, r response, httpStatus int, code codes.Code) map[string]any {
	t.Helper()
	if r.status != httpStatus {
		t.Fatalf("status = %d, want %d; body %s", r.status, httpStatus, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	m := r.json(t)
	if got, ok := m["code"].(float64); !ok || codes.Code(got) != code {
		t.Errorf("code = %v, want %d (%s); body %s", m["code"], code, code, r.body)
	}
	if _, ok := m["message"].(string); !ok {
		t.Errorf("no message in %s", r.body)
	}
	if _, ok := m["details"].([]any); !ok {
		t.Errorf("no details array in %s", r.body)
	}
	return m
}

func TestGetUsersMe_ReachesGetCurrentUser(t *testing.T) {
	b := setup(t, defaultConfig())
	r := do(t, http.MethodGet, b.url+"/v1/users/me", nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("status = %d: %s", r.status, r.body)
	}
	if got, want := b.rec.last(t).method, "GetCurrentUser"; got != want {
		t.Errorf("method = %s, want %s", got, want)
	}
	user := r.json(t)
	if got, want := user["id"], "7"; got != want {
		t.Errorf("user.id = %v, want %q", got, want)
	}
	// A numeric id still reaches GetUser.
	do(t, http.MethodGet, b.url+"/v1/users/12", nil, nil)
	if c := b.rec.last(t); c.method != "GetUser" || c.req.(*userv1.GetUserRequest).GetId() != 12 {
		t.Errorf("GET /v1/users/12 reached %s %v", c.method, c.req)
	}
}

func TestJSON_ProtoNamesDefaultsAndAbsence(t *testing.T) {
	b := setup(t, defaultConfig())
	r := do(t, http.MethodGet, b.url+"/v1/tasks/3", nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("status = %d: %s", r.status, r.body)
	}
	task := r.json(t)
	// Scalars are written even when zero; unset timestamps and the unset
	// optional assigned_to are absent, never null or "0".
	for _, k := range []string{"id", "title", "description", "status", "priority", "created_by", "etag"} {
		if _, ok := task[k]; !ok {
			t.Errorf("field %q missing from %s", k, r.body)
		}
	}
	for _, k := range []string{"due_date", "assigned_to", "created_at", "updated_at", "completed_at"} {
		if v, ok := task[k]; ok {
			t.Errorf("unset field %q present as %#v in %s", k, v, r.body)
		}
	}
	if got, want := task["id"], "3"; got != want {
		t.Errorf("id = %#v, want %#v (int64 as a string)", got, want)
	}
	if got, want := task["status"], "TASK_STATUS_UNSPECIFIED"; got != want {
		t.Errorf("status = %#v, want %#v", got, want)
	}
}

func TestPatchWithoutMask_UpdatesOnlyFieldsInBody(t *testing.T) {
	b := setup(t, defaultConfig())
	tests := []struct {
		name, path, body string
		want             []string
	}{
		{"task title only", "/v1/tasks/5", `{"title":"x"}`, []string{"title"}},
		{"task several", "/v1/tasks/5", `{"description":"d","status":"TASK_STATUS_COMPLETED","due_date":null}`, []string{"description", "due_date", "status"}},
		{"task explicit mask wins", "/v1/tasks/5?update_mask=title", `{"title":"x","description":"y"}`, []string{"title"}},
		{"user full_name only", "/v1/users/3", `{"full_name":"Ann"}`, []string{"full_name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, http.MethodPatch, b.url+tt.path, strings.NewReader(tt.body), map[string]string{"Content-Type": "application/json"})
			if r.status != http.StatusOK {
				t.Fatalf("status = %d: %s", r.status, r.body)
			}
			var got []string
			switch req := b.rec.last(t).req.(type) {
			case *taskv1.UpdateTaskRequest:
				got = req.GetUpdateMask().GetPaths()
				if req.GetTask().GetId() != 5 {
					t.Errorf("task.id = %d, want 5", req.GetTask().GetId())
				}
			case *userv1.UpdateUserRequest:
				got = req.GetUpdateMask().GetPaths()
				if req.GetUser().GetId() != 3 {
					t.Errorf("user.id = %d, want 3", req.GetUser().GetId())
				}
			}
			slices.Sort(got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("update_mask (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMetadata_OnlyAuthorizationAndRequestIDReachServices(t *testing.T) {
	b := setup(t, defaultConfig())
	r := do(t, http.MethodGet, b.url+"/v1/tasks/1", nil, map[string]string{
		"Authorization":               "Bearer real",
		"Grpc-Metadata-Authorization": "Bearer forged",
		"Grpc-Metadata-X-User-Id":     "1",
		"Grpc-Metadata-X-Is-Admin":    "true",
		"X-User-Id":                   "1",
		"X-Forwarded-For":             "203.0.113.9",
		"X-Request-Id":                "req-123",
	})
	if r.status != http.StatusOK {
		t.Fatalf("status = %d: %s", r.status, r.body)
	}
	md := b.rec.last(t).md
	if diff := cmp.Diff([]string{"Bearer real"}, md.Get("authorization")); diff != "" {
		t.Errorf("authorization metadata (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"req-123"}, md.Get("x-request-id")); diff != "" {
		t.Errorf("x-request-id metadata (-want +got):\n%s", diff)
	}
	for _, k := range []string{"x-user-id", "x-is-admin", "grpc-metadata-x-user-id"} {
		if v := md.Get(k); len(v) > 0 {
			t.Errorf("metadata %s = %v reached the service", k, v)
		}
	}
	for _, v := range md.Get("x-forwarded-for") {
		if strings.Contains(v, "203.0.113.9") {
			t.Errorf("client-sent X-Forwarded-For reached the service: %q", v)
		}
	}
	if got, want := r.header.Get("X-Request-Id"), "req-123"; got != want {
		t.Errorf("response X-Request-Id = %q, want %q", got, want)
	}
}

func TestRequestID_GeneratedWhenAbsentOrMalformed(t *testing.T) {
	b := setup(t, defaultConfig())
	for _, sent := range []string{"", "has spaces and \u00e9"} {
		h := map[string]string{}
		if sent != "" {
			h["X-Request-Id"] = sent
		}
		r := do(t, http.MethodGet, b.url+"/v1/tasks/1", nil, h)
		got := r.header.Get("X-Request-Id")
		if got == "" || got == sent {
			t.Errorf("sent %q: response X-Request-Id = %q, want a new id", sent, got)
		}
		if md := b.rec.last(t).md.Get("x-request-id"); len(md) != 1 || md[0] != got {
			t.Errorf("x-request-id metadata = %v, want [%s]", md, got)
		}
	}
}

func TestBodyLimit_413BeforeAnyUpstreamCall(t *testing.T) {
	b := setup(t, defaultConfig()) // limit 4096 bytes
	big := `{"title":"` + strings.Repeat("a", 8192) + `"}`

	t.Run("content length", func(t *testing.T) {
		r := do(t, http.MethodPost, b.url+"/v1/tasks", strings.NewReader(big), nil)
		wantError(t, r, http.StatusRequestEntityTooLarge, codes.ResourceExhausted)
	})
	t.Run("chunked", func(t *testing.T) {
		// An io.Reader of unknown length is sent chunked, without Content-Length.
		r := do(t, http.MethodPost, b.url+"/v1/tasks", io.MultiReader(strings.NewReader(big)), nil)
		wantError(t, r, http.StatusRequestEntityTooLarge, codes.ResourceExhausted)
	})
	if c := b.rec.all(); len(c) != 0 {
		t.Errorf("upstream saw %d calls, want none", len(c))
	}
	// A body under the limit passes.
	r := do(t, http.MethodPost, b.url+"/v1/tasks", io.MultiReader(strings.NewReader(`{"title":"ok"}`)), nil)
	if r.status != http.StatusOK {
		t.Errorf("small chunked body: status = %d: %s", r.status, r.body)
	}
}

func TestDeadline_DefaultAndClampedClientTimeout(t *testing.T) {
	cfg := defaultConfig()
	cfg.DefaultTimeout, cfg.MaxTimeout = 3*time.Second, 7*time.Second
	b := setup(t, cfg)
	tests := []struct {
		name, header string
		atMost       time.Duration
	}{
		{"absent: default", "", 3 * time.Second},
		{"above max: clamped", "1000S", 7 * time.Second},
		{"below max: honoured", "1S", time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{}
			if tt.header != "" {
				h["Grpc-Timeout"] = tt.header
			}
			r := do(t, http.MethodGet, b.url+"/v1/tasks/1", nil, h)
			answered := time.Now()
			if r.status != http.StatusOK {
				t.Fatalf("status = %d: %s", r.status, r.body)
			}
			c := b.rec.last(t)
			if !c.hasDL {
				t.Fatal("the upstream call had no deadline")
			}
			// The service got the call before the answer came back, so its
			// deadline cannot lie further than atMost after the answer.
			if left := c.deadline.Sub(answered); left > tt.atMost {
				t.Errorf("deadline %s after the answer, want at most %s", left, tt.atMost)
			}
		})
	}
	r := do(t, http.MethodGet, b.url+"/v1/tasks/1", nil, map[string]string{"Grpc-Timeout": "soon"})
	wantError(t, r, http.StatusBadRequest, codes.InvalidArgument)
}

func TestErrors_StatusCodeAndSafeBody(t *testing.T) {
	b := setup(t, defaultConfig())
	bad, err := status.New(codes.InvalidArgument, "invalid request").WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "task.title", Description: "must not be blank"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		err         error
		httpStatus  int
		code        codes.Code
		wantMessage string
	}{
		{"invalid argument with details", bad.Err(), 400, codes.InvalidArgument, "invalid request"},
		{"not found", status.Error(codes.NotFound, "task not found"), 404, codes.NotFound, "task not found"},
		{"unauthenticated", status.Error(codes.Unauthenticated, "missing token"), 401, codes.Unauthenticated, "missing token"},
		{"aborted", status.Error(codes.Aborted, "etag mismatch"), 409, codes.Aborted, "etag mismatch"},
		{"internal hides text", status.Error(codes.Internal, "pq: relation secret_table at db.internal:5432"), 500, codes.Internal, "internal error"},
		{"unknown hides text", status.Error(codes.Unknown, "panic: runtime error at foo.go:12"), 500, codes.Internal, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b.task.err = tt.err
			r := do(t, http.MethodGet, b.url+"/v1/tasks/1", nil, nil)
			m := wantError(t, r, tt.httpStatus, tt.code)
			if got := m["message"]; got != tt.wantMessage {
				t.Errorf("message = %q, want %q", got, tt.wantMessage)
			}
			if tt.code == codes.Unauthenticated && r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}

	b.task.err = bad.Err()
	m := do(t, http.MethodGet, b.url+"/v1/tasks/1", nil, nil).json(t)
	details := m["details"].([]any)
	if len(details) != 1 {
		t.Fatalf("details = %v, want one BadRequest", details)
	}
	d := details[0].(map[string]any)
	if got, want := d["@type"], "type.googleapis.com/google.rpc.BadRequest"; got != want {
		t.Errorf("@type = %v, want %v", got, want)
	}
	fv := d["field_violations"].([]any)[0].(map[string]any)
	if got, want := fv["field"], "task.title"; got != want {
		t.Errorf("field = %v, want %v", got, want)
	}
}

func TestErrors_UpstreamDownIs503WithoutAddresses(t *testing.T) {
	b := setup(t, defaultConfig())
	b.stop()
	r := do(t, http.MethodGet, b.url+"/v1/tasks/1", nil, nil)
	m := wantError(t, r, http.StatusServiceUnavailable, codes.Unavailable)
	if msg := m["message"].(string); strings.Contains(msg, "127.0.0.1") || strings.Contains(msg, "dial") {
		t.Errorf("message leaks transport details: %q", msg)
	}
}

func TestRoutingErrors_JSON(t *testing.T) {
	b := setup(t, defaultConfig())
	wantError(t, do(t, http.MethodGet, b.url+"/v1/nothing", nil, nil), http.StatusNotFound, codes.NotFound)
	wantError(t, do(t, http.MethodGet, b.url+"/", nil, nil), http.StatusNotFound, codes.NotFound)
	wantError(t, do(t, http.MethodDelete, b.url+"/v1/tasks", nil, nil), http.StatusMethodNotAllowed, codes.Unimplemented)
	wantError(t, do(t, http.MethodPost, b.url+"/healthz", nil, nil), http.StatusMethodNotAllowed, codes.Unimplemented)
	if c := b.rec.all(); len(c) != 0 {
		t.Errorf("upstream saw %d calls, want none", len(c))
	}
}

func TestBadInput_400BeforeUpstream(t *testing.T) {
	b := setup(t, defaultConfig())
	tests := []struct {
		name, method, path string
		body               []byte
	}{
		{"malformed JSON", "POST", "/v1/tasks", []byte(`{"title": "x"`)},
		{"not an object", "POST", "/v1/tasks", []byte(`[1,2]`)},
		{"unknown field", "POST", "/v1/tasks", []byte(`{"title":"x","owner":"me"}`)},
		{"wrong type", "POST", "/v1/tasks", []byte(`{"title":42}`)},
		{"unknown enum name", "POST", "/v1/tasks", []byte(`{"title":"x","priority":"TASK_PRIORITY_EXTREME"}`)},
		{"invalid UTF-8", "POST", "/v1/tasks", []byte("{\"title\":\"\xff\xfe\"}")},
		{"bad timestamp", "POST", "/v1/tasks", []byte(`{"title":"x","due_date":"tomorrow"}`)},
		{"bad path id", "GET", "/v1/tasks/abc", nil},
		{"invalid UTF-8 in path", "GET", "/v1/tasks/%FF", nil},
		{"bad query enum", "GET", "/v1/tasks?status=DONE", nil},
		{"unknown field in patch", "PATCH", "/v1/tasks/1", []byte(`{"owner":"me"}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, tt.method, b.url+tt.path, bytes.NewReader(tt.body), map[string]string{"Content-Type": "application/json"})
			wantError(t, r, http.StatusBadRequest, codes.InvalidArgument)
		})
	}
	if c := b.rec.all(); len(c) != 0 {
		t.Errorf("upstream saw %d calls, want none: %v", len(c), c[0].method)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	b := setup(t, defaultConfig())
	if r := do(t, http.MethodGet, b.url+"/healthz", nil, nil); r.status != http.StatusOK {
		t.Errorf("/healthz = %d", r.status)
	}
	if r := do(t, http.MethodGet, b.url+"/readyz", nil, nil); r.status != http.StatusOK {
		t.Errorf("/readyz with both serving = %d: %s", r.status, r.body)
	}
	b.health.SetServingStatus(taskv1.TaskService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)
	r := do(t, http.MethodGet, b.url+"/readyz", nil, nil)
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with task NOT_SERVING = %d: %s", r.status, r.body)
	}
	if r.header.Get("Retry-After") == "" {
		t.Error("/readyz 503 without Retry-After")
	}
	var body struct {
		Services map[string]struct{ Status string } `json:"services"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	if got := body.Services["task"].Status; got != "NOT_SERVING" {
		t.Errorf("task = %q, want NOT_SERVING in %s", got, r.body)
	}
	if got := body.Services["user"].Status; got != "SERVING" {
		t.Errorf("user = %q, want SERVING in %s", got, r.body)
	}
	b.stop()
	r = do(t, http.MethodGet, b.url+"/readyz", nil, nil)
	if r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "UNREACHABLE") {
		t.Errorf("/readyz with upstream stopped = %d: %s", r.status, r.body)
	}
	if r := do(t, http.MethodGet, b.url+"/healthz", nil, nil); r.status != http.StatusOK {
		t.Errorf("/healthz with upstream stopped = %d", r.status)
	}
}

func TestOpenAPI_ServedAndListsEveryRoute(t *testing.T) {
	b := setup(t, defaultConfig())
	r := do(t, http.MethodGet, b.url+"/openapi.json", nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("status = %d", r.status)
	}
	if !bytes.Equal(r.body, openapi.JSON) {
		t.Error("/openapi.json differs from api/openapi.JSON")
	}
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	// The REST API's routes, as the OpenAPI document spells their paths:
	// the one list of them (the e2e tests check that the gateway binary
	// serves this same document).
	routes := []struct{ method, path string }{
		{"POST", "/v1/users"},
		{"POST", "/v1/auth/login"},
		{"POST", "/v1/auth/refresh"},
		{"POST", "/v1/auth/logout"},
		{"GET", "/v1/auth/keys"},
		{"GET", "/v1/users/me"},
		{"GET", "/v1/users/{id}"},
		{"GET", "/v1/users"},
		{"PATCH", "/v1/users/{id}"},
		{"POST", "/v1/users/{id}:changePassword"},
		{"POST", "/v1/users/{id}:deactivate"},
		{"POST", "/v1/users/{id}:activate"},
		{"POST", "/v1/tasks"},
		{"GET", "/v1/tasks/{id}"},
		{"GET", "/v1/tasks"},
		{"PATCH", "/v1/tasks/{id}"},
		{"DELETE", "/v1/tasks/{id}"},
		{"POST", "/v1/tasks/{id}:assign"},
		{"GET", "/v1/tasks:stats"},
	}
	for _, route := range routes {
		methods, ok := doc.Paths[route.path]
		if !ok {
			t.Errorf("no path %s", route.path)
			continue
		}
		if _, ok := methods[strings.ToLower(route.method)]; !ok {
			t.Errorf("no %s %s", route.method, route.path)
		}
	}
}

func TestCORS_OffByDefaultAllowListWhenSet(t *testing.T) {
	origin := map[string]string{"Origin": "https://app.example"}
	b := setup(t, defaultConfig())
	if r := do(t, http.MethodGet, b.url+"/v1/tasks/1", nil, origin); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS header sent with CORS off: %v", r.header)
	}
	cfg := defaultConfig()
	cfg.CORSAllowedOrigins = []string{"https://app.example"}
	b = setup(t, cfg)
	if r := do(t, http.MethodGet, b.url+"/v1/tasks/1", nil, origin); r.header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Errorf("allowed origin: headers %v", r.header)
	}
	if r := do(t, http.MethodGet, b.url+"/v1/tasks/1", nil, map[string]string{"Origin": "https://evil.example"}); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("other origin got CORS headers: %v", r.header)
	}
	pre := do(t, http.MethodOptions, b.url+"/v1/tasks", nil, map[string]string{
		"Origin": "https://app.example", "Access-Control-Request-Method": "PATCH", "Access-Control-Request-Headers": "authorization,content-type",
	})
	if pre.status/100 != 2 || pre.header.Get("Access-Control-Allow-Methods") == "" {
		t.Errorf("preflight: %d %v", pre.status, pre.header)
	}
}

func TestSecurityHeaders(t *testing.T) {
	for _, hsts := range []bool{false, true} {
		cfg := defaultConfig()
		cfg.HSTS = hsts
		b := setup(t, cfg)
		tests := []struct {
			name, path string
			header     map[string]string
			noStore    bool
		}{
			{"authenticated API call", "/v1/tasks/1", map[string]string{"Authorization": "Bearer t"}, true},
			{"authenticated error", "/v1/tasks/abc", map[string]string{"Authorization": "Bearer t"}, true},
			{"anonymous document", "/openapi.json", nil, false},
		}
		for _, tt := range tests {
			r := do(t, http.MethodGet, b.url+tt.path, nil, tt.header)
			if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("hsts %v, %s: X-Content-Type-Options = %q, want nosniff", hsts, tt.name, got)
			}
			if got := r.header.Get("Cache-Control") == "no-store"; got != tt.noStore {
				t.Errorf("hsts %v, %s: Cache-Control = %q, want no-store %v", hsts, tt.name, r.header.Get("Cache-Control"), tt.noStore)
			}
			want := ""
			if hsts {
				want = gateway.HSTSValue
			}
			if got := r.header.Get("Strict-Transport-Security"); got != want {
				t.Errorf("hsts %v, %s: Strict-Transport-Security = %q, want %q", hsts, tt.name, got, want)
			}
		}
	}
}
