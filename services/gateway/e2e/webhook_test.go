package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/todo-platform/todo/pkg/pgtest"
)

// TestWebhook_DeliveredAfterTheTaskServiceRestarts: Ann registers a
// receiver (loopback: WEBHOOK_ALLOW_PRIVATE=true) and creates a task; the
// receiver refuses the first attempts; the task service is stopped and
// started again, the receiver starts accepting, and the committed change
// still arrives, signed the Standard Webhooks way.
func TestWebhook_DeliveredAfterTheTaskServiceRestarts(t *testing.T) {
	s := startStackOn(t, pgtest.New(t), "WEBHOOK_ALLOW_PRIVATE=true", "WEBHOOK_RETRY_BASE=200ms")
	anon := s.anon()
	const pw = "correct horse battery"
	signUp(t, anon, "ann", pw)
	ann := anon.as(logIn(t, anon, "ann", pw))

	var (
		mu       sync.Mutex
		accept   bool
		attempts int
		bodies   [][]byte
		headers  []http.Header
	)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		attempts++
		if !accept {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		bodies, headers = append(bodies, body), append(headers, r.Header.Clone())
	}))
	defer rcv.Close()
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	secret := "whsec_" + base64.StdEncoding.EncodeToString(raw)
	hook := ann.ok("POST", "/v1/webhooks", obj{"url": rcv.URL + "/todo", "secret": secret})
	if _, ok := hook["secret"]; ok {
		t.Errorf("the secret came back: %v", hook)
	}
	ann.ok("POST", "/v1/tasks", obj{"title": "Hooked"})
	waitFor(t, 60*time.Second, "a refused attempt", func() bool { mu.Lock(); defer mu.Unlock(); return attempts > 0 })

	if err := s.task.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	accept = true
	mu.Unlock()
	s.task.Start(t)
	waitFor(t, 60*time.Second, "the delivery after the restart", func() bool { mu.Lock(); defer mu.Unlock(); return len(bodies) > 0 })

	mu.Lock()
	body, header := bodies[0], headers[0]
	mu.Unlock()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(body, header); err != nil {
		t.Fatalf("signature: %v", err)
	}
	var event struct {
		Type string `json:"type"`
		Data struct {
			Type string `json:"type"`
			Task struct {
				Title string `json:"title"`
			} `json:"task"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &event); err != nil {
		t.Fatal(err)
	}
	if event.Type != "task.changed" || event.Data.Type != "TASK_CHANGE_TYPE_CREATED" || event.Data.Task.Title != "Hooked" {
		t.Errorf("event %s", body)
	}
	list := ann.ok("GET", "/v1/webhooks", nil)
	if ws := list["webhooks"].([]any); len(ws) != 1 || ws[0].(map[string]any)["last_error"] != "" {
		t.Errorf("after the delivery: %v", list)
	}
}
