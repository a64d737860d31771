package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/todo-platform/todo/pkg/logging"
)

func TestNew_FormatAndLevel(t *testing.T) {
	for _, tc := range []struct {
		level, format string
		wantJSON      bool
		wantDebug     bool
		wantInfo      bool
	}{
		{"", "", true, false, true},
		{"debug", "json", true, true, true},
		{"WARN", "JSON", true, false, false},
		{"info", "text", false, false, true},
		{"error", "Text", false, false, false},
	} {
		t.Run(tc.level+"/"+tc.format, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := logging.New(&buf, tc.level, tc.format)
			if err != nil {
				t.Fatal(err)
			}
			log.Debug("d")
			log.Info("i")
			log.Error("e")
			out := buf.String()
			if got := strings.Contains(out, `"msg":"d"`) || strings.Contains(out, "msg=d"); got != tc.wantDebug {
				t.Errorf("debug line written = %v, want %v: %s", got, tc.wantDebug, out)
			}
			if got := strings.Contains(out, `"msg":"i"`) || strings.Contains(out, "msg=i"); got != tc.wantInfo {
				t.Errorf("info line written = %v, want %v: %s", got, tc.wantInfo, out)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			last := lines[len(lines)-1]
			if got := json.Valid([]byte(last)); got != tc.wantJSON {
				t.Errorf("line %q is JSON = %v, want %v", last, got, tc.wantJSON)
			}
			if !strings.Contains(last, "ERROR") {
				t.Errorf("error line missing: %s", out)
			}
		})
	}
}

func TestFromEnv_RejectsUnknownSettings(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string // in the error
	}{
		{map[string]string{"LOG_LEVEL": "verbose"}, "LOG_LEVEL"},
		{map[string]string{"LOG_FORMAT": "xml"}, "LOG_FORMAT"},
	} {
		_, err := logging.FromEnv(&bytes.Buffer{}, func(k string) string { return tc.env[k] })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("FromEnv(%v) = %v, want an error naming %s", tc.env, err, tc.want)
		}
	}
	var buf bytes.Buffer
	log, err := logging.FromEnv(&buf, func(k string) string { return map[string]string{"LOG_LEVEL": "warn", "LOG_FORMAT": "text"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown")
	if out := buf.String(); strings.Contains(out, "hidden") || !strings.Contains(out, "level=WARN msg=shown") {
		t.Errorf("LOG_LEVEL=warn LOG_FORMAT=text wrote %q", out)
	}
}

// TestHandler_RequestContextJoinsTheLines logs from an HTTP handler whose
// request context carries a span context and a request id, as the servers'
// middleware leaves it: each line carries trace_id, span_id and
// request_id, also through a logger With attributes; a line logged without
// the context carries none.
func TestHandler_RequestContextJoinsTheLines(t *testing.T) {
	var buf bytes.Buffer
	log, err := logging.New(&buf, "info", "json")
	if err != nil {
		t.Fatal(err)
	}
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := trace.ContextWithSpanContext(r.Context(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))
		ctx = logging.WithRequestID(ctx, r.Header.Get("X-Request-Id"))
		log.InfoContext(ctx, "handled")
		log.With("component", "store").InfoContext(ctx, "queried")
		log.Info("no context")
	}))
	defer srv.Close()
	req, err := http.NewRequestWithContext(t.Context(), "GET", srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Request-Id", "req-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	lines := map[string]map[string]any{}
	for line := range strings.Lines(buf.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		lines[rec["msg"].(string)] = rec
	}
	for _, msg := range []string{"handled", "queried"} {
		rec := lines[msg]
		for k, want := range map[string]string{"trace_id": tid.String(), "span_id": sid.String(), "request_id": "req-1"} {
			if got := rec[k]; got != want {
				t.Errorf("%q: %s = %v, want %s", msg, k, got, want)
			}
		}
	}
	if got := lines["queried"]["component"]; got != "store" {
		t.Errorf(`"queried": component = %v, want store`, got)
	}
	for _, k := range []string{"trace_id", "span_id", "request_id"} {
		if v, ok := lines["no context"][k]; ok {
			t.Errorf(`"no context": %s = %v, want none`, k, v)
		}
	}
	if len(lines) != 3 {
		t.Errorf("%d lines, want 3: %s", len(lines), buf.String())
	}
}

func TestRequestID_EmptyWithoutOne(t *testing.T) {
	if got := logging.RequestID(context.Background()); got != "" {
		t.Errorf("RequestID = %q, want empty", got)
	}
	if got := logging.RequestID(logging.WithRequestID(context.Background(), "r")); got != "r" {
		t.Errorf("RequestID = %q, want r", got)
	}
}

// TestLogAttrs_WritesWithoutSource: the access-log helpers write the record
// with its attributes and the context's ids, at the level asked, and skip
// levels the handler does not want.
func TestLogAttrs_WritesWithoutSource(t *testing.T) {
	var buf bytes.Buffer
	log, err := logging.New(&buf, "info", "json")
	if err != nil {
		t.Fatal(err)
	}
	ctx := logging.WithRequestID(context.Background(), "r-9")
	logging.LogAttrs(ctx, log, slog.LevelInfo, "http request", slog.Int("status", 200))
	logging.Log(ctx, log, slog.LevelWarn, "finished call", "grpc.code", "NotFound")
	logging.LogAttrs(ctx, log, slog.LevelDebug, "dropped")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2 (debug dropped):\n%s", len(lines), buf.String())
	}
	for i, want := range []map[string]any{
		{"level": "INFO", "msg": "http request", "status": float64(200), "request_id": "r-9"},
		{"level": "WARN", "msg": "finished call", "grpc.code": "NotFound", "request_id": "r-9"},
	} {
		var got map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &got); err != nil {
			t.Fatal(err)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("line %d: %s = %v, want %v", i, k, got[k], v)
			}
		}
		if _, ok := got["time"]; !ok {
			t.Errorf("line %d has no time", i)
		}
	}
}
