package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/todo-platform/todo/pkg/grpcerr"
)

// The gateway checks every API request's path parameters, query string,
// Content-Type and body before the grpc-gateway handler decodes them, and
// answers what does not fit with INVALID_ARGUMENT and a google.rpc.BadRequest
// naming each field as the services do (415 for a body that is not JSON).
// The handlers themselves report a decoding failure only as the text of a
// Go error (strconv, time and protojson messages, "type mismatch,
// parameter: ..."), which never names a field and must not reach a client;
// after these checks they do not fail.

// binding is one HTTP rule of an RPC, as the grpc-gateway handler reads it.
type binding struct {
	method protoreflect.MethodDescriptor
	// body is the rule's body: "" (none), "*" (the whole request) or the
	// path of the request field the body is; bodyMsg is the message it is.
	body    string
	bodyMsg protoreflect.MessageDescriptor
	// query is whether the handler reads the query string (it does unless
	// the body is the whole request or no field is left for it), with
	// filter the fields it must skip (those bound to the path or body).
	query  bool
	filter *utilities.DoubleArray
}

// bindings maps "METHOD pattern" (the pattern as runtime.Pattern.String
// writes it, such as "/v1/tasks/{id=*}") to the binding of that route.
type bindings map[string]*binding

// templateVar matches a variable of a path template, {field.path} or
// {field.path=segments}; bareVar only the first form, which
// runtime.Pattern.String writes as {field.path=*}.
var (
	templateVar = regexp.MustCompile(`\{([^}=]+)(?:=[^}]*)?\}`)
	bareVar     = regexp.MustCompile(`\{([^}=]+)\}`)
)

// newBindings reads the google.api.http rules of the named services from the
// proto registry.
func newBindings(services ...string) (bindings, error) {
	out := bindings{}
	for _, name := range services {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", name, err)
		}
		sd, ok := d.(protoreflect.ServiceDescriptor)
		if !ok {
			return nil, fmt.Errorf("%s is not a service", name)
		}
		for i := range sd.Methods().Len() {
			md := sd.Methods().Get(i)
			rule, _ := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
			if rule == nil {
				continue
			}
			for _, r := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
				verb, path := ruleVerbPath(r)
				if verb == "" {
					continue
				}
				b, err := newBinding(md, r.GetBody(), path)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", md.FullName(), err)
				}
				out[verb+" "+bareVar.ReplaceAllString(path, "{$1=*}")] = b
			}
		}
	}
	return out, nil
}

func ruleVerbPath(r *annotations.HttpRule) (string, string) {
	switch p := r.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		return http.MethodGet, p.Get
	case *annotations.HttpRule_Put:
		return http.MethodPut, p.Put
	case *annotations.HttpRule_Post:
		return http.MethodPost, p.Post
	case *annotations.HttpRule_Delete:
		return http.MethodDelete, p.Delete
	case *annotations.HttpRule_Patch:
		return http.MethodPatch, p.Patch
	case *annotations.HttpRule_Custom:
		return p.Custom.GetKind(), p.Custom.GetPath()
	}
	return "", ""
}

func newBinding(md protoreflect.MethodDescriptor, body, path string) (*binding, error) {
	b := &binding{method: md, body: body}
	in := md.Input()
	var bound [][]string
	for _, m := range templateVar.FindAllStringSubmatch(path, -1) {
		bound = append(bound, strings.Split(m[1], "."))
	}
	switch body {
	case "":
	case "*":
		b.bodyMsg = in
	default:
		fd := in.Fields().ByName(protoreflect.Name(body))
		if fd == nil || fd.Message() == nil || fd.IsList() || fd.IsMap() {
			return nil, fmt.Errorf("body %q is not a message field of %s", body, in.FullName())
		}
		b.bodyMsg = fd.Message()
		bound = append(bound, []string{body})
	}
	if body != "*" {
		for i := range in.Fields().Len() {
			name := string(in.Fields().Get(i).Name())
			if !slices.ContainsFunc(bound, func(p []string) bool { return len(p) == 1 && p[0] == name }) {
				b.query = true // a field neither the path nor the body sets
			}
		}
	}
	b.filter = utilities.NewDoubleArray(bound)
	return b, nil
}

// checkInput is the grpc-gateway middleware that runs the checks above on
// the requests of the routes in bs; other routes pass untouched. It reads
// the body (which withBodyLimit bounds) and hands the handler a copy.
func checkInput(bs bindings, maxBody int64) runtime.Middleware {
	return func(next runtime.HandlerFunc) runtime.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
			pat, ok := runtime.HTTPPattern(r.Context())
			b := bs[r.Method+" "+pat.String()]
			if !ok || b == nil {
				next(w, r, params)
				return
			}
			var body []byte
			if b.bodyMsg != nil && r.Body != nil && r.Body != http.NoBody {
				var err error
				body, err = io.ReadAll(r.Body)
				if err != nil {
					var mbe *http.MaxBytesError
					if errors.As(err, &mbe) {
						writeStatus(w, http.StatusRequestEntityTooLarge, tooLargeStatus(maxBody))
						return
					}
					writeStatus(w, http.StatusBadRequest, badRequest("the request body could not be read", grpcerr.FieldViolation{Description: "could not be read to its end"}))
					return
				}
				r.Body = io.NopCloser(bytes.NewReader(body))
				if len(body) > 0 {
					if st := checkContentType(r.Header.Get("Content-Type")); st != nil {
						writeStatus(w, http.StatusUnsupportedMediaType, st)
						return
					}
				}
			}
			in := b.method.Input()
			vs := checkPath(in, params)
			if b.query {
				vs = append(vs, checkQuery(in, r.URL.RawQuery, b.filter)...)
			} else if r.URL.RawQuery != "" {
				vs = append(vs, noQuery(r.URL.RawQuery)...)
			}
			if b.bodyMsg != nil {
				prefix := b.body
				if prefix == "*" {
					prefix = ""
				}
				vs = append(vs, checkBody(body, b.bodyMsg, prefix)...)
			}
			if len(vs) > 0 {
				if len(vs) > maxViolations {
					vs = vs[:maxViolations]
				}
				writeStatus(w, http.StatusBadRequest, invalidRequest(vs...))
				return
			}
			next(w, r, params)
		}
	}
}

// checkContentType accepts application/json with no charset or UTF-8 and a
// missing (or empty) Content-Type, which is read as JSON; it returns the
// 415 status for anything else.
func checkContentType(ct string) *status.Status {
	if strings.TrimSpace(ct) == "" {
		return nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil && mt == "application/json" {
		if cs, ok := params["charset"]; !ok || strings.EqualFold(cs, "utf-8") || strings.EqualFold(cs, "utf8") {
			return nil
		}
		return unsupportedMedia(fmt.Sprintf("JSON request bodies are UTF-8; send Content-Type: application/json without a charset or with charset=utf-8 (not %s)", displayValue(params["charset"])))
	}
	desc := fmt.Sprintf("the request body must be JSON, sent with Content-Type: application/json (not %s)", displayValue(ct))
	if err == nil && mt == "application/x-www-form-urlencoded" {
		desc += "; with curl, add -H 'Content-Type: application/json' to -d, or use --json"
	}
	return unsupportedMedia(desc)
}

func unsupportedMedia(desc string) *status.Status {
	return badRequest(desc, grpcerr.FieldViolation{Field: "Content-Type", Description: desc})
}

// displayValue is a client-sent value as an error may quote it: valid
// UTF-8, quoted, at most 64 bytes.
func displayValue(v string) string {
	return fmt.Sprintf("%q", displayKey(v))
}

// badRequest is InvalidArgument with message msg and a google.rpc.BadRequest
// carrying v.
func badRequest(msg string, v ...grpcerr.FieldViolation) *status.Status {
	return status.Convert(grpcerr.InvalidArgument(msg, v...))
}

// invalidRequest is InvalidArgument worded as the services word theirs:
// "invalid request: field: description; ...".
func invalidRequest(v ...grpcerr.FieldViolation) *status.Status {
	return badRequest("invalid request: "+grpcerr.Message(v...), v...)
}

// ---------------------------------------------------------------- path

// checkPath checks each path parameter (named by its field path, such as
// "id" or "task.id") as the handler will parse it.
func checkPath(in protoreflect.MessageDescriptor, params map[string]string) []grpcerr.FieldViolation {
	var out []grpcerr.FieldViolation
	for _, key := range sortedKeys(params) {
		val := params[key]
		fd := resolvePath(in, strings.Split(key, "."))
		if fd == nil {
			continue
		}
		if v := checkText(fd, key, []string{val}); v != nil {
			out = append(out, *v)
			continue
		}
		if err := runtime.PopulateFieldFromPath(newMessage(in), key, val); err != nil {
			out = append(out, grpcerr.FieldViolation{Field: key, Description: describeKind(fd, false)})
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// resolvePath finds the field a dotted path of proto or JSON names leads to
// from md through singular message fields, as the query parser does; nil if
// there is none.
func resolvePath(md protoreflect.MessageDescriptor, path []string) protoreflect.FieldDescriptor {
	var fd protoreflect.FieldDescriptor
	for i, name := range path {
		if i > 0 {
			if fd.Message() == nil || fd.IsList() || fd.IsMap() {
				return nil
			}
			md = fd.Message()
		}
		fd = md.Fields().ByTextName(name)
		if fd == nil {
			fd = md.Fields().ByJSONName(name)
		}
		if fd == nil {
			return nil
		}
	}
	return fd
}

// protoPath writes the proto path of the fields a dotted key names.
func protoPath(md protoreflect.MessageDescriptor, key string) string {
	parts := strings.Split(key, ".")
	out := make([]string, 0, len(parts))
	for i := range parts {
		fd := resolvePath(md, parts[:i+1])
		if fd == nil {
			return displayKey(key)
		}
		out = append(out, string(fd.Name()))
	}
	return strings.Join(out, ".")
}

// checkText refuses values that are not UTF-8 for text fields: grpc-go
// cannot even send them (a proto3 string must be UTF-8), so without this
// check they would end as INTERNAL.
func checkText(fd protoreflect.FieldDescriptor, field string, vals []string) *grpcerr.FieldViolation {
	text := fd.Kind() == protoreflect.StringKind ||
		fd.Message() != nil && (fd.Message().FullName() == "google.protobuf.StringValue" || fd.Message().FullName() == "google.protobuf.FieldMask")
	if !text {
		return nil
	}
	for _, v := range vals {
		if !utf8.ValidString(v) {
			return &grpcerr.FieldViolation{Field: field, Description: "is not valid UTF-8 text"}
		}
	}
	return nil
}

// ---------------------------------------------------------------- query

// checkQuery checks the query string as the handler will read it
// (http.Request.ParseForm, then runtime.DefaultQueryParser with filter):
// every pair must be percent-encoded correctly, and every parameter the
// parser sets must be given once, under one name, and fit its field; text
// fields must be UTF-8, which the parser does not check. A parameter
// that names no field is refused, with the method's parameters listed (a
// misspelt filter would otherwise silently match everything; there is no
// cache-buster exception); those bound to the path or body, which the
// parser skips, are ignored.
func checkQuery(in protoreflect.MessageDescriptor, rawQuery string, filter *utilities.DoubleArray) []grpcerr.FieldViolation {
	if filter == nil {
		filter = utilities.NewDoubleArray(nil)
	}
	if vs := checkQueryEncoding(in, rawQuery); len(vs) > 0 {
		return vs
	}
	values, err := url.ParseQuery(rawQuery)
	if err != nil {
		return []grpcerr.FieldViolation{{Description: "the query string is not correctly percent-encoded"}}
	}
	var out []grpcerr.FieldViolation
	parser := &runtime.DefaultQueryParser{}
	seen := map[string]string{}
	for _, key := range sortedKeys(values) {
		vals := values[key]
		fieldKey, isMapKey := key, false
		if m := mapKey.FindStringSubmatch(key); m != nil {
			fieldKey, isMapKey = m[1], true
		}
		segs := strings.Split(fieldKey, ".")
		fd := resolvePath(in, segs)
		field := displayKey(key)
		if fd != nil {
			segs = strings.Split(protoPath(in, fieldKey), ".")
			field = strings.Join(segs, ".")
		}
		if filter.HasCommonPrefix(segs) {
			continue // bound to the path or body: the parser skips it
		}
		if err := parser.Parse(newMessage(in), url.Values{key: vals}, filter); err != nil {
			var desc string
			switch {
			case fd == nil:
				desc = unknownParam(in, filter)
			case isMapKey && !fd.IsMap():
				desc = "is not a map: give it as " + string(fd.Name()) + "=value"
			case fd.IsMap():
				desc = "must be given as " + string(fd.Name()) + "[key]=value; each key " + describeKind(fd.MapKey(), false) + ", and each value " + describeKind(fd.MapValue(), false)
			case !fd.IsList() && len(vals) > 1:
				desc = "may be given only once"
			default:
				desc = describeKind(fd, false)
			}
			out = append(out, grpcerr.FieldViolation{Field: field, Description: desc})
			continue
		}
		if fd == nil {
			out = append(out, grpcerr.FieldViolation{Field: field, Description: unknownParam(in, filter)})
			continue
		}
		if first, ok := seen[field]; ok && !isMapKey {
			out = append(out, grpcerr.FieldViolation{Field: field, Description: fmt.Sprintf("may be given only once (it was given as %s and %s)", displayKey(first), displayKey(key))})
			continue
		}
		seen[field] = key
		if v := checkText(fd, field, vals); v != nil {
			out = append(out, *v)
		}
	}
	if len(out) == 0 {
		if err := parser.Parse(newMessage(in), values, filter); err != nil {
			out = append(out, grpcerr.FieldViolation{Description: "the query parameters do not fit together"})
		}
	}
	return out
}

// unknownParam describes a query parameter that names no field of in.
func unknownParam(in protoreflect.MessageDescriptor, filter *utilities.DoubleArray) string {
	var names []string
	for i := range in.Fields().Len() {
		name := string(in.Fields().Get(i).Name())
		if !filter.HasCommonPrefix([]string{name}) {
			names = append(names, name)
		}
	}
	return "is not a query parameter of this method; the parameters are " + strings.Join(names, ", ")
}

// noQuery refuses every parameter of a query string sent to a method that
// reads none (its request is all path and body).
func noQuery(rawQuery string) []grpcerr.FieldViolation {
	var out []grpcerr.FieldViolation
	seen := map[string]bool{}
	for pair := range strings.SplitSeq(rawQuery, "&") {
		rawKey, _, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			key = rawKey
		}
		if key == "" || seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, grpcerr.FieldViolation{Field: displayKey(key), Description: "is not a query parameter: this method takes none"})
	}
	return out
}

// checkQueryEncoding finds the pairs of the query string that
// url.ParseQuery refuses: a ';' in a pair, or a broken %-escape.
func checkQueryEncoding(in protoreflect.MessageDescriptor, rawQuery string) []grpcerr.FieldViolation {
	var out []grpcerr.FieldViolation
	for pair := range strings.SplitSeq(rawQuery, "&") {
		rawKey, rawVal, _ := strings.Cut(pair, "=")
		field := ""
		key, kerr := url.QueryUnescape(rawKey)
		if kerr == nil && !strings.Contains(rawKey, ";") {
			field = protoPath(in, key)
		}
		switch {
		case strings.Contains(pair, ";"):
			out = append(out, grpcerr.FieldViolation{Field: field, Description: "the query string separates parameters with ';'; use '&' (or write ';' as %3B)"})
		case kerr != nil:
			out = append(out, grpcerr.FieldViolation{Description: "a query parameter name is not correctly percent-encoded"})
		default:
			if _, err := url.QueryUnescape(rawVal); err != nil {
				out = append(out, grpcerr.FieldViolation{Field: field, Description: "is not correctly percent-encoded"})
			}
		}
	}
	return out
}

// mapKey matches the query parser's map syntax, field[key].
var mapKey = regexp.MustCompile(`^(.*)\[(.*)\]$`)

// queryParser is runtime.DefaultQueryParser with its errors in checkQuery's
// words. checkInput has run checkQuery before the handlers parse the query
// string, so they do not fail; this is the net under it.
type queryParser struct{}

func (queryParser) Parse(msg proto.Message, values url.Values, filter *utilities.DoubleArray) error {
	if err := (&runtime.DefaultQueryParser{}).Parse(msg, values, filter); err != nil {
		vs := checkQuery(msg.ProtoReflect().Descriptor(), values.Encode(), filter)
		if len(vs) == 0 {
			vs = []grpcerr.FieldViolation{{Description: "the query parameters do not fit this method"}}
		}
		return errors.New(grpcerr.Message(vs...))
	}
	return nil
}

// jsonMarshaler is runtime.JSONPb whose decoder reports a body it cannot
// read in words for a client instead of protojson's, which the handlers
// would copy into the status message. checkInput has run checkBody before
// the handlers decode a body, so they do not fail; this is the net under it.
type jsonMarshaler struct{ *runtime.JSONPb }

// errBodyNotJSON is the decoding error jsonMarshaler reports.
var errBodyNotJSON = errors.New("the request body is not JSON that fits this method")

func (m jsonMarshaler) NewDecoder(r io.Reader) runtime.Decoder {
	d := m.JSONPb.NewDecoder(r)
	return runtime.DecoderFunc(func(v any) error {
		err := d.Decode(v)
		var tooLarge *http.MaxBytesError
		if err == nil || errors.Is(err, io.EOF) || errors.As(err, &tooLarge) {
			return err
		}
		return errBodyNotJSON
	})
}
