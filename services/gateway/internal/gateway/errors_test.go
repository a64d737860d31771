package gateway_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/todo-platform/todo/pkg/grpcclient"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	"github.com/todo-platform/todo/services/gateway/internal/gateway"
)

// stub is an upstream that answers every RPC of every service the same
// way, whatever the request (grpc.UnknownServiceHandler), so these tests do
// not depend on the services' messages.
type stub struct {
	mu      sync.Mutex
	calls   []string
	reply   proto.Message // sent when err is nil
	err     error
	header  metadata.MD
	trailer metadata.MD
}

func (s *stub) handle(_ any, stream grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(stream)
	s.mu.Lock()
	s.calls = append(s.calls, method)
	reply, err, header, trailer := s.reply, s.err, s.header, s.trailer
	s.mu.Unlock()
	if err := stream.RecvMsg(&emptypb.Empty{}); err != nil {
		return err
	}
	if header != nil {
		_ = stream.SetHeader(header)
	}
	if trailer != nil {
		stream.SetTrailer(trailer)
	}
	if err != nil {
		return err
	}
	return stream.SendMsg(reply)
}

func (s *stub) set(reply proto.Message, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reply, s.err = reply, err
}

func (s *stub) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// serveStub starts the stub and the gateway handler in front of it; it
// returns the handler, the stub and a function that stops the stub.
func serveStub(t testing.TB, cfg gateway.Config) (http.Handler, *stub, func()) {
	t.Helper()
	st := &stub{reply: &taskv1.ListTasksResponse{}}
	srv := grpc.NewServer(grpc.UnknownServiceHandler(st.handle))
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
	h, err := gateway.New(t.Context(), slog.New(slog.NewJSONHandler(io.Discard, nil)), cfg, conn, conn)
	if err != nil {
		t.Fatal(err)
	}
	return h, st, srv.Stop
}

// stubURL serves the handler over HTTP and returns its base URL.
func stubURL(t *testing.T, cfg gateway.Config) (string, *stub, func()) {
	t.Helper()
	h, st, stop := serveStub(t, cfg)
	hts := httptest.NewServer(h)
	t.Cleanup(hts.Close)
	return hts.URL, st, stop
}

// libraryText is parser text that no error may carry (as written).
var libraryText = []string{
	"strconv", "parsing time", "2006-01-02T15:04:05", "proto:", "protojson", "unexpected EOF",
	"type mismatch", "invalid syntax", "invalid character", "cannot unmarshal", "json:",
	"syntax error", "(line ", "reflect", "%!", "rpc error",
}

// errorBody is a JSON error body.
type errorBody struct {
	Code    codes.Code `json:"code"`
	Message string     `json:"message"`
	Details []struct {
		Type            string `json:"@type"`
		FieldViolations []struct {
			Field       string `json:"field"`
			Description string `json:"description"`
		} `json:"field_violations"`
		RetryDelay string `json:"retry_delay"`
	} `json:"details"`
}

// wantShape checks the JSON error shape and clean text of an error
// response and returns the decoded body.
func wantShape(t testing.TB, status int, header http.Header, body []byte) errorBody {
	t.Helper()
	var e errorBody
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatalf("status %d: body is not a JSON object: %q", status, body)
	}
	for _, k := range []string{"code", "message", "details"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("status %d: no %q in %s", status, k, body)
		}
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("status %d: %v: %s", status, err, body)
	}
	if ct := header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	texts := []string{e.Message}
	for _, d := range e.Details {
		for _, v := range d.FieldViolations {
			texts = append(texts, v.Field, v.Description)
		}
	}
	for _, s := range texts {
		if !utf8.ValidString(s) {
			t.Errorf("text %q is not UTF-8", s)
		}
		for _, bad := range libraryText {
			if strings.Contains(s, bad) {
				t.Errorf("text %q contains library text %q", s, bad)
			}
		}
	}
	for k := range header {
		if strings.HasPrefix(strings.ToLower(k), "grpc-") {
			t.Errorf("response header %s", k)
		}
	}
	return e
}

func (e errorBody) violated(field string) bool {
	for _, d := range e.Details {
		if d.Type != "type.googleapis.com/google.rpc.BadRequest" {
			continue
		}
		for _, v := range d.FieldViolations {
			if v.Field == field {
				return true
			}
		}
	}
	return false
}

func TestBadInput_FieldViolationBeforeAnyCall(t *testing.T) {
	url, st, _ := stubURL(t, defaultConfig())
	tests := []struct {
		name, method, path, body, field string
	}{
		{"malformed", "POST", "/v1/tasks", `{"title": "x"`, "task"},
		{"wrong type", "POST", "/v1/tasks", `{"title": 42}`, "task.title"},
		{"bad enum", "POST", "/v1/tasks", `{"priority": "URGENT"}`, "task.priority"},
		{"bad time", "POST", "/v1/tasks", `{"due_date": "2030-02-01"}`, "task.due_date"},
		{"duplicate", "POST", "/v1/tasks", `{"title": "a", "title": "b"}`, "task.title"},
		{"lone surrogate", "POST", "/v1/tasks", `{"title": "\ud800"}`, "task.title"},
		{"invalid UTF-8", "POST", "/v1/users", "{\"email\": \"\xff@example.com\"}", "email"},
		{"unknown", "POST", "/v1/auth/login", `{"user": "ann"}`, "user"},
		{"string for an integer", "POST", "/v1/tasks/1:assign", `{"assignee_id": "bob"}`, "assignee_id"},
		{"path", "GET", "/v1/tasks/abc", ``, "id"},
		{"nested path", "PATCH", "/v1/users/abc", `{"full_name": "x"}`, "user.id"},
		{"query int", "GET", "/v1/tasks?page_size=abc", ``, "page_size"},
		{"query enum", "GET", "/v1/tasks?status=DONE", ``, "status"},
		{"query time", "GET", "/v1/tasks?updated_after=2030-02-01", ``, "updated_after"},
		{"query bool", "GET", "/v1/users?is_active=yes", ``, "is_active"},
		{"query text", "DELETE", "/v1/tasks/1?etag=%FF", ``, "etag"},
		{"query escape", "GET", "/v1/tasks?page_token=%", ``, "page_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			r := do(t, tt.method, url+tt.path, body, map[string]string{"Content-Type": "application/json"})
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", r.status, r.body)
			}
			e := wantShape(t, r.status, r.header, r.body)
			if e.Code != codes.InvalidArgument || !e.violated(tt.field) || !strings.Contains(e.Message, tt.field) {
				t.Errorf("want INVALID_ARGUMENT naming %q: %s", tt.field, r.body)
			}
		})
	}
	if c := st.seen(); len(c) != 0 {
		t.Errorf("the upstream saw %v", c)
	}
	// Every violation at once.
	r := do(t, "GET", url+"/v1/tasks?page_size=x&status=y&due_before=z", nil, nil)
	e := wantShape(t, r.status, r.header, r.body)
	for _, f := range []string{"page_size", "status", "due_before"} {
		if !e.violated(f) {
			t.Errorf("no violation of %s: %s", f, r.body)
		}
	}
}

func TestContentType_415UnlessJSON(t *testing.T) {
	url, st, _ := stubURL(t, defaultConfig())
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "application/json; charset=utf-16", "text/json"} {
		r := do(t, "POST", url+"/v1/tasks", strings.NewReader(`{"title":"x"}`), map[string]string{"Content-Type": ct})
		if r.status != http.StatusUnsupportedMediaType {
			t.Errorf("%s: status %d, want 415: %s", ct, r.status, r.body)
			continue
		}
		if e := wantShape(t, r.status, r.header, r.body); !e.violated("Content-Type") || !strings.Contains(e.Message, "application/json") {
			t.Errorf("%s: %s", ct, r.body)
		}
	}
	if c := st.seen(); len(c) != 0 {
		t.Errorf("the upstream saw %v", c)
	}
	for _, ct := range []string{"application/json", "application/json;charset=UTF-8", ""} {
		r := do(t, "POST", url+"/v1/tasks", strings.NewReader(`{"title":"x"}`), map[string]string{"Content-Type": ct})
		if r.status != http.StatusOK {
			t.Errorf("%q: status %d: %s", ct, r.status, r.body)
		}
	}
	// No body, no question: any Content-Type.
	if r := do(t, "POST", url+"/v1/auth/logout", nil, map[string]string{"Content-Type": "text/plain"}); r.status != http.StatusOK {
		t.Errorf("bodiless POST with text/plain: %d %s", r.status, r.body)
	}
}

func TestHeaderLimit_431JSONUpToTheServerBound(t *testing.T) {
	cfg := defaultConfig()
	cfg.MaxHeaderBytes = 8 << 10
	h, st, _ := serveStub(t, cfg)
	srv := httptest.NewUnstartedServer(h)
	srv.Config.MaxHeaderBytes = cfg.ServerMaxHeaderBytes()
	srv.Start()
	t.Cleanup(srv.Close)

	for _, n := range []int{9 << 10, 1 << 20, 4 << 20} {
		r := do(t, "GET", srv.URL+"/v1/tasks", nil, map[string]string{"X-Large": strings.Repeat("a", n)})
		if r.status != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("%d-byte header: status %d, want 431: %.200s", n, r.status, r.body)
		}
		e := wantShape(t, r.status, r.header, r.body)
		if e.Code != codes.ResourceExhausted || !strings.Contains(string(r.body), "X-Large") {
			t.Errorf("%s", r.body)
		}
	}
	if c := st.seen(); len(c) != 0 {
		t.Errorf("the upstream saw %v", c)
	}
	if r := do(t, "GET", srv.URL+"/v1/tasks", nil, map[string]string{"X-Large": strings.Repeat("a", 6<<10)}); r.status != http.StatusOK {
		t.Errorf("6 KiB header under an 8 KiB limit: %d %s", r.status, r.body)
	}
	if got, want := (gateway.Config{}).ServerMaxHeaderBytes(), gateway.DefaultMaxHeaderBytes+4<<20; got != want {
		t.Errorf("ServerMaxHeaderBytes() = %d, want %d", got, want)
	}
}

func TestRetryAfter_On429And503(t *testing.T) {
	url, st, stop := stubURL(t, defaultConfig())
	withRetry := func(code codes.Code, d time.Duration) error {
		s, err := status.New(code, "slow down").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(d)})
		if err != nil {
			t.Fatal(err)
		}
		return s.Err()
	}
	tests := []struct {
		name       string
		err        error
		httpStatus int
		retryAfter string
		retryInfo  bool // kept in the body
	}{
		{"429 with RetryInfo, rounded up", withRetry(codes.ResourceExhausted, 2500*time.Millisecond), 429, "3", true},
		{"429 with a short RetryInfo", withRetry(codes.ResourceExhausted, 10*time.Millisecond), 429, "1", true},
		{"429 without RetryInfo", status.Error(codes.ResourceExhausted, "quota"), 429, "1", false},
		{"503 with RetryInfo", withRetry(codes.Unavailable, 7*time.Second), 503, "7", true},
		{"503 without RetryInfo", status.Error(codes.Unavailable, "connection refused at 10.0.0.1"), 503, "1", false},
		{"409 has none", status.Error(codes.Aborted, "etag"), 409, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st.set(nil, tt.err)
			r := do(t, "GET", url+"/v1/tasks", nil, nil)
			if r.status != tt.httpStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tt.httpStatus, r.body)
			}
			if got := r.header.Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			e := wantShape(t, r.status, r.header, r.body)
			if strings.Contains(e.Message, "10.0.0.1") {
				t.Errorf("503 message leaks the upstream's: %q", e.Message)
			}
			hasRetryInfo := false
			for _, d := range e.Details {
				hasRetryInfo = hasRetryInfo || d.Type == "type.googleapis.com/google.rpc.RetryInfo"
			}
			if hasRetryInfo != tt.retryInfo {
				t.Errorf("RetryInfo in the body: %v, want %v: %s", hasRetryInfo, tt.retryInfo, r.body)
			}
		})
	}
	// A 413 is RESOURCE_EXHAUSTED too, but not worth a retry.
	r := do(t, "POST", url+"/v1/tasks", strings.NewReader(`{"title":"`+strings.Repeat("a", 8192)+`"}`), nil)
	if r.status != http.StatusRequestEntityTooLarge || r.header.Get("Retry-After") != "" {
		t.Errorf("413: status %d, Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	wantShape(t, r.status, r.header, r.body)
	// The upstream gone.
	stop()
	r = do(t, "GET", url+"/v1/tasks", nil, nil)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "1" {
		t.Errorf("upstream down: status %d, Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
}

func TestNoGRPCMetadata_InHeadersOrTrailers(t *testing.T) {
	url, st, _ := stubURL(t, defaultConfig())
	st.header = metadata.Pairs("x-internal", "secret", "content-type", "application/grpc")
	st.trailer = metadata.Pairs("x-trailer", "secret")
	for _, err := range []error{nil, status.Error(codes.NotFound, "no such task")} {
		st.set(&taskv1.ListTasksResponse{}, err)
		req, rerr := http.NewRequestWithContext(t.Context(), "GET", url+"/v1/tasks", nil)
		if rerr != nil {
			t.Fatal(rerr)
		}
		req.Header.Set("TE", "trailers")
		resp, rerr := http.DefaultClient.Do(req)
		if rerr != nil {
			t.Fatal(rerr)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		for k, v := range resp.Header {
			if strings.HasPrefix(strings.ToLower(k), "grpc-") || strings.Contains(strings.Join(v, ","), "secret") {
				t.Errorf("error %v: header %s: %v", err, k, v)
			}
		}
		if len(resp.Trailer) > 0 {
			t.Errorf("error %v: trailers %v", err, resp.Trailer)
		}
	}
}

// FuzzGateway_NoBadInputIs5xx sends arbitrary bodies and query strings
// through the whole handler to an upstream that refuses every call with
// NOT_FOUND: the answer is never a 5xx (which an unsendable request, such
// as one with invalid UTF-8 in a string, would be), and every error the
// gateway makes has the JSON shape and clean text.
func FuzzGateway_NoBadInputIs5xx(f *testing.F) {
	for _, s := range []string{
		`{"title":"x"}`, `{"title": "x"`, `{"title":42}`, `{"due_date":"2030-02-01"}`, `{"title":"a","title":"b"}`,
		"{\"title\":\"\xff\"}", `{"title":"\ud800"}`, `{"owner":1}`, `[]`, `null`, ``, `{"login":"\u0000"}`,
	} {
		f.Add([]byte(s), "page_size=10")
	}
	f.Add([]byte(`{}`), "page_size=abc&status=DONE&due_before=2030-02-01&page_token=%FF&order_by=%zz")
	h, st, _ := serveStub(f, defaultConfig())
	st.set(nil, status.Error(codes.NotFound, "stub"))
	f.Fuzz(func(t *testing.T, body []byte, query string) {
		for _, target := range []struct{ method, path string }{
			{"POST", "/v1/tasks"}, {"PATCH", "/v1/tasks/1"}, {"POST", "/v1/auth/login"}, {"POST", "/v1/tasks/1:assign"},
			{"GET", "/v1/tasks"}, {"DELETE", "/v1/tasks/1"},
		} {
			req := httptest.NewRequestWithContext(t.Context(), target.method, target.path, bytes.NewReader(body))
			req.URL.RawQuery = query
			req.RequestURI = target.path + "?" + query
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s %s?%q with %q: status %d: %s", target.method, target.path, query, body, rec.Code, rec.Body)
			}
			wantShape(t, rec.Code, rec.Header(), rec.Body.Bytes())
		}
	})
}
