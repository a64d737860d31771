package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/todo-platform/todo/pkg/grpcerr"
)

// unmarshalOptions is how request bodies are read, by the grpc-gateway
// handlers and by checkBody alike: unknown fields are refused.
var unmarshalOptions = protojson.UnmarshalOptions{DiscardUnknown: false}

// maxViolations bounds the violations one answer lists.
const maxViolations = 20

// timestampExample is the form RFC 3339 timestamps are asked in.
const timestampExample = "2030-02-01T00:00:00Z"

// checkBody decides whether body is a request body protojson reads into a
// message of md, exactly as the grpc-gateway handler will, and, when it is
// not, says why in terms of the request's fields: prefix is the proto path
// of the body in the request ("task" for body: "task", "" for body: "*").
// An empty body is an empty message, as for the handlers.
//
// protojson alone decides what is accepted; the rest of this file only
// explains a refusal, by walking the JSON with encoding/json alongside the
// descriptor and testing one field at a time with protojson. Its error text
// is parser text ("proto: (line 1:18): duplicate field", "unexpected EOF"
// for a lone surrogate) and never reaches a client.
func checkBody(body []byte, md protoreflect.MessageDescriptor, prefix string) []grpcerr.FieldViolation {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if unmarshalOptions.Unmarshal(body, newMessage(md)) == nil {
		return nil
	}
	if !json.Valid(body) {
		return []grpcerr.FieldViolation{syntaxViolation(body, md, prefix)}
	}
	if isWellKnown(md) {
		return []grpcerr.FieldViolation{{Field: prefix, Description: describeWellKnown(md, true)}}
	}
	if v := walkObject(body, md, prefix); len(v) > 0 {
		return v
	}
	return []grpcerr.FieldViolation{{Field: prefix, Description: "does not fit the request"}}
}

// newMessage returns an empty message of md: the generated type when one is
// registered, else a dynamic one.
func newMessage(md protoreflect.MessageDescriptor) proto.Message {
	if mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName()); err == nil {
		return mt.New().Interface()
	}
	return dynamicpb.NewMessage(md)
}

// joinPath appends a field name to a proto path.
func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// displayKey is a JSON key as a violation may quote it: valid UTF-8, at
// most 64 bytes.
func displayKey(k string) string {
	k = strings.ToValidUTF8(k, "\uFFFD")
	if len(k) > 64 {
		k = strings.ToValidUTF8(k[:64], "") + "…"
	}
	return k
}

// ---------------------------------------------------------------- syntax

// frame is one open JSON container while syntaxViolation reads tokens.
type frame struct {
	object bool
	path   string // the container's own path
	// md is the message an object is, when known; list is the repeated
	// field an array is, when known.
	md   protoreflect.MessageDescriptor
	list protoreflect.FieldDescriptor
	// key and pending: in an object, the last key read and whether its
	// value is still to come; index: in an array, the next element's.
	key     string
	pending bool
	index   int
}

// member is the path and the field of the value that comes next in f.
func (f *frame) member() (string, protoreflect.FieldDescriptor) {
	if f.object {
		fd := fieldByKey(f.md, f.key)
		return joinPath(f.path, nameOrKey(fd, f.key)), fd
	}
	return fmt.Sprintf("%s[%d]", f.path, f.index), f.list
}

// open returns the frame of a container that starts as the next value in
// parent (nil: at the top level, where the body is a message md at prefix).
func open(parent *frame, delim json.Delim, md protoreflect.MessageDescriptor, prefix string) *frame {
	f := &frame{object: delim == '{', path: prefix}
	if parent == nil {
		if f.object {
			f.md = md
		}
		return f
	}
	var fd protoreflect.FieldDescriptor
	f.path, fd = parent.member()
	if fd == nil || fd.IsMap() {
		return f
	}
	inList := !parent.object // the value is an element of the list fd
	switch {
	case f.object && (inList || !fd.IsList()):
		f.md = messageOf(fd.Message())
	case !f.object && !inList && fd.IsList():
		f.list = fd
	}
	return f
}

// syntaxViolation locates the first syntax error of body (which json.Valid
// refused): the path of the member or element whose value is broken, else
// of the innermost open object or array.
func syntaxViolation(body []byte, md protoreflect.MessageDescriptor, prefix string) grpcerr.FieldViolation {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var stack []*frame
	done := false // the top-level value is complete
	valueDone := func() {
		if len(stack) == 0 {
			done = true
			return
		}
		top := stack[len(stack)-1]
		if top.object {
			top.pending = false
		} else {
			top.index++
		}
	}
	for {
		tok, err := dec.Token()
		if done && errors.Is(err, io.EOF) {
			// The tokens are fine, so json.Valid refused the depth.
			return nestedTooDeeply(stack, prefix)
		}
		if done {
			return grpcerr.FieldViolation{Field: prefix, Description: "must be a single JSON value, but more text follows it"}
		}
		if len(stack) > maxJSONDepth {
			return nestedTooDeeply(stack, prefix)
		}
		if err != nil {
			where := prefix
			// Inside a top-level array (where the body must be an object)
			// the body as a whole is at fault.
			if top := topFrame(stack); top != nil && stack[0].object {
				where = top.path
				if (top.object && top.pending) || (!top.object && !errors.Is(err, io.EOF)) {
					where, _ = top.member()
				}
			}
			var se *json.SyntaxError
			switch {
			case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
				return grpcerr.FieldViolation{Field: where, Description: "is not valid JSON: the body ends before the JSON value is complete"}
			case errors.As(err, &se):
				return grpcerr.FieldViolation{Field: where, Description: fmt.Sprintf("is not valid JSON: unexpected text at byte %d of the body", se.Offset)}
			default:
				return grpcerr.FieldViolation{Field: where, Description: "is not valid JSON"}
			}
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				stack = append(stack, open(topFrame(stack), t, md, prefix))
			case '}', ']':
				stack = stack[:len(stack)-1]
				valueDone()
			}
		case string:
			if top := topFrame(stack); top != nil && top.object && !top.pending {
				top.key, top.pending = t, true
				continue
			}
			valueDone()
		default:
			valueDone()
		}
	}
}

// maxJSONDepth is how deeply encoding/json (json.Valid) lets objects and
// arrays nest.
const maxJSONDepth = 10000

// nestedTooDeeply is the violation of a body whose objects and arrays nest
// deeper than maxJSONDepth: it names the body's top-level member that holds
// the nesting (its full path would be thousands of "[0]").
func nestedTooDeeply(stack []*frame, prefix string) grpcerr.FieldViolation {
	field := prefix
	if len(stack) > 1 && stack[0].object {
		field = stack[1].path
	}
	return grpcerr.FieldViolation{Field: field, Description: fmt.Sprintf("is nested too deeply: JSON objects and arrays may nest at most %d levels", maxJSONDepth)}
}

func topFrame(stack []*frame) *frame {
	if len(stack) == 0 {
		return nil
	}
	return stack[len(stack)-1]
}

// fieldByKey resolves a JSON key as protojson does: the JSON name or the
// proto name. md may be nil.
func fieldByKey(md protoreflect.MessageDescriptor, key string) protoreflect.FieldDescriptor {
	if md == nil || isWellKnown(md) {
		return nil
	}
	fields := md.Fields()
	if fd := fields.ByJSONName(key); fd != nil {
		return fd
	}
	return fields.ByTextName(key)
}

func nameOrKey(fd protoreflect.FieldDescriptor, key string) string {
	if fd != nil {
		return string(fd.Name())
	}
	return displayKey(key)
}

// messageOf is md unless it is nil or a well-known type, whose JSON is not
// an object of its fields.
func messageOf(md protoreflect.MessageDescriptor) protoreflect.MessageDescriptor {
	if md == nil || isWellKnown(md) {
		return nil
	}
	return md
}

// ---------------------------------------------------------------- objects

// walkObject explains why protojson refuses raw, valid JSON, as a message
// of md at path: one violation per member that is unknown, repeated or
// unreadable.
func walkObject(raw []byte, md protoreflect.MessageDescriptor, path string) []grpcerr.FieldViolation {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return []grpcerr.FieldViolation{{Field: path, Description: "must be a JSON object"}}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return []grpcerr.FieldViolation{{Field: path, Description: "must be a JSON object"}}
	}
	var out []grpcerr.FieldViolation
	add := func(v ...grpcerr.FieldViolation) { out = append(out, v...) }
	seen := map[protoreflect.FieldNumber]string{}
	oneofs := map[protoreflect.FullName]protoreflect.FieldDescriptor{}
	for dec.More() && len(out) < maxViolations {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			break
		}
		key, _ := tok.(string)
		rawKey := raw[start:dec.InputOffset()]
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			break
		}
		fd := fieldByKey(md, key)
		if problem := textProblem(rawKey); problem != "" {
			add(grpcerr.FieldViolation{Field: joinPath(path, displayKey(key)), Description: "is not a field: its name " + problem})
			continue
		}
		if fd == nil {
			add(grpcerr.FieldViolation{Field: joinPath(path, displayKey(key)), Description: "unknown field; the fields are " + fieldList(md)})
			continue
		}
		fpath := joinPath(path, string(fd.Name()))
		if first, ok := seen[fd.Number()]; ok {
			desc := "appears more than once in the object"
			if first != key {
				desc = fmt.Sprintf("appears more than once in the object (as %q and %q)", displayKey(first), displayKey(key))
			}
			add(grpcerr.FieldViolation{Field: fpath, Description: desc})
			continue
		}
		seen[fd.Number()] = key
		if of := fd.ContainingOneof(); of != nil && !of.IsSynthetic() && !isNull(val) {
			if other, ok := oneofs[of.FullName()]; ok {
				add(grpcerr.FieldViolation{Field: fpath, Description: fmt.Sprintf("cannot be set together with %s", other.Name())})
				continue
			}
			oneofs[of.FullName()] = fd
		}
		add(checkField(val, fd, fpath)...)
	}
	if len(out) > maxViolations {
		out = out[:maxViolations]
	}
	return out
}

// fieldList names md's fields, in declaration order.
func fieldList(md protoreflect.MessageDescriptor) string {
	fields := md.Fields()
	names := make([]string, fields.Len())
	for i := range fields.Len() {
		names[i] = string(fields.Get(i).Name())
	}
	return strings.Join(names, ", ")
}

func isNull(raw []byte) bool { return string(bytes.TrimSpace(raw)) == "null" }

// fieldAccepts reports whether protojson reads {"<field>": value} into the
// field's message: whether this one member is fine on its own.
func fieldAccepts(fd protoreflect.FieldDescriptor, value []byte) bool {
	name, _ := json.Marshal(string(fd.Name()))
	doc := make([]byte, 0, len(name)+len(value)+3)
	doc = append(append(append(append(append(doc, '{'), name...), ':'), value...), '}')
	return unmarshalOptions.Unmarshal(doc, newMessage(fd.ContainingMessage())) == nil
}

// checkField explains why the member value of fd at path is refused, or
// returns nil when it is fine.
func checkField(val []byte, fd protoreflect.FieldDescriptor, path string) []grpcerr.FieldViolation {
	if fieldAccepts(fd, val) {
		return nil
	}
	val = bytes.TrimSpace(val)
	switch {
	case fd.IsMap():
		if len(val) == 0 || val[0] != '{' {
			return []grpcerr.FieldViolation{{Field: path, Description: "must be a JSON object"}}
		}
		return []grpcerr.FieldViolation{{Field: path, Description: "must be a JSON object; each key " + describeKind(fd.MapKey(), false) +
			", and each value " + describeKind(fd.MapValue(), true)}}
	case fd.IsList():
		if len(val) == 0 || val[0] != '[' {
			return []grpcerr.FieldViolation{{Field: path, Description: "must be a JSON array"}}
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(val, &elems); err != nil {
			return []grpcerr.FieldViolation{{Field: path, Description: "must be a JSON array"}}
		}
		var out []grpcerr.FieldViolation
		for i, e := range elems {
			if len(out) >= maxViolations {
				break
			}
			list := append(append([]byte{'['}, e...), ']')
			if fieldAccepts(fd, list) {
				continue
			}
			out = append(out, checkValue(e, fd, fmt.Sprintf("%s[%d]", path, i))...)
		}
		if len(out) == 0 {
			out = append(out, grpcerr.FieldViolation{Field: path, Description: "must be a JSON array; each element " + describeKind(fd, true)})
		}
		return out
	default:
		return checkValue(val, fd, path)
	}
}

// checkValue explains why one value (a singular field's, or an element of
// a repeated one) is refused.
func checkValue(val []byte, fd protoreflect.FieldDescriptor, path string) []grpcerr.FieldViolation {
	val = bytes.TrimSpace(val)
	if m := messageOf(fd.Message()); m != nil && !fd.IsMap() {
		if len(val) == 0 || val[0] != '{' {
			return []grpcerr.FieldViolation{{Field: path, Description: "must be a JSON object"}}
		}
		if v := walkObject(val, m, path); len(v) > 0 {
			return v
		}
		return []grpcerr.FieldViolation{{Field: path, Description: "does not fit the request"}}
	}
	if len(val) > 0 && val[0] == '"' {
		if problem := textProblem(val); problem != "" {
			return []grpcerr.FieldViolation{{Field: path, Description: problem}}
		}
	}
	return []grpcerr.FieldViolation{{Field: path, Description: describeKind(fd, true)}}
}

// textProblem says what is wrong with raw, a JSON string literal as sent
// (quotes and escapes included), as text: bytes that are not UTF-8, or an
// escaped UTF-16 surrogate without its other half. encoding/json replaces
// both with U+FFFD; protojson refuses them.
func textProblem(raw []byte) string {
	if !utf8.Valid(raw) {
		return "is not valid UTF-8 text"
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' || i+1 >= len(raw) {
			continue
		}
		if raw[i+1] != 'u' {
			i++ // skip the escaped character, which may be a backslash
			continue
		}
		r, ok := hex4(raw, i+2)
		if !ok {
			i++
			continue
		}
		switch {
		case r >= 0xD800 && r <= 0xDBFF:
			if i+7 < len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
				if lo, ok := hex4(raw, i+8); ok && lo >= 0xDC00 && lo <= 0xDFFF {
					i += 11
					continue
				}
			}
			return fmt.Sprintf(`is not valid Unicode text: it has a lone UTF-16 surrogate (\u%04x) whose pair is missing; a character beyond U+FFFF is escaped as a pair such as \ud83d\ude00`, r)
		case r >= 0xDC00 && r <= 0xDFFF:
			return fmt.Sprintf(`is not valid Unicode text: it has a lone UTF-16 surrogate (\u%04x) whose pair is missing; a character beyond U+FFFF is escaped as a pair such as \ud83d\ude00`, r)
		}
		i += 5
	}
	return ""
}

// hex4 reads the four hex digits at raw[at:].
func hex4(raw []byte, at int) (rune, bool) {
	if at+4 > len(raw) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(raw[at:at+4]), 16, 32)
	return rune(v), err == nil
}

// ---------------------------------------------------------------- words

// wellKnown are the google.protobuf messages whose JSON is not an object of
// their fields.
var wellKnown = map[protoreflect.FullName]bool{
	"google.protobuf.Any": true, "google.protobuf.Timestamp": true, "google.protobuf.Duration": true,
	"google.protobuf.FieldMask": true, "google.protobuf.Struct": true, "google.protobuf.Value": true,
	"google.protobuf.ListValue": true, "google.protobuf.Empty": true,
	"google.protobuf.DoubleValue": true, "google.protobuf.FloatValue": true, "google.protobuf.Int64Value": true,
	"google.protobuf.UInt64Value": true, "google.protobuf.Int32Value": true, "google.protobuf.UInt32Value": true,
	"google.protobuf.BoolValue": true, "google.protobuf.StringValue": true, "google.protobuf.BytesValue": true,
}

// isWellKnown reports whether md is one of wellKnown.
func isWellKnown(md protoreflect.MessageDescriptor) bool { return wellKnown[md.FullName()] }

// describeKind says, as a violation's description, what a value of fd
// must be; json is true for JSON bodies, false for the query string and
// path, where every value is text. For repeated fields it describes one
// element.
func describeKind(fd protoreflect.FieldDescriptor, json bool) string {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if isWellKnown(fd.Message()) {
			return describeWellKnown(fd.Message(), json)
		}
		return "must be a JSON object"
	case protoreflect.EnumKind:
		if fd.Enum().FullName() == "google.protobuf.NullValue" {
			return "must be null"
		}
		return "must be one of " + enumNames(fd.Enum())
	}
	return describeScalar(fd.Kind(), json)
}

func describeScalar(k protoreflect.Kind, json bool) string {
	digits := ""
	if json {
		digits = " (a JSON number or a string of digits)"
	}
	switch k {
	case protoreflect.BoolKind:
		return "must be true or false"
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return "must be an integer from -2147483648 to 2147483647" + digits
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return "must be an integer from -9223372036854775808 to 9223372036854775807" + digits
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return "must be an integer from 0 to 4294967295" + digits
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return "must be an integer from 0 to 18446744073709551615" + digits
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		if json {
			return `must be a number (or "NaN", "Infinity", "-Infinity")`
		}
		return "must be a number"
	case protoreflect.StringKind:
		if json {
			return "must be a JSON string"
		}
		return "must be UTF-8 text"
	case protoreflect.BytesKind:
		if json {
			return "must be a JSON string of base64-encoded bytes"
		}
		return "must be base64-encoded bytes"
	}
	return "has a value that does not fit the field"
}

func describeWellKnown(md protoreflect.MessageDescriptor, json bool) string {
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		return "must be an RFC 3339 timestamp such as " + timestampExample + " (a date, a time and a zone offset or Z)"
	case "google.protobuf.Duration":
		if json {
			return `must be a duration in seconds such as "90s" or "1.5s"`
		}
		return "must be a duration such as 90s or 1h30m"
	case "google.protobuf.FieldMask":
		if json {
			return `must be a string of comma-separated field names such as "title,dueDate"`
		}
		return "must be comma-separated field names such as title,due_date"
	case "google.protobuf.Struct":
		return "must be a JSON object"
	case "google.protobuf.ListValue":
		return "must be a JSON array"
	case "google.protobuf.Value":
		return "must be a JSON value"
	case "google.protobuf.Empty":
		return "must be an empty JSON object {}"
	case "google.protobuf.Any":
		return `must be a JSON object with an "@type"`
	}
	if v := md.Fields().ByName("value"); v != nil {
		return describeScalar(v.Kind(), json) // the wrappers
	}
	return "must be a JSON object"
}

// enumNames lists the names of an enum's values a client may give: not the
// zero *_UNSPECIFIED value, which filters refuse and which elsewhere means
// the same as leaving the field out (the OpenAPI document leaves it out
// too).
func enumNames(ed protoreflect.EnumDescriptor) string {
	vals := ed.Values()
	names := make([]string, 0, vals.Len())
	for i := range vals.Len() {
		v := vals.Get(i)
		if v.Number() == 0 && strings.HasSuffix(string(v.Name()), "_UNSPECIFIED") {
			continue
		}
		names = append(names, string(v.Name()))
	}
	return strings.Join(names, ", ")
}
