package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"

	"github.com/todo-platform/todo/pkg/pgtest"
)

// journey runs a short version of the quickstart (sign-ups, a failed and
// good logins, tasks created, read, listed and assigned) and returns the
// strings no metric label may carry: ids, emails and tokens.
func journey(t *testing.T, s *stack) (annToken, taskID, bobID string, secrets []string) {
	t.Helper()
	anon := s.anon()
	const pw = "correct horse battery"
	annID := signUp(t, anon, "ann", pw)
	bobID = signUp(t, anon, "bob", pw)
	if r := anon.do("POST", "/v1/auth/login", obj{"login": "ann", "password": "wrong password!"}); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong password: status %d, want 401: %s", r.status, r.raw)
	}
	annToken = logIn(t, anon, "ann", pw)
	ann := anon.as(annToken)
	created := ann.ok("POST", "/v1/tasks", obj{"title": "Write the report"})
	if inner, ok := created["task"].(obj); ok {
		created = inner
	}
	taskID = str(t, created, "id")
	ann.ok("GET", "/v1/tasks/"+taskID, nil)
	ann.ok("GET", "/v1/tasks", nil)
	ann.ok("POST", "/v1/tasks/"+taskID+":assign", obj{"assignee_id": bobID})
	return annToken, taskID, bobID, []string{annID, bobID, taskID, "ann@example.com", "bob@example.com", annToken}
}

// scrape returns the metric families an admin port's /metrics serves.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/metrics: %s", addr, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s/metrics: %v", addr, err)
	}
	return fams
}

// sum adds up the samples (counter or gauge values, histogram counts) of
// family name whose labels include want.
func sum(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
	var total float64
	found := false
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Histogram != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			total += m.GetUntyped().GetValue()
		}
	}
	return total, found
}

// digits matches a label value that is a bare number, such as an id.
var digits = regexp.MustCompile(`^[0-9]+$`)

// idSegment matches a path with a number for a segment (/v1/tasks/12).
var idSegment = regexp.MustCompile(`/[0-9]+(/|:|$)`)

// TestMetrics_AfterJourney scrapes each process's admin port after the
// journey: call counters by method and code, latency histograms with
// observations, pool gauges, hashing and cache metrics, and no label value
// carrying an id, email or token. The public port serves neither /metrics
// nor pprof. The metrics and labels deploy/observability's alerting rules
// and dashboard select are among those exported (checkObservability).
func TestMetrics_AfterJourney(t *testing.T) {
	s := startStack(t)
	token, taskID, _, secrets := journey(t, s)

	type want struct {
		name   string
		labels map[string]string
		min    float64
	}
	exported := map[string]map[string]bool{} // series name → label names, over the three processes
	grpcOK := func(method string) map[string]string {
		return map[string]string{"grpc_method": method, "grpc_code": "OK"}
	}
	common := []want{
		{"go_goroutines", nil, 1},
		{"process_cpu_seconds_total", nil, 0},
	}
	service := []want{
		{"pgxpool_total_connections", nil, 1},
		{"pgxpool_connections", map[string]string{"state": "idle"}, 0},
		{"pgxpool_max_connections", nil, 1},
		{"pgxpool_acquires_total", nil, 1},
		{"pgxpool_acquire_wait_seconds_total", nil, 0},
		{"pgxpool_canceled_acquires_total", nil, 0},
		{"auth_token_cache_hits_total", nil, 0},
		{"auth_token_cache_misses_total", nil, 1},
	}
	for _, c := range []struct {
		name, addr string
		wants      []want
	}{
		{"user-service", s.user.AdminAddr(), append(append([]want{
			{"grpc_server_handled_total", grpcOK("CreateUser"), 2},
			{"grpc_server_handled_total", map[string]string{"grpc_method": "Login", "grpc_code": "Unauthenticated"}, 1},
			{"grpc_server_handled_total", grpcOK("BatchGetUsers"), 1},
			{"grpc_server_handling_seconds", map[string]string{"grpc_method": "Login"}, 1},
			{"user_password_hash_slots", nil, 1},
			{"user_password_hash_slots_in_use", nil, 0},
			{"user_password_hash_waiting", nil, 0},
			{"user_logins_failed_total", nil, 1},
			{"user_login_throttle_decisions_total", map[string]string{"decision": "allowed"}, 2},
			{"user_refresh_token_reuse_total", nil, 0},
		}, service...), common...)},
		{"task-service", s.task.AdminAddr(), append(append([]want{
			{"grpc_server_handled_total", grpcOK("CreateTask"), 1},
			{"grpc_server_handled_total", grpcOK("GetTask"), 1},
			{"grpc_server_handling_seconds", map[string]string{"grpc_method": "ListTasks"}, 1},
			{"grpc_client_handled_total", grpcOK("GetPublicKeys"), 1},
			{"grpc_client_handled_total", grpcOK("BatchGetUsers"), 1},
			{"grpc_client_handling_seconds", map[string]string{"grpc_method": "BatchGetUsers"}, 1},
			{"task_tasks_created_total", nil, 1},
		}, service...), common...)},
		{"gateway", s.gateway.AdminAddr(), append([]want{
			{"http_requests_total", map[string]string{"method": "get", "route": "/v1/tasks/{id}", "code": "200"}, 1},
			{"http_requests_total", map[string]string{"method": "post", "route": "/v1/auth/login", "code": "401"}, 1},
			{"http_request_duration_seconds", map[string]string{"route": "/v1/tasks"}, 2},
			{"grpc_client_handled_total", grpcOK("CreateTask"), 1},
			{"grpc_client_handling_seconds", map[string]string{"grpc_method": "Login"}, 1},
		}, common...)},
	} {
		t.Run(c.name, func(t *testing.T) {
			fams := scrape(t, c.addr)
			series(exported, fams)
			for _, w := range c.wants {
				got, ok := sum(fams, w.name, w.labels)
				if !ok {
					t.Errorf("%s%v: not exported; the family has %v", w.name, w.labels, fams[w.name].GetMetric())
				} else if got < w.min {
					t.Errorf("%s%v = %v, want at least %v", w.name, w.labels, got, w.min)
				}
			}
			for name, f := range fams {
				for _, m := range f.GetMetric() {
					for _, l := range m.GetLabel() {
						v := l.GetValue()
						if l.GetName() != "le" && l.GetName() != "code" && l.GetName() != "quantile" && digits.MatchString(v) {
							t.Errorf("%s{%s=%q}: a bare number, like an id", name, l.GetName(), v)
						}
						if strings.Contains(v, "@") || strings.HasPrefix(v, "eyJ") {
							t.Errorf("%s{%s=%q}: looks like an email or a token", name, l.GetName(), v)
						}
						if idSegment.MatchString(v) {
							t.Errorf("%s{%s=%q}: a path with an id in it", name, l.GetName(), v)
						}
						for _, sec := range secrets {
							if !digits.MatchString(sec) && strings.Contains(v, sec) {
								t.Errorf("%s{%s=%q} carries %q", name, l.GetName(), v, sec)
							}
						}
					}
				}
			}
			for _, path := range []string{"/healthz", "/readyz", "/debug/pprof/"} {
				if code := httpStatus(t, "http://"+c.addr+path); code != http.StatusOK {
					t.Errorf("admin %s: status %d, want 200", path, code)
				}
			}
		})
	}
	for _, path := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/cmdline"} {
		if code := httpStatus(t, s.baseURL+path); code == http.StatusOK {
			t.Errorf("public port %s: status 200, want it not served", path)
		}
	}
	t.Run("deploy/observability", func(t *testing.T) { checkObservability(t, exported) })
	t.Run("trace context without export", func(t *testing.T) { traceContextJoins(t, s, token, taskID) })
}

// traceContextJoins sends a request carrying a traceparent to a stack that
// exports no spans: the response still carries that trace's traceparent,
// and the gateway's and the task service's log lines for it its trace_id.
func traceContextJoins(t *testing.T, s *stack, token, taskID string) {
	const traceID = "0af7651916cd43dd8448eb211c80319c"
	r := s.anon().as(token).do("GET", "/v1/tasks/"+taskID, nil,
		"traceparent", "00-"+traceID+"-b7ad6b7169203331-01", "X-Request-Id", "no-export-1")
	if r.status != http.StatusOK {
		t.Fatalf("get: status %d: %s", r.status, r.raw)
	}
	if got := r.header.Get("traceparent"); !strings.HasPrefix(got, "00-"+traceID+"-") {
		t.Errorf("response traceparent = %q, want one of trace %s", got, traceID)
	}
	for name, logs := range map[string]func() string{"gateway": s.gateway.Process().Logs, "task-service": s.task.Process().Logs} {
		deadline := time.Now().Add(10 * time.Second)
		for !hasJoinedLine(logs(), traceID, "no-export-1") {
			if time.Now().After(deadline) {
				t.Errorf("%s: no log line with trace_id %s and request_id no-export-1", name, traceID)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// hasJoinedLine reports whether a line of logs carries both traceID and
// requestID.
func hasJoinedLine(logs, traceID, requestID string) bool {
	for line := range strings.Lines(logs) {
		if strings.Contains(line, `"trace_id":"`+traceID+`"`) && strings.Contains(line, `"request_id":"`+requestID+`"`) {
			return true
		}
	}
	return false
}

func httpStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// TestReadyz_FollowsTheDatabase stops PostgreSQL under the running stack:
// the services' admin /readyz (and the gateway's) answer 503 within a few
// seconds, and 200 again once it is back, without a restart.
func TestReadyz_FollowsTheDatabase(t *testing.T) {
	db, cluster := pgtest.NewPrivate(t)
	s := startStackOn(t, db)
	admins := map[string]string{"user-service": s.user.AdminAddr(), "task-service": s.task.AdminAddr(), "gateway": s.gateway.AdminAddr()}
	waitStatus := func(want int) {
		t.Helper()
		for name, addr := range admins {
			deadline := time.Now().Add(20 * time.Second)
			for {
				code := httpStatus(t, "http://"+addr+"/readyz")
				if code == want {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s /readyz: status %d, want %d", name, code, want)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	waitStatus(http.StatusOK)
	if err := cluster.Restart(t.Context(), func() { waitStatus(http.StatusServiceUnavailable) }); err != nil {
		t.Fatal(err)
	}
	waitStatus(http.StatusOK)
	for name, addr := range admins {
		if code := httpStatus(t, "http://"+addr+"/healthz"); code != http.StatusOK {
			t.Errorf("%s /healthz: status %d, want 200 throughout", name, code)
		}
	}
}

// receiver is an in-process OTLP/gRPC trace receiver.
type receiver struct {
	collectortrace.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans map[string][]*tracepb.Span // by service.name
}

func (r *receiver) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		svc := ""
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				svc = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			r.spans[svc] = append(r.spans[svc], ss.GetSpans()...)
		}
	}
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

// inTrace returns the spans of service in trace traceID (hex).
func (r *receiver) inTrace(service, traceID string) []*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*tracepb.Span
	for _, sp := range r.spans[service] {
		if fmt.Sprintf("%x", sp.GetTraceId()) == traceID {
			out = append(out, sp)
		}
	}
	return out
}

// TestTracing_OneTraceAcrossThreeProcesses sends a REST request carrying a
// traceparent and collects, with an OTLP receiver started here, spans of
// that trace from the gateway, the task service and the user service,
// SQL round trips included; the three processes' log lines for the request
// carry its trace_id, and the response its traceparent and request id.
func TestTracing_OneTraceAcrossThreeProcesses(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &receiver{spans: map[string][]*tracepb.Span{}}
	gs := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(gs, rec)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)

	s := startStackOn(t, pgtest.New(t),
		"OTEL_TRACES_EXPORTER=otlp", "OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://"+lis.Addr().String(), "OTEL_EXPORTER_OTLP_INSECURE=true",
		"OTEL_BSP_SCHEDULE_DELAY=100")
	token, taskID, bobID, _ := journey(t, s)

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	r := s.anon().as(token).do("POST", "/v1/tasks/"+taskID+":assign", obj{"assignee_id": bobID},
		"traceparent", "00-"+traceID+"-00f067aa0ba902b7-01", "X-Request-Id", "trace-test-1")
	if r.status != http.StatusOK {
		t.Fatalf("assign: status %d: %s", r.status, r.raw)
	}
	if got := r.header.Get("traceparent"); !strings.HasPrefix(got, "00-"+traceID+"-") {
		t.Errorf("response traceparent = %q, want one of trace %s", got, traceID)
	}
	if got := r.header.Get("X-Request-Id"); got != "trace-test-1" {
		t.Errorf("response X-Request-Id = %q", got)
	}

	deadline := time.Now().Add(30 * time.Second)
	for {
		gw, task, user := rec.inTrace("gateway", traceID), rec.inTrace("task-service", traceID), rec.inTrace("user-service", traceID)
		sql := 0
		for _, sp := range append(append([]*tracepb.Span(nil), task...), user...) {
			for _, a := range sp.GetAttributes() {
				if strings.HasPrefix(a.GetKey(), "db.") {
					sql++
					break
				}
			}
		}
		if len(gw) > 0 && len(task) > 0 && len(user) > 0 && sql > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("spans of trace %s: gateway %d, task-service %d, user-service %d, SQL %d; want each > 0", traceID, len(gw), len(task), len(user), sql)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for name, p := range map[string]string{"gateway": s.gateway.Process().Logs(), "task-service": s.task.Process().Logs(), "user-service": s.user.Process().Logs()} {
		found := false
		for line := range strings.Lines(p) {
			if strings.Contains(line, `"trace_id":"`+traceID+`"`) && strings.Contains(line, `"request_id":"trace-test-1"`) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no log line with trace_id %s and request_id trace-test-1", name, traceID)
		}
	}
}
