package webhook_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/todo-platform/todo/pkg/jobs"
	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/pkg/testkit"
	"github.com/todo-platform/todo/services/task/internal/task"
	"github.com/todo-platform/todo/services/task/internal/taskstore"
	"github.com/todo-platform/todo/services/task/internal/webhook"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// delivery is one request the receiver got.
type delivery struct {
	header http.Header
	body   []byte
}

// receiver is an HTTP endpoint that answers with the statuses it is given
// in turn (then 200), and keeps every request.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	got      []delivery
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, delivery{req.Header.Clone(), body})
		code := http.StatusOK
		if len(r.statuses) > 0 {
			code, r.statuses = r.statuses[0], r.statuses[1:]
		}
		r.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(r.Close)
	return r
}

// requests returns the requests so far.
func (r *receiver) requests() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// waitFor polls until cond holds or a deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type bundle struct {
	db     *pgtest.DB
	store  *taskstore.Store
	svc    *task.Service
	a      task.Caller
	secret string
}

func setup(t *testing.T) *bundle {
	t.Helper()
	db := pgtest.New(t)
	store := taskstore.New(db.TaskApp)
	svc := task.NewService(store, nil)
	svc.SetWebhookGuard(webhook.Guard(true))
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	return &bundle{db: db, store: store, svc: svc, a: task.Caller{UserID: db.SeedUser(t, pgtest.User{Name: "a", Active: true})},
		secret: "whsec_" + base64.StdEncoding.EncodeToString(raw)}
}

// start runs the task service's River client with the delivery worker
// until stop is called (or the test ends).
func (bn *bundle) start(t *testing.T, cfg webhook.Config) (stop func()) {
	t.Helper()
	w := webhook.NewWorker(bn.store, cfg)
	r, err := jobs.Start(testkit.Context(t), slog.New(slog.DiscardHandler), bn.db.TaskApp.Pool, jobs.Config{
		Schema: "river_task", Register: w.Register, Queues: map[string]int{webhook.Queue: 2}, PollInterval: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := r.Stop(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func (bn *bundle) create(t *testing.T, title string) task.Task {
	t.Helper()
	tk, err := bn.store.Create(testkit.Context(t), bn.a, task.NewTask{Title: title, Status: task.StatusPending, Priority: task.PriorityMedium}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// verify checks d's Standard Webhooks signature and returns its body.
func verify(t *testing.T, secret string, d delivery) map[string]any {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(d.body, d.header); err != nil {
		t.Fatalf("signature does not verify: %v (headers %v)", err, d.header)
	}
	var body map[string]any
	if err := json.Unmarshal(d.body, &body); err != nil {
		t.Fatal(err)
	}
	return body
}

func TestDelivery_SignedEventReachesTheReceiver(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	rcv := newReceiver(t)
	if _, err := bn.svc.CreateWebhook(testkit.Context(t), bn.a, rcv.URL+"/hook", bn.secret); err != nil {
		t.Fatal(err)
	}
	bn.start(t, webhook.Config{AllowPrivate: true})
	tk := bn.create(t, "hooked")
	waitFor(t, "the delivery", func() bool { return len(rcv.requests()) >= 1 })
	body := verify(t, bn.secret, rcv.requests()[0])
	data, _ := body["data"].(map[string]any)
	taskObj, _ := data["task"].(map[string]any)
	if body["type"] != webhook.EventType || data["type"] != "TASK_CHANGE_TYPE_CREATED" || taskObj["title"] != "hooked" || data["task_id"] != jsonID(tk.ID) {
		t.Errorf("body %v", body)
	}
	// A wrong secret does not verify it.
	other, _ := standardwebhooks.NewWebhook("whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 32)))
	if err := other.Verify(rcv.requests()[0].body, rcv.requests()[0].header); err == nil {
		t.Error("the signature verifies with another secret")
	}
}

func jsonID(id int64) string {
	b, _ := json.Marshal(id)
	return string(b)
}

func TestDelivery_RetriedUntilTheReceiverAnswers(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	rcv := newReceiver(t, http.StatusInternalServerError, http.StatusInternalServerError)
	if _, err := bn.svc.CreateWebhook(testkit.Context(t), bn.a, rcv.URL, bn.secret); err != nil {
		t.Fatal(err)
	}
	bn.start(t, webhook.Config{AllowPrivate: true, RetryBase: 10 * time.Millisecond})
	bn.create(t, "retried")
	waitFor(t, "the third attempt", func() bool { return len(rcv.requests()) >= 3 })
	got := rcv.requests()
	for i, d := range got[:3] {
		verify(t, bn.secret, d)
		if d.header.Get("webhook-id") != got[0].header.Get("webhook-id") {
			t.Errorf("attempt %d has webhook-id %q, the first %q", i+1, d.header.Get("webhook-id"), got[0].header.Get("webhook-id"))
		}
	}
	// The success cleared the failure state.
	waitFor(t, "the webhook to be healthy again", func() bool {
		ws, err := bn.svc.ListWebhooks(testkit.Context(t), bn.a)
		return err == nil && len(ws) == 1 && ws[0].FailingSince == nil && ws[0].LastError == ""
	})
}

// TestDelivery_OutboxSurvivesAStoppedService: a change committed while no
// worker runs (the service stopped between commit and delivery) is
// delivered once one runs again; a change that rolled back (a dry run)
// enqueues nothing.
func TestDelivery_OutboxSurvivesAStoppedService(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := testkit.Context(t)
	rcv := newReceiver(t)
	if _, err := bn.svc.CreateWebhook(ctx, bn.a, rcv.URL, bn.secret); err != nil {
		t.Fatal(err)
	}
	stop := bn.start(t, webhook.Config{AllowPrivate: true})
	stop()
	if _, err := bn.store.DryRun().Create(ctx, bn.a, task.NewTask{Title: "dry", Status: task.StatusPending, Priority: task.PriorityMedium}, nil); err != nil {
		t.Fatal(err)
	}
	bn.create(t, "while stopped")
	var jobsQueued int
	if err := bn.db.Owner.QueryRow(ctx, `SELECT count(*) FROM river_task.river_job WHERE kind = 'webhook_delivery'`).Scan(&jobsQueued); err != nil || jobsQueued != 1 {
		t.Fatalf("delivery jobs queued: %d, %v; want 1 (the committed change, not the dry run)", jobsQueued, err)
	}
	if n := len(rcv.requests()); n != 0 {
		t.Fatalf("%d deliveries with no worker running", n)
	}
	bn.start(t, webhook.Config{AllowPrivate: true})
	waitFor(t, "the delivery after the restart", func() bool { return len(rcv.requests()) >= 1 })
	body := verify(t, bn.secret, rcv.requests()[0])
	if data, _ := body["data"].(map[string]any); data["task"].(map[string]any)["title"] != "while stopped" {
		t.Errorf("delivered %v", body)
	}
}

// TestDelivery_DisabledAfterContinuousFailure: a receiver that always
// fails gets its webhook disabled once it failed for longer than
// DisableAfter, and ListWebhooks says why.
func TestDelivery_DisabledAfterContinuousFailure(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	rcv := newReceiver(t, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500)
	if _, err := bn.svc.CreateWebhook(testkit.Context(t), bn.a, rcv.URL, bn.secret); err != nil {
		t.Fatal(err)
	}
	bn.start(t, webhook.Config{AllowPrivate: true, RetryBase: 10 * time.Millisecond, DisableAfter: time.Microsecond})
	bn.create(t, "doomed")
	var w task.Webhook
	waitFor(t, "the webhook to be disabled", func() bool {
		ws, err := bn.svc.ListWebhooks(testkit.Context(t), bn.a)
		if err != nil || len(ws) != 1 {
			return false
		}
		w = ws[0]
		return w.DisabledAt != nil
	})
	if w.FailingSince == nil || w.LastError != "answered 500 Internal Server Error" || w.DisabledReason == "" {
		t.Errorf("disabled webhook %+v", w)
	}
	// A disabled webhook gets no new deliveries queued.
	bn.create(t, "after")
	var queued int
	if err := bn.db.Owner.QueryRow(testkit.Context(t), `SELECT count(*) FROM river_task.river_job WHERE kind = 'webhook_delivery'`).Scan(&queued); err != nil || queued != 1 {
		t.Errorf("delivery jobs: %d, %v; want only the first change's", queued, err)
	}
}

// TestDelivery_GuardRefusesPrivateAddressAtConnect: without
// WEBHOOK_ALLOW_PRIVATE the worker does not connect to a loopback
// receiver, whatever the registration let through; the webhook records
// why.
func TestDelivery_GuardRefusesPrivateAddressAtConnect(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	rcv := newReceiver(t)
	if _, err := bn.svc.CreateWebhook(testkit.Context(t), bn.a, rcv.URL, bn.secret); err != nil {
		t.Fatal(err)
	}
	bn.start(t, webhook.Config{RetryBase: time.Hour})
	bn.create(t, "ssrf")
	waitFor(t, "the refused attempt", func() bool {
		ws, err := bn.svc.ListWebhooks(testkit.Context(t), bn.a)
		return err == nil && len(ws) == 1 && ws[0].LastError != ""
	})
	ws, _ := bn.svc.ListWebhooks(testkit.Context(t), bn.a)
	if want := "refused to connect to 127.0.0.1: private, link-local or loopback address"; ws[0].LastError != want {
		t.Errorf("last error %q, want %q", ws[0].LastError, want)
	}
	if n := len(rcv.requests()); n != 0 {
		t.Errorf("the receiver got %d requests", n)
	}
}

func TestGuard(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t)
	for _, tc := range []struct {
		url          string
		allowPrivate bool
		ok           bool
	}{
		{"https://93.184.216.34/hook", false, true},
		{"https://127.0.0.1/hook", false, false},
		{"https://[::1]:8443/hook", false, false},
		{"https://10.1.2.3/hook", false, false},
		{"https://192.168.0.10/hook", false, false},
		{"https://169.254.169.254/latest/meta-data", false, false},
		{"https://[fe80::1]/hook", false, false},
		{"https://0.0.0.0/hook", false, false},
		{"https://100.64.0.1/hook", false, false},
		{"http://93.184.216.34/hook", false, false},
		{"http://127.0.0.1:8080/hook", false, false},
		{"http://127.0.0.1:8080/hook", true, true},
		{"https://10.1.2.3/hook", true, true},
		{"http://10.1.2.3/hook", true, false},
		{"ftp://93.184.216.34/hook", true, false},
		{"ftp://unresolvable.invalid/hook", true, false},
		{"https://user:pw@93.184.216.34/hook", false, false},
		{"/relative", true, false},
		{"https://", true, false},
	} {
		err := webhook.Guard(tc.allowPrivate)(ctx, tc.url)
		if err != nil && strings.HasPrefix(tc.url, "ftp:") && !strings.Contains(err.Error(), "https://") {
			t.Errorf("Guard(%v)(%q) = %v, want the scheme named before any lookup", tc.allowPrivate, tc.url, err)
		}
		if tc.ok && err != nil {
			t.Errorf("Guard(%v)(%q) = %v, want nil", tc.allowPrivate, tc.url, err)
		}
		if !tc.ok && !errors.Is(err, task.ErrInvalidWebhookURL) {
			t.Errorf("Guard(%v)(%q) = %v, want ErrInvalidWebhookURL", tc.allowPrivate, tc.url, err)
		}
	}
}
