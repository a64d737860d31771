package gateway

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/todo-platform/todo/pkg/logging"
)

// RequestIDHeader is the HTTP header that carries a request's id, both ways:
// a client may send one (1 to 128 characters of A-Z a-z 0-9 . _ : -), and
// every response carries the id the request was handled under. The services
// receive it as the x-request-id metadata.
const RequestIDHeader = "X-Request-Id"

type requestIDKey struct{}

// withRequestID gives every request an id: the client's when it is well
// formed, else a new random one. The id goes into the request context and
// the response header.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) {
			id = rand.Text()
		}
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range []byte(id) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// requestIDMetadata is the grpc-gateway metadata annotator that passes the
// request id to the services.
func requestIDMetadata(ctx context.Context, _ *http.Request) metadata.MD {
	if id := requestIDFrom(ctx); id != "" {
		return metadata.Pairs("x-request-id", id)
	}
	return nil
}

// withAccessLog writes one log line per request: method, path, status,
// response size, duration in milliseconds and request id.
func withAccessLog(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		code := rec.status
		if code == 0 {
			code = http.StatusOK
		}
		level := slog.LevelInfo
		if code >= 500 {
			level = slog.LevelError
		}
		logging.LogAttrs(r.Context(), log, level, "http request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", code),
			slog.Int64("bytes", rec.bytes),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("request_id", requestIDFrom(r.Context())),
			slog.String("remote", r.RemoteAddr),
		)
	})
}

// statusRecorder remembers the status and size of a response.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// Flush lets streaming responses through; Unwrap lets
// http.ResponseController reach the real writer.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// withCleanHeaders drops headers a client must not be able to set for the
// services: every Grpc-Metadata-* header (the header matcher forwards none
// either; this makes sure no later change can), and, unless trustProxy,
// X-Forwarded-For and X-Forwarded-Host, so that the address grpc-gateway
// forwards is the connection's peer.
func withCleanHeaders(next http.Handler, trustProxy bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k := range r.Header {
			if strings.HasPrefix(strings.ToLower(k), "grpc-metadata-") {
				r.Header.Del(k)
			}
		}
		if !trustProxy {
			r.Header.Del("X-Forwarded-For")
			r.Header.Del("X-Forwarded-Host")
		}
		next.ServeHTTP(w, r)
	})
}

type bodyStateKey struct{}

// bodyState records that a request body hit the size limit while the
// grpc-gateway handler read it; the handler reports any read error as
// INVALID_ARGUMENT, and the error handler turns it into 413 with this.
type bodyState struct{ tooLarge atomic.Bool }

func bodyTooLarge(ctx context.Context) bool {
	s, _ := ctx.Value(bodyStateKey{}).(*bodyState)
	return s != nil && s.tooLarge.Load()
}

// withBodyLimit refuses a declared Content-Length above limit with 413
// before anything else runs, and cuts bodies of unknown length at limit.
func withBodyLimit(next http.Handler, limit int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			writeStatus(w, http.StatusRequestEntityTooLarge, tooLargeStatus(limit))
			return
		}
		st := &bodyState{}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &limitedBody{ReadCloser: http.MaxBytesReader(w, r.Body, limit), state: st}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), bodyStateKey{}, st)))
	})
}

type limitedBody struct {
	io.ReadCloser
	state *bodyState
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		b.state.tooLarge.Store(true)
	}
	return n, err
}

// streamingRoute reports whether path is a server-streaming method's.
func streamingRoute(path string) bool { return path == "/v1/tasks:watch" }

// withDeadline bounds the upstream call. Without a Grpc-Timeout header the
// request context gets the default deadline; with one, it gets the maximum,
// and grpc-gateway applies the client's timeout inside it, so the effective
// deadline is the smaller of the two.
//
// A streaming route (WatchTasks, GET /v1/tasks:watch) is long-lived by
// design: it gets no deadline unless the client sends Grpc-Timeout, and the
// server's write timeout is lifted for it (the stream's heartbeats show it
// is alive; the task service ends it on shutdown).
func withDeadline(next http.Handler, def, maxTimeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if streamingRoute(r.URL.Path) && r.Header.Get("Grpc-Timeout") == "" {
			// Not every ResponseWriter supports deadlines (httptest's
			// recorder); then there is none to lift.
			_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
			next.ServeHTTP(w, r)
			return
		}
		d := def
		if r.Header.Get("Grpc-Timeout") != "" {
			d = maxTimeout
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// HSTSValue is the Strict-Transport-Security header of a gateway serving
// HTTPS: browsers use HTTPS only for this host for a year.
const HSTSValue = "max-age=31536000; includeSubDomains"

// withSecurityHeaders sets, before the handler runs, the headers every
// response carries: X-Content-Type-Options: nosniff (a browser must not
// guess a type other than the one sent), Cache-Control: no-store on every
// request that carries credentials (an Authorization header: what the
// answer says is private and must not be kept by a browser or a proxy),
// and with hsts Strict-Transport-Security.
func withSecurityHeaders(next http.Handler, hsts bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		if r.Header.Get("Authorization") != "" {
			h.Set("Cache-Control", "no-store")
		}
		if hsts {
			h.Set("Strict-Transport-Security", HSTSValue)
		}
		next.ServeHTTP(w, r)
	})
}
