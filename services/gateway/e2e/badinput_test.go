package e2e

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
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
