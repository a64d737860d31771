// Package logging is the one logger setup of every binary: slog to stderr,
// JSON or text (LOG_FORMAT), at a level (LOG_LEVEL), with every record that
// is logged with a request's context carrying that request's trace_id,
// span_id and request_id, so that the lines the three processes write for
// one request can be joined.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// The environment variables New reads its settings from (see FromEnv).
const (
	LevelEnv  = "LOG_LEVEL"
	FormatEnv = "LOG_FORMAT"
)

// New returns a logger writing to w at level ("debug", "info", "warn",
// "error"; empty: info) in format ("json" or "text"; empty: json).
func New(w io.Writer, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if level != "" {
		if err := lvl.UnmarshalText([]byte(level)); err != nil {
			return nil, fmt.Errorf("%s %q: want debug, info, warn or error", LevelEnv, level)
		}
	}
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler
	switch strings.ToLower(format) {
	case "", "json":
		h = slog.NewJSONHandler(w, opts)
	case "text":
		h = slog.NewTextHandler(w, opts)
	default:
		return nil, fmt.Errorf("%s %q: want json or text", FormatEnv, format)
	}
	return slog.New(Handler(h)), nil
}

// FromEnv is New with the level and format of LOG_LEVEL and LOG_FORMAT, as
// getenv returns them.
func FromEnv(w io.Writer, getenv func(string) string) (*slog.Logger, error) {
	return New(w, getenv(LevelEnv), getenv(FormatEnv))
}

// Handler wraps h so that each record logged with a context adds the
// context's trace_id and span_id (of a valid OpenTelemetry span context) and
// request_id (see WithRequestID), when there are any.
func Handler(h slog.Handler) slog.Handler { return contextHandler{h} }

type contextHandler struct{ slog.Handler }

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(attrs)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying the request id id, which the records
// logged with it carry as request_id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id ctx carries, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// LogAttrs is l.LogAttrs without the caller lookup: slog's Logger methods
// walk the stack for the record's source on every call, which the handlers
// here never print. For lines written on every request (the access logs).
func LogAttrs(ctx context.Context, l *slog.Logger, level slog.Level, msg string, attrs ...slog.Attr) {
	write(ctx, l, level, msg, func(r *slog.Record) { r.AddAttrs(attrs...) })
}

// Log is LogAttrs for alternating keys and values (or slog.Attr), as
// l.Log takes them.
func Log(ctx context.Context, l *slog.Logger, level slog.Level, msg string, args ...any) {
	write(ctx, l, level, msg, func(r *slog.Record) { r.Add(args...) })
}

// write hands l's handler a record without a source, with what add puts
// in it, if the handler wants level.
func write(ctx context.Context, l *slog.Logger, level slog.Level, msg string, add func(*slog.Record)) {
	h := l.Handler()
	if !h.Enabled(ctx, level) {
		return
	}
	r := slog.NewRecord(time.Now(), level, msg, 0)
	add(&r)
	_ = h.Handle(ctx, r)
}
