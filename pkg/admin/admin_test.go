package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/todo-platform/todo/pkg/admin"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// get returns the status, the Retry-After header and the body of GET url.
func get(t *testing.T, url string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(body)
}

// readyz is the decoded body of /readyz.
type readyz struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

func getReadyz(t *testing.T, srv *httptest.Server) (int, string, readyz) {
	t.Helper()
	code, retry, body := get(t, srv.URL+"/readyz")
	var r readyz
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("/readyz body %q: %v", body, err)
	}
	return code, retry, r
}

func serve(t *testing.T, cfg admin.Config) *httptest.Server {
	t.Helper()
	if cfg.Gatherer == nil {
		cfg.Gatherer = prometheus.NewRegistry()
	}
	srv := httptest.NewServer(admin.Handler(discard(), cfg))
	t.Cleanup(srv.Close)
	return srv
}

func pass(context.Context) error { return nil }

func TestReadyz_AllChecksPassIs200(t *testing.T) {
	srv := serve(t, admin.Config{Checks: map[string]admin.Check{"database": pass, "user-service": pass}})
	code, _, r := getReadyz(t, srv)
	if code != http.StatusOK || r.Status != "ready" || len(r.Checks) != 0 {
		t.Errorf("/readyz = %d %+v, want 200 ready with no failed checks", code, r)
	}
}

func TestReadyz_FailingCheckIs503AndNamed(t *testing.T) {
	srv := serve(t, admin.Config{Checks: map[string]admin.Check{
		"database":     func(context.Context) error { return errors.New("connection refused") },
		"user-service": pass,
	}})
	code, retry, r := getReadyz(t, srv)
	if code != http.StatusServiceUnavailable || r.Status != "not ready" {
		t.Errorf("/readyz = %d %q, want 503 not ready", code, r.Status)
	}
	if want := map[string]string{"database": "connection refused"}; len(r.Checks) != 1 || r.Checks["database"] != want["database"] {
		t.Errorf("failed checks = %v, want %v", r.Checks, want)
	}
	if retry == "" {
		t.Error("503 without Retry-After")
	}
}

func TestReadyz_CheckThatHangsTimesOut(t *testing.T) {
	hang := func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}
	srv := serve(t, admin.Config{CheckTimeout: 50 * time.Millisecond, Checks: map[string]admin.Check{"database": hang, "user-service": pass}})
	code, _, r := getReadyz(t, srv)
	if code != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d, want 503", code)
	}
	if got := r.Checks["database"]; got != context.DeadlineExceeded.Error() {
		t.Errorf("failed checks = %v, want database: %v", r.Checks, context.DeadlineExceeded)
	}
}

func TestReadyz_DefaultCheckTimeoutBoundsEachCheck(t *testing.T) {
	deadlines := make(chan time.Duration, 1)
	srv := serve(t, admin.Config{Checks: map[string]admin.Check{"database": func(ctx context.Context) error {
		d, ok := ctx.Deadline()
		if !ok {
			return errors.New("no deadline")
		}
		deadlines <- time.Until(d)
		return nil
	}}})
	if code, _, r := getReadyz(t, srv); code != http.StatusOK {
		t.Fatalf("/readyz = %d %+v, want 200", code, r)
	}
	if left := <-deadlines; left > admin.DefaultCheckTimeout {
		t.Errorf("check deadline %v away, want at most DefaultCheckTimeout %v", left, admin.DefaultCheckTimeout)
	}
}

func TestReadyz_ReadyHandlerReplacesChecks(t *testing.T) {
	srv := serve(t, admin.Config{
		Checks: map[string]admin.Check{"never run": func(context.Context) error { return errors.New("ran") }},
		Ready:  http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }),
	})
	if code, _, _ := get(t, srv.URL+"/readyz"); code != http.StatusTeapot {
		t.Errorf("/readyz = %d, want the Ready handler's 418", code)
	}
}

func TestHandler_ServesHealthzMetricsAndPprof(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "test_calls_total", Help: "Calls."})
	reg.MustRegister(c)
	c.Add(3)
	srv := serve(t, admin.Config{Gatherer: reg})

	for _, tc := range []struct{ path, want string }{
		{"/healthz", `"status":"ok"`},
		{"/metrics", "test_calls_total 3"},
		{"/debug/pprof/", "goroutine"},
		{"/debug/pprof/goroutine?debug=1", "goroutine profile:"},
		{"/debug/pprof/cmdline", "admin.test"},
	} {
		code, _, body := get(t, srv.URL+tc.path)
		if code != http.StatusOK || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s = %d, body without %q: %.200s", tc.path, code, tc.want, body)
		}
	}
	if code, _, _ := get(t, srv.URL+"/elsewhere"); code != http.StatusNotFound {
		t.Errorf("GET /elsewhere = %d, want 404", code)
	}
}

func TestServe_EmptyAddrIsOff(t *testing.T) {
	if err := admin.Serve(t.Context(), discard(), admin.Config{}, time.Second); err != nil {
		t.Errorf("Serve with no address = %v, want nil", err)
	}
}

func TestRun_AdminPortTakenStopsServe(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	served := false
	err = admin.Run(t.Context(), discard(), admin.Config{Addr: taken.Addr().String(), Gatherer: prometheus.NewRegistry()}, time.Second,
		func(ctx context.Context) error {
			<-ctx.Done() // cancelled because the admin port failed
			served = true
			return nil
		})
	if err == nil || !strings.Contains(err.Error(), "admin port") {
		t.Errorf("Run = %v, want the admin port's error", err)
	}
	if !served {
		t.Error("serve did not run")
	}
}

func TestGRPCHealth_RequiresServing(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := health.NewServer()
	gs := grpc.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })

	check := admin.GRPCHealth(conn, "todo.v1.Svc")
	hs.SetServingStatus("todo.v1.Svc", healthpb.HealthCheckResponse_SERVING)
	if err := check(t.Context()); err != nil {
		t.Errorf("SERVING: check = %v, want nil", err)
	}
	hs.SetServingStatus("todo.v1.Svc", healthpb.HealthCheckResponse_NOT_SERVING)
	if err := check(t.Context()); err == nil || !strings.Contains(err.Error(), "NOT_SERVING") {
		t.Errorf("NOT_SERVING: check = %v, want an error naming NOT_SERVING", err)
	}
	if err := admin.GRPCHealth(conn, "todo.v1.Unknown")(t.Context()); err == nil {
		t.Error("unknown service: check = nil, want an error")
	}
}

func TestWatch_SetsEachAnswer(t *testing.T) {
	answers := []error{errors.New("down"), nil, errors.New("down again")}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got := make(chan bool)
	done := make(chan struct{})
	i := 0
	go func() {
		defer close(done)
		admin.Watch(ctx, discard(), time.Millisecond, time.Second, func(context.Context) error {
			err := answers[i%len(answers)]
			i++
			return err
		}, func(ok bool) {
			select {
			case got <- ok:
			case <-ctx.Done():
			}
		})
	}()
	for n, want := range []bool{false, true, false} {
		if ok := <-got; ok != want {
			t.Errorf("answer %d: set(%v), want set(%v)", n, ok, want)
		}
	}
	cancel()
	<-done
}
