// Package envcfg reads a binary's configuration from the environment and
// logs it. A configuration is one struct whose fields carry
// github.com/caarlos0/env tags: `env:"NAME"` and, where there is one,
// `envDefault:"…"`, the only place a default is written. A `log` tag says how
// a field is logged: `log:"secret"` shows only whether it is set, `log:"dsn"`
// shows a database DSN with its password masked; other fields are logged as
// they are, under their variable's name.
package envcfg

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"reflect"
	"strings"

	"github.com/caarlos0/env/v11"
)

// Validator is a configuration that checks itself after it is read.
type Validator interface {
	// Validate returns an error naming each variable whose value is not
	// acceptable, or nil.
	Validate() error
}

// Load reads a T from the environment and, when T is a Validator,
// validates it. The shared variable structs embedded in T (Shutdown, Tokens)
// get their defaults first; a variable that is set replaces them. Errors start with "configuration:".
func Load[T any]() (T, error) {
	var holder struct{ Cfg T } // setDefaults looks at fields: T is one
	setDefaults(reflect.ValueOf(&holder).Elem())
	cfg := holder.Cfg
	if err := env.Parse(&cfg); err != nil {
		var zero T
		return zero, fmt.Errorf("configuration: %w", err)
	}
	if v, ok := any(&cfg).(Validator); ok {
		if err := v.Validate(); err != nil {
			var zero T
			return zero, fmt.Errorf("configuration: %w", err)
		}
	}
	return cfg, nil
}

// Problems collects what is wrong with a configuration, for Validate.
type Problems []string

// Check adds msg when ok is false.
func (p *Problems) Check(ok bool, msg string) {
	if !ok {
		*p = append(*p, msg)
	}
}

// Add adds err's message when err is not nil.
func (p *Problems) Add(err error) {
	if err != nil {
		*p = append(*p, err.Error())
	}
}

// Err returns the problems joined by "; ", or nil when there are none.
func (p Problems) Err() error {
	if len(p) == 0 {
		return nil
	}
	return errors.New(strings.Join(p, "; "))
}

// Masked is what a secret that is set is logged as.
const Masked = "xxxxx"

// LogValue returns cfg (a struct, or a pointer to one) as a slog group of
// its variables, in field order, secrets masked as the log tags say. Nested
// structs without an env tag are flattened into the group.
func LogValue(cfg any) slog.Value {
	v := reflect.Indirect(reflect.ValueOf(cfg))
	return slog.GroupValue(attrs(v)...)
}

func attrs(v reflect.Value) []slog.Attr {
	var out []slog.Attr
	t := v.Type()
	for i := range t.NumField() {
		f, fv := t.Field(i), v.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		if name == "" {
			if fv.Kind() == reflect.Struct {
				out = append(out, attrs(fv)...)
			}
			continue
		}
		switch f.Tag.Get("log") {
		case "secret":
			s := ""
			if !fv.IsZero() {
				s = Masked
			}
			out = append(out, slog.String(name, s))
		case "dsn":
			out = append(out, slog.String(name, MaskDSN(fv.String())))
		default:
			if s, ok := fv.Interface().(fmt.Stringer); ok {
				out = append(out, slog.String(name, s.String()))
			} else {
				out = append(out, slog.Any(name, fv.Interface()))
			}
		}
	}
	return out
}

// MaskDSN returns dsn, a URL or keyword/value DSN, with its password
// replaced, for logs.
func MaskDSN(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "(unparsable URL)"
		}
		if q := u.Query(); q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.Redacted()
	}
	return maskKeywordDSN(dsn)
}

// maskKeywordDSN masks the password of a keyword/value DSN as libpq parses
// it: pairs separated by white space, white space allowed around "=", a
// value either single-quoted (backslash escapes a quote or a backslash) or a
// run of non-space characters (backslash escapes one character). A DSN it
// cannot parse is not logged at all.
func maskKeywordDSN(dsn string) string {
	var out strings.Builder
	i, n := 0, len(dsn)
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' }
	for {
		for i < n && isSpace(dsn[i]) {
			i++
		}
		if i == n {
			return out.String()
		}
		start := i
		for i < n && dsn[i] != '=' && !isSpace(dsn[i]) {
			i++
		}
		key := dsn[start:i]
		for i < n && isSpace(dsn[i]) {
			i++
		}
		if key == "" || i == n || dsn[i] != '=' {
			return "(unparsable DSN)"
		}
		i++
		for i < n && isSpace(dsn[i]) {
			i++
		}
		if i < n && dsn[i] == '\'' {
			i++
			for i < n && dsn[i] != '\'' {
				if dsn[i] == '\\' {
					i++
				}
				i++
			}
			if i >= n {
				return "(unparsable DSN)"
			}
			i++ // the closing quote
		} else {
			for i < n && !isSpace(dsn[i]) {
				if dsn[i] == '\\' {
					i++
				}
				i++
			}
			i = min(i, n)
		}
		if out.Len() > 0 {
			out.WriteByte(' ')
		}
		if key == "password" {
			out.WriteString("password=" + Masked)
		} else {
			out.WriteString(dsn[start:i])
		}
	}
}
