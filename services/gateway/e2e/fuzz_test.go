package e2e

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/todo-platform/todo/pkg/grpcclient"
	"github.com/todo-platform/todo/services/gateway/internal/gateway"
)

// FuzzGateway_TaskBodies sends fuzzed JSON bodies to POST /v1/tasks and
// PATCH /v1/tasks/{id} through the real gateway handler (in process) in
// front of the real user and task services on a real PostgreSQL. Whatever
// the body, the answer is no 5xx and valid JSON; an error is the error
// shape (code, message, details).
func FuzzGateway_TaskBodies(f *testing.F) {
	s := startStack(f)
	anon := s.anon()
	signUp(f, anon, "fuzz", "correct horse battery")
	token := logIn(f, anon, "fuzz", "correct horse battery")
	created := anon.as(token).ok("POST", "/v1/tasks", obj{"title": "fuzzed"})
	id := str(f, created, "id")
	if strings.Contains(id, "/") {
		f.Fatalf("task id %q", id)
	}

	userConn, err := grpcclient.Dial(s.user.Addr())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = userConn.Close() })
	taskConn, err := grpcclient.Dial(s.task.Addr())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = taskConn.Close() })
	h, err := gateway.New(f.Context(), slog.New(slog.DiscardHandler), gateway.Config{
		MaxBodyBytes: 1 << 20, DefaultTimeout: 10 * time.Second, MaxTimeout: 10 * time.Second, ReadyTimeout: time.Second,
	}, userConn, taskConn)
	if err != nil {
		f.Fatal(err)
	}

	for _, seed := range []string{
		`{"title": "x"}`, `{"title": "x", "description": "d", "priority": "TASK_PRIORITY_HIGH", "due_date": "2030-01-01T00:00:00Z"}`,
		`{"title": "a\u0000b"}`, `{"title": "\ud800"}`, `{"title": "\udc00\ud800"}`, "{\"title\": \"\xff\xfe\"}",
		`{"title": "` + strings.Repeat("x", 100000) + `"}`, `{"title": "x", "title": "y"}`, `{"title": 1e999}`,
		`{"due_date": "2030-02-01"}`, `{"assigned_to": "abc"}`, `{"status": 99}`, `{"id": "-1"}`, `{"etag": "\u0000"}`,
		`{"update_mask": "title,\u0000"}`, `[]`, `null`, ``, `{`, `"x"`, `{"title": {"nested": []}}`,
	} {
		f.Add(false, []byte(seed))
		f.Add(true, []byte(seed))
	}
	f.Fuzz(func(t *testing.T, patch bool, body []byte) {
		method, path := http.MethodPost, "/v1/tasks"
		if patch {
			method, path = http.MethodPatch, "/v1/tasks/"+id
		}
		req := httptest.NewRequestWithContext(t.Context(), method, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: status %d: %s", method, path, body, rec.Code, rec.Body)
		}
		var got any
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("%s %s %q: status %d, body not JSON (%v): %q", method, path, body, rec.Code, err, rec.Body)
		}
		if rec.Code == http.StatusOK {
			return
		}
		e, ok := got.(map[string]any)
		if !ok {
			t.Fatalf("status %d: error body is no object: %s", rec.Code, rec.Body)
		}
		_, hasCode := e["code"].(float64)
		_, hasMessage := e["message"].(string)
		_, hasDetails := e["details"].([]any)
		if !hasCode || !hasMessage || !hasDetails {
			t.Fatalf("status %d: error body without code, message and details: %s", rec.Code, rec.Body)
		}
	})
}
