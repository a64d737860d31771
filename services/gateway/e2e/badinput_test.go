package e2e

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
)

// TestBadInput_IsA4xxWithJSONError sends malformed and hostile requests
// through the gateway to the real services: each gets the expected 4xx
// with a JSON error body (code, message, details), never a 5xx.
func TestBadInput_IsA4xxWithJSONError(t *testing.T) {
	s := startStack(t)
	anon := s.anon()
	const pw = "correct horse battery"
	signUp(t, anon, "ann", pw)
	ann := anon.as(logIn(t, anon, "ann", pw))
	taskID := str(t, ann.ok("POST", "/v1/tasks", obj{"title": "a task"}), "id")

	twoMiB := append(append([]byte(`{"title":"`), bytes.Repeat([]byte("a"), 2<<20)...), '"', '}')
	tests := []struct {
		name   string
		c      *client
		method string
		path   string
		body   any
		want   int
		field  string // a field violation the details must name, if any
	}{
		{"malformed JSON", ann, "POST", "/v1/tasks", []byte(`{"title": "x"`), 400, ""},
		{"JSON array instead of object", ann, "POST", "/v1/tasks", []byte(`["x"]`), 400, ""},
		{"wrong type", ann, "POST", "/v1/tasks", []byte(`{"title": 42}`), 400, ""},
		{"wrong type for id", ann, "POST", "/v1/tasks/" + taskID + ":assign", []byte(`{"assignee_id": "bob"}`), 400, ""},
		{"unknown field", ann, "POST", "/v1/tasks", []byte(`{"title": "x", "owner": "me"}`), 400, ""},
		{"unknown enum name", ann, "POST", "/v1/tasks", []byte(`{"title": "x", "priority": "TASK_PRIORITY_EXTREME"}`), 400, ""},
		{"unknown enum number", ann, "POST", "/v1/tasks", []byte(`{"title": "x", "priority": 99}`), 400, "task.priority"},
		{"invalid UTF-8", ann, "POST", "/v1/tasks", []byte("{\"title\": \"\xff\xfe\xfd\"}"), 400, ""},
		{"blank title", ann, "POST", "/v1/tasks", []byte(`{"title": "   "}`), 400, "task.title"},
		{"title too long", ann, "POST", "/v1/tasks", []byte(`{"title": "` + strings.Repeat("x", 501) + `"}`), 400, "task.title"},
		{"page_size too large", ann, "GET", "/v1/tasks?page_size=5000", nil, 400, "page_size"},
		{"bad filter enum", ann, "GET", "/v1/tasks?status=DONE", nil, 400, ""},
		{"bad page token", ann, "GET", "/v1/tasks?page_token=garbage", nil, 400, ""},
		{"bad order_by", ann, "GET", "/v1/tasks?order_by=" + "title%3Bdrop", nil, 400, ""},
		{"bad id in path", ann, "GET", "/v1/tasks/abc", nil, 400, ""},
		{"negative id", ann, "GET", "/v1/tasks/-1", nil, 400, "id"},
		{"bad email on sign-up", anon, "POST", "/v1/users", []byte(`{"email": "not-an-email", "username": "zed", "password": "correct horse battery"}`), 400, "email"},
		{"short password on sign-up", anon, "POST", "/v1/users", []byte(`{"email": "zed@example.com", "username": "zed", "password": "short"}`), 400, "password"},
		{"2 MiB body", ann, "POST", "/v1/tasks", twoMiB, 413, ""},
		{"2 MiB body, no length", ann, "POST", "/v1/tasks", io.MultiReader(bytes.NewReader(twoMiB)), 413, ""},
		{"missing token", anon, "GET", "/v1/tasks", nil, 401, ""},
		{"missing token on me", anon, "GET", "/v1/users/me", nil, 401, ""},
		{"garbage token", anon.as("garbage"), "GET", "/v1/tasks", nil, 401, ""},
		{"forged-looking token", anon.as("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."), "GET", "/v1/tasks", nil, 401, ""},
		{"wrong password", anon, "POST", "/v1/auth/login", []byte(`{"login": "ann", "password": "not the password"}`), 401, ""},
		{"unknown route", ann, "GET", "/v1/nothing", nil, 404, ""},
		{"unknown task", ann, "GET", "/v1/tasks/999999", nil, 404, ""},
		{"method not allowed", ann, "PUT", "/v1/tasks/" + taskID, []byte(`{}`), 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.c.offContract().do(tt.method, tt.path, tt.body)
			if r.status >= 500 {
				t.Fatalf("status %d (5xx): %s", r.status, r.raw)
			}
			body := r.wantError(t, tt.want)
			if tt.field == "" {
				return
			}
			for _, d := range body["details"].([]any) {
				for _, v := range asList(d.(obj)["field_violations"]) {
					if v.(obj)["field"] == tt.field {
						return
					}
				}
			}
			t.Errorf("no field violation for %q in %s", tt.field, r.raw)
		})
	}

	// Client-sent Grpc-Metadata headers never carry identity: a request with
	// no Authorization but a Grpc-Metadata-Authorization is unauthenticated.
	tok := logIn(t, anon, "ann", pw)
	r := anon.do("GET", "/v1/tasks", nil, "Grpc-Metadata-Authorization", "Bearer "+tok)
	r.wantError(t, http.StatusUnauthorized)
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// libraryText is text of the parsers behind the gateway (strconv, time,
// protojson, encoding/json, grpc-gateway), matched as written, that must
// never reach a client: an error message is for a person calling the API,
// not for a Go programmer.
var libraryText = []string{
	"strconv", "parsing time", "2006-01-02T15:04:05", "proto:", "protojson", "unexpected EOF",
	"type mismatch", "invalid syntax", "invalid character", "cannot unmarshal", "json:",
	"syntax error", "(line ", "reflect", "%!", "Go value", "[]byte", "int64 field", "value out of range",
}

// wantViolation requires the JSON error shape with httpStatus and gRPC code,
// a google.rpc.BadRequest detail with a violation of field (the request
// field's proto path; "" for the request as a whole), a message and a
// description free of library text, and hints (case-insensitive) somewhere in
// the message or the violation's description.
func wantViolation(t *testing.T, r reply, httpStatus int, code codes.Code, field string, hints ...string) {
	t.Helper()
	body := r.wantError(t, httpStatus)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if got := body["code"]; got != float64(code) {
		t.Errorf("code = %v, want %d (%s): %s", got, code, code, r.raw)
	}
	msg, _ := body["message"].(string)
	var desc string
	found := false
	for _, d := range asList(body["details"]) {
		d, _ := d.(obj)
		if d["@type"] != "type.googleapis.com/google.rpc.BadRequest" {
			continue
		}
		for _, v := range asList(d["field_violations"]) {
			v, _ := v.(obj)
			if f, _ := v["field"].(string); f == field && !found {
				found = true
				desc, _ = v["description"].(string)
			}
		}
	}
	if !found {
		t.Errorf("no google.rpc.BadRequest violation of field %q in %s", field, r.raw)
	}
	if desc == "" {
		t.Errorf("the violation of %q has no description: %s", field, r.raw)
	}
	if field != "" && !strings.Contains(msg, field) {
		t.Errorf("message %q does not name the field %q", msg, field)
	}
	for _, s := range []string{msg, desc} {
		for _, bad := range libraryText {
			if strings.Contains(s, bad) {
				t.Errorf("error text %q contains library text %q", s, bad)
			}
		}
		if !utf8.ValidString(s) {
			t.Errorf("error text %q is not valid UTF-8", s)
		}
	}
	for _, h := range hints {
		if !strings.Contains(strings.ToLower(msg+" "+desc), strings.ToLower(h)) {
			t.Errorf("error text %q / %q does not mention %q", msg, desc, h)
		}
	}
	wantNoGRPCHeaders(t, r)
}

// wantNoGRPCHeaders requires that no gRPC metadata leaked into the HTTP
// response as headers or trailers.
func wantNoGRPCHeaders(t *testing.T, r reply) {
	t.Helper()
	for k := range r.header {
		if strings.HasPrefix(strings.ToLower(k), "grpc-") {
			t.Errorf("response header %s: %v", k, r.header[k])
		}
	}
}

// TestBadInput_GatewayErrorsNameTheField sends what the gateway itself must
// refuse before any service sees the request: JSON that does not parse or
// does not fit the message, and path and query values that do not fit their
// fields. Each answer is 400 INVALID_ARGUMENT in the JSON error shape with a
// google.rpc.BadRequest violation naming the request field as the services
// do (the proto path: "task.title" for a field of the task in the body of
// CreateTask, "assignee_id" for a field of a body that is the whole request,
// "page_size" for a query parameter), in words a person understands. None of
// them writes anything.
func TestBadInput_GatewayErrorsNameTheField(t *testing.T) {
	s := startStack(t)
	anon := s.anon()
	const pw = "correct horse battery"
	signUp(t, anon, "ann", pw)
	ann := anon.as(logIn(t, anon, "ann", pw))
	created := ann.ok("POST", "/v1/tasks", obj{"title": "a task", "description": "as it was"})
	taskID := str(t, created, "id")
	taskPath := "/v1/tasks/" + taskID
	etag := str(t, ann.ok("GET", taskPath, nil), "etag")

	const ts = "2030-02-01T00:00:00Z"
	tests := []struct {
		name, method, path string
		body               []byte
		field              string
		hints              []string
	}{
		// Bodies that are not JSON, or not one JSON object.
		{"malformed JSON", "POST", "/v1/tasks", []byte(`{"title": "x"`), "task", []string{"JSON"}},
		{"malformed JSON in a field", "POST", "/v1/tasks", []byte(`{"title": "x", "description": tru}`), "task.description", []string{"JSON"}},
		{"JSON array instead of object", "POST", "/v1/tasks", []byte(`["x"]`), "task", []string{"object"}},
		{"JSON null instead of object", "POST", "/v1/tasks", []byte(`null`), "task", []string{"object"}},
		{"two JSON values", "POST", "/v1/tasks", []byte(`{"title": "x"} {"title": "y"}`), "task", []string{"JSON"}},
		{"whole-request body not an object", "POST", "/v1/auth/login", []byte(`"ann"`), "", []string{"object"}},
		// Values of the wrong JSON type.
		{"number for a string", "POST", "/v1/tasks", []byte(`{"title": 42}`), "task.title", []string{"string"}},
		{"object for a string", "POST", "/v1/tasks", []byte(`{"title": {"text": "x"}}`), "task.title", []string{"string"}},
		{"string for an integer", "POST", taskPath + ":assign", []byte(`{"assignee_id": "bob"}`), "assignee_id", []string{"integer"}},
		{"fraction for an integer", "POST", taskPath + ":assign", []byte(`{"assignee_id": 1.5}`), "assignee_id", []string{"integer"}},
		{"integer out of range", "POST", taskPath + ":assign", []byte(`{"assignee_id": "99999999999999999999"}`), "assignee_id", []string{"integer"}},
		{"string for a string on sign-up", "POST", "/v1/users", []byte(`{"email": 1, "username": "zed", "password": "correct horse battery"}`), "email", []string{"string"}},
		{"string for a timestamp", "POST", "/v1/tasks", []byte(`{"title": "x", "due_date": 20300201}`), "task.due_date", []string{ts}},
		// Enums.
		{"unknown enum name", "POST", "/v1/tasks", []byte(`{"title": "x", "priority": "TASK_PRIORITY_EXTREME"}`), "task.priority", []string{"TASK_PRIORITY_HIGH"}},
		{"enum of the wrong type", "POST", "/v1/tasks", []byte(`{"title": "x", "status": true}`), "task.status", []string{"TASK_STATUS_COMPLETED"}},
		{"enum number out of range", "POST", "/v1/tasks", []byte(`{"title": "x", "priority": 1e20}`), "task.priority", []string{"TASK_PRIORITY_HIGH"}},
		// Timestamps.
		{"date without time", "POST", "/v1/tasks", []byte(`{"title": "x", "due_date": "2030-02-01"}`), "task.due_date", []string{"RFC 3339", ts}},
		{"timestamp without zone", "POST", "/v1/tasks", []byte(`{"title": "x", "due_date": "2030-02-01T00:00:00"}`), "task.due_date", []string{ts}},
		{"not a timestamp", "POST", "/v1/tasks", []byte(`{"title": "x", "due_date": "tomorrow"}`), "task.due_date", []string{ts}},
		// Keys.
		{"duplicate key", "POST", "/v1/tasks", []byte(`{"title": "a", "title": "b"}`), "task.title", []string{"more than once"}},
		{"duplicate key by JSON name", "POST", "/v1/tasks", []byte(`{"title": "a", "due_date": "` + ts + `", "dueDate": "` + ts + `"}`), "task.due_date", []string{"more than once"}},
		{"duplicate key in a whole-request body", "POST", "/v1/auth/login", []byte(`{"login": "ann", "login": "bob", "password": "x"}`), "login", []string{"more than once"}},
		{"unknown field", "POST", "/v1/tasks", []byte(`{"title": "x", "owner": "me"}`), "task.owner", []string{"unknown field"}},
		{"unknown field on sign-up", "POST", "/v1/users", []byte(`{"email": "zed@example.com", "username": "zed", "password": "correct horse battery", "admin": true}`), "admin", []string{"unknown field"}},
		// Text that is not Unicode.
		{"invalid UTF-8", "POST", "/v1/tasks", []byte("{\"title\": \"\xff\xfe\xfd\"}"), "task.title", []string{"UTF-8"}},
		{"invalid UTF-8 in a later field", "POST", "/v1/tasks", []byte("{\"title\": \"ok\", \"description\": \"caf\xe9\"}"), "task.description", []string{"UTF-8"}},
		{"lone surrogate", "POST", "/v1/tasks", []byte(`{"title": "\ud800"}`), "task.title", []string{"surrogate"}},
		{"lone low surrogate", "POST", "/v1/tasks", []byte(`{"title": "a\udc00b"}`), "task.title", []string{"surrogate"}},
		{"lone surrogate in a password", "POST", "/v1/auth/login", []byte(`{"login": "ann", "password": "x\ud800"}`), "password", []string{"surrogate"}},
		// PATCH bodies.
		{"patch: bad timestamp", "PATCH", taskPath, []byte(`{"due_date": "2030-02-01"}`), "task.due_date", []string{ts}},
		{"patch: unknown field", "PATCH", taskPath, []byte(`{"owner": "me"}`), "task.owner", []string{"unknown field"}},
		{"patch: duplicate key", "PATCH", taskPath, []byte(`{"title": "a", "title": "b"}`), "task.title", []string{"more than once"}},
		{"patch: lone surrogate", "PATCH", taskPath, []byte(`{"title": "\ud800", "etag": "` + etag + `"}`), "task.title", []string{"surrogate"}},
		{"patch user: wrong type", "PATCH", "/v1/users/1", []byte(`{"full_name": ["Ann"]}`), "user.full_name", []string{"string"}},
		// Path parameters.
		{"word for a path id", "GET", "/v1/tasks/abc", nil, "id", []string{"integer"}},
		{"huge path id", "GET", "/v1/tasks/99999999999999999999", nil, "id", []string{"integer"}},
		{"bad path id on delete", "DELETE", "/v1/tasks/1.5", nil, "id", []string{"integer"}},
		{"bad path id on assign", "POST", "/v1/tasks/abc:assign", []byte(`{"assignee_id": "1"}`), "id", []string{"integer"}},
		{"bad nested path id", "PATCH", "/v1/tasks/abc", []byte(`{"title": "x"}`), "task.id", []string{"integer"}},
		{"bad user id", "GET", "/v1/users/abc", nil, "id", []string{"integer"}},
		{"invalid UTF-8 in a path id", "GET", "/v1/tasks/%FF", nil, "id", []string{"integer"}},
		// Query parameters.
		{"word for page_size", "GET", "/v1/tasks?page_size=abc", nil, "page_size", []string{"integer"}},
		{"page_size out of range", "GET", "/v1/tasks?page_size=3000000000", nil, "page_size", []string{"integer"}},
		{"page_size twice", "GET", "/v1/tasks?page_size=1&page_size=2", nil, "page_size", []string{"once"}},
		{"page_size by both names", "GET", "/v1/tasks?page_size=1&pageSize=2", nil, "page_size", []string{"once"}},
		{"bad status filter", "GET", "/v1/tasks?status=DONE", nil, "status", []string{"TASK_STATUS_COMPLETED"}},
		{"bad status number", "GET", "/v1/tasks?status=99", nil, "status", []string{"TASK_STATUS_COMPLETED"}},
		{"bad priority among good", "GET", "/v1/tasks?priority=TASK_PRIORITY_HIGH&priority=urgent", nil, "priority", []string{"TASK_PRIORITY_URGENT"}},
		{"date for due_before", "GET", "/v1/tasks?due_before=2030-02-01", nil, "due_before", []string{"RFC 3339", ts}},
		{"word for assigned_to", "GET", "/v1/tasks?assigned_to=bob", nil, "assigned_to", []string{"integer"}},
		{"invalid UTF-8 in page_token", "GET", "/v1/tasks?page_token=%FF", nil, "page_token", []string{"UTF-8"}},
		{"bad percent-encoding", "GET", "/v1/tasks?page_size=%zz", nil, "page_size", []string{"percent"}},
		{"bad is_active", "GET", "/v1/users?is_active=maybe", nil, "is_active", []string{"true", "false"}},
		{"invalid UTF-8 in request_id", "POST", "/v1/tasks?request_id=%FF", []byte(`{"title": "x"}`), "request_id", []string{"UTF-8"}},
		// Unknown query parameters, and messages a person understands.
		{"misspelt filter", "GET", "/v1/tasks?statuss=TASK_STATUS_COMPLETED", nil, "statuss", []string{"is not a query parameter", "status, priority"}},
		{"query on a method without one", "POST", "/v1/auth/login?_=123", []byte(`{"login": "ann", "password": "x"}`), "_", []string{"takes none"}},
		{"UNSPECIFIED status filter", "GET", "/v1/tasks?status=TASK_STATUS_UNSPECIFIED", nil, "status", []string{"status: TASK_STATUS_UNSPECIFIED is not a status to filter by"}},
		{"blank title", "POST", "/v1/tasks", []byte(`{"title": "   "}`), "task.title", []string{"task.title: must contain a character that is not white space"}},
		{"nested too deeply", "POST", "/v1/tasks", []byte(`{"title": "x", "bogus": ` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`), "task.bogus", []string{"nested too deeply"}},
		{"bad query with a good body", "PATCH", taskPath + "?update_mask=title&update_mask=description", []byte(`{"title": "x"}`), "update_mask", []string{"once"}},
	}
	before := len(list(t, ann.ok("GET", "/v1/tasks", nil), "tasks"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.body != nil {
				body = tt.body
			}
			r := ann.offContract().do(tt.method, tt.path, body)
			wantViolation(t, r, http.StatusBadRequest, codes.InvalidArgument, tt.field, tt.hints...)
			// No rule text with numbers, and no list offering a value the
			// server refuses.
			for _, bad := range []string{"not be in list", "regex", "UNSPECIFIED, "} {
				if strings.Contains(string(r.raw), bad) {
					t.Errorf("error text has %q: %s", bad, r.raw)
				}
			}
		})
	}

	// Nothing was written: no task created, the task unchanged, no user.
	if after := len(list(t, ann.ok("GET", "/v1/tasks", nil), "tasks")); after != before {
		t.Errorf("%d tasks after the bad requests, want %d", after, before)
	}
	now := ann.ok("GET", taskPath, nil)
	if got := str(t, now, "etag"); got != etag {
		t.Errorf("the task changed (etag %s, was %s): %v", got, etag, now)
	}
	if got := str(t, now, "description"); got != "as it was" {
		t.Errorf("description = %q, want it unchanged", got)
	}
	anon.do("POST", "/v1/auth/login", obj{"login": "zed", "password": pw}).wantError(t, http.StatusUnauthorized)
}

// TestContentType_JSONOrNothing: a request with a body must say it is JSON
// (application/json, any letter case, with or without a UTF-8 charset) or
// say nothing (a body without Content-Type is read as JSON); anything else,
// curl -d's default application/x-www-form-urlencoded included, is 415 with
// the JSON error shape, and the message says what to send. Requests without
// a body are not concerned.
func TestContentType_JSONOrNothing(t *testing.T) {
	s := startStack(t)
	anon := s.anon()
	const pw = "correct horse battery"
	signUp(t, anon, "ann", pw)
	ann := anon.as(logIn(t, anon, "ann", pw))
	before := len(list(t, ann.ok("GET", "/v1/tasks", nil), "tasks"))

	refused := []string{
		"text/plain",
		"text/plain; charset=utf-8",
		"application/x-www-form-urlencoded", // curl -d without -H
		"multipart/form-data; boundary=x",
		"application/xml",
		"application/json; charset=iso-8859-1",
		"application/jsonx",
		"not a media type",
	}
	for _, ct := range refused {
		t.Run("refused "+ct, func(t *testing.T) {
			r := ann.offContract().do("POST", "/v1/tasks", []byte(`{"title": "sent as `+ct+`"}`), "Content-Type", ct)
			wantViolation(t, r, http.StatusUnsupportedMediaType, codes.InvalidArgument, "Content-Type", "application/json")
		})
	}
	// The login form a curl user types first: the hint names the fix.
	r := anon.offContract().do("POST", "/v1/auth/login", []byte(`{"login":"ann","password":"`+pw+`"}`), "Content-Type", "application/x-www-form-urlencoded")
	wantViolation(t, r, http.StatusUnsupportedMediaType, codes.InvalidArgument, "Content-Type", "Content-Type: application/json")
	if after := len(list(t, ann.ok("GET", "/v1/tasks", nil), "tasks")); after != before {
		t.Fatalf("%d tasks after refused bodies, want %d", after, before)
	}

	accepted := []string{"application/json", "application/json; charset=utf-8", "Application/JSON; Charset=UTF-8"}
	for _, ct := range accepted {
		t.Run("accepted "+ct, func(t *testing.T) {
			r := ann.do("POST", "/v1/tasks", []byte(`{"title": "sent as `+ct+`"}`), "Content-Type", ct)
			if r.status != http.StatusOK {
				t.Fatalf("status %d, want 200: %s", r.status, r.raw)
			}
			wantNoGRPCHeaders(t, r)
		})
	}
	// No Content-Type header at all.
	req, err := http.NewRequestWithContext(t.Context(), "POST", s.baseURL+"/v1/tasks", strings.NewReader(`{"title": "no content type"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+ann.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("POST without Content-Type: status %d, want 200", resp.StatusCode)
	}
	// Bodiless requests need no Content-Type: a GET with text/plain and an
	// empty POST with the form type.
	if r := ann.do("GET", "/v1/tasks", nil, "Content-Type", "text/plain"); r.status != http.StatusOK {
		t.Errorf("GET with text/plain and no body: %d %s", r.status, r.raw)
	}
	if r := ann.offContract().do("POST", "/v1/auth/logout", nil, "Content-Type", "application/x-www-form-urlencoded"); r.status == http.StatusUnsupportedMediaType {
		t.Errorf("bodiless POST with the form type: %d %s", r.status, r.raw)
	}
	// Unknown routes stay 404 whatever the Content-Type.
	r = ann.offContract().do("POST", "/v1/nothing", []byte(`x`), "Content-Type", "text/plain")
	r.wantError(t, http.StatusNotFound)
}

// TestOversizedHeaders_431JSON: headers above the gateway's limit (64 KiB by
// default) get 431 in the JSON error shape, not net/http's plain text, up to
// the server's outer bound, which is far above a 1 MB header.
func TestOversizedHeaders_431JSON(t *testing.T) {
	s := startStack(t)
	anon := s.anon()
	for _, n := range []int{100 << 10, 1 << 20} {
		r := anon.do("GET", "/v1/tasks", nil, "X-Big", strings.Repeat("a", n))
		wantViolation(t, r, http.StatusRequestHeaderFieldsTooLarge, codes.ResourceExhausted, "X-Big", "largest")
		if r.header.Get("X-Request-Id") == "" {
			t.Error("431 without X-Request-Id")
		}
	}
	// Under the limit, a large header is fine (here: unauthenticated, 401).
	r := anon.do("GET", "/v1/tasks", nil, "X-Big", strings.Repeat("a", 32<<10))
	r.wantError(t, http.StatusUnauthorized)
}

// TestRetryAfter_On429: the login throttle's 429 carries a Retry-After
// header, whole seconds from the google.rpc.RetryInfo detail it also keeps.
func TestRetryAfter_On429(t *testing.T) {
	s := startStack(t, "LOGIN_MAX_FAILURES_PER_ACCOUNT=2")
	anon := s.anon()
	signUp(t, anon, "ann", "correct horse battery")
	var r reply
	for range 5 {
		r = anon.do("POST", "/v1/auth/login", obj{"login": "ann", "password": "wrong password!"})
		if r.status == http.StatusTooManyRequests {
			break
		}
	}
	r.wantError(t, http.StatusTooManyRequests)
	ra := r.header.Get("Retry-After")
	secs, err := strconv.Atoi(ra)
	if err != nil || secs < 1 {
		t.Fatalf("Retry-After = %q, want a positive number of seconds", ra)
	}
	var delay string
	for _, d := range asList(r.body["details"]) {
		if d, _ := d.(obj); d["@type"] == "type.googleapis.com/google.rpc.RetryInfo" {
			delay, _ = d["retry_delay"].(string)
		}
	}
	if delay == "" {
		t.Fatalf("no RetryInfo detail in %s", r.raw)
	}
	dur, err := time.ParseDuration(delay)
	if err != nil {
		t.Fatalf("retry_delay %q: %v", delay, err)
	}
	if want := int(math.Ceil(dur.Seconds())); secs != want {
		t.Errorf("Retry-After = %d, want %d (RetryInfo %s)", secs, want, delay)
	}
	wantNoGRPCHeaders(t, r)
}

// TestNoGRPCMetadataInResponses: neither answers nor errors carry gRPC
// metadata as Grpc-Metadata-* headers or trailers, also when the client
// asks for trailers.
func TestNoGRPCMetadataInResponses(t *testing.T) {
	s := startStack(t)
	anon := s.anon()
	const pw = "correct horse battery"
	signUp(t, anon, "ann", pw)
	ann := anon.as(logIn(t, anon, "ann", pw))
	for _, r := range []reply{
		ann.do("POST", "/v1/tasks", obj{"title": "x"}, "TE", "trailers"),
		ann.do("GET", "/v1/tasks", nil, "TE", "trailers"),
		ann.do("GET", "/v1/users/me", nil),
		ann.do("GET", "/v1/tasks/999999", nil, "TE", "trailers"),
		anon.do("GET", "/v1/tasks", nil),
		anon.do("GET", "/v1/auth/keys", nil),
	} {
		wantNoGRPCHeaders(t, r)
	}
	req, err := http.NewRequestWithContext(t.Context(), "GET", s.baseURL+"/v1/tasks", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+ann.token)
	req.Header.Set("TE", "trailers")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if len(resp.Trailer) > 0 {
		t.Errorf("trailers: %v", resp.Trailer)
	}
}
