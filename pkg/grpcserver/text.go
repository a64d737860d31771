package grpcserver

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/todo-platform/todo/pkg/grpcerr"
)

// Descriptions of the text violations.
const (
	descNUL         = "must not contain a NUL character"
	descInvalidUTF8 = "must be valid UTF-8"
)

// textViolations returns one violation for every string in m (every string
// field, list element, map key and map value, in nested messages too) that
// contains a NUL character or is not valid UTF-8, in field order, naming
// each by its path as protovalidate does: "task.title",
// "update_mask.paths[0]", `labels["k"]`. PostgreSQL refuses 0x00 in text, so
// a NUL must never reach a store; invalid UTF-8 in proto3 strings is refused
// by the codec (see codec), which makes this the check of the rest (proto2
// strings, and strings the codec has sanitized). It allocates nothing for a
// request without such a string.
func textViolations(m protoreflect.Message) []grpcerr.FieldViolation {
	var w textWalker
	w.message(m, nil)
	return w.out
}

// textWalker collects the violations of one request.
type textWalker struct {
	out []grpcerr.FieldViolation
}

func (w *textWalker) message(m protoreflect.Message, parent *pathElem) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		k := fd.Kind()
		if k != protoreflect.StringKind && !isMessage(fd) && !fd.IsMap() || !m.Has(fd) {
			continue
		}
		switch {
		case fd.IsMap():
			w.mapField(fd, m.Get(fd).Map(), parent)
		case fd.IsList():
			w.listField(fd, m.Get(fd).List(), parent)
		case k == protoreflect.StringKind:
			if desc := textProblem(m.Get(fd).String()); desc != "" {
				w.add(&pathElem{parent: parent, field: fd, index: -1}, desc)
			}
		default:
			w.message(m.Get(fd).Message(), &pathElem{parent: parent, field: fd, index: -1})
		}
	}
}

func (w *textWalker) listField(fd protoreflect.FieldDescriptor, l protoreflect.List, parent *pathElem) {
	switch {
	case fd.Kind() == protoreflect.StringKind:
		for i := range l.Len() {
			if desc := textProblem(l.Get(i).String()); desc != "" {
				w.add(&pathElem{parent: parent, field: fd, index: i}, desc)
			}
		}
	case isMessage(fd):
		for i := range l.Len() {
			w.message(l.Get(i).Message(), &pathElem{parent: parent, field: fd, index: i})
		}
	}
}

func (w *textWalker) mapField(fd protoreflect.FieldDescriptor, mp protoreflect.Map, parent *pathElem) {
	keyIsString := fd.MapKey().Kind() == protoreflect.StringKind
	val := fd.MapValue()
	if !keyIsString && val.Kind() != protoreflect.StringKind && !isMessage(val) {
		return
	}
	mp.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		elem := &pathElem{parent: parent, field: fd, index: -1, key: k, hasKey: true}
		if keyIsString {
			if desc := textProblem(k.String()); desc != "" {
				w.add(elem, desc)
			}
		}
		switch {
		case val.Kind() == protoreflect.StringKind:
			if desc := textProblem(v.String()); desc != "" {
				w.add(elem, desc)
			}
		case isMessage(val):
			w.message(v.Message(), elem)
		}
		return true
	})
}

func (w *textWalker) add(p *pathElem, desc string) {
	w.out = append(w.out, grpcerr.FieldViolation{Field: p.String(), Description: desc})
}

// textProblem returns why s is refused, or "" when it is not.
func textProblem(s string) string {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		return descNUL
	case !utf8.ValidString(s):
		return descInvalidUTF8
	}
	return ""
}

func isMessage(fd protoreflect.FieldDescriptor) bool {
	k := fd.Kind()
	return k == protoreflect.MessageKind || k == protoreflect.GroupKind
}

// pathElem is one step of a field path, linked to its parent so that the
// walks build no string until there is something to report.
type pathElem struct {
	parent *pathElem
	field  protoreflect.FieldDescriptor
	index  int // list index, or -1
	key    protoreflect.MapKey
	hasKey bool
}

// String renders the path as protovalidate.FieldPathString does: field
// names joined by dots, list indexes and map keys in brackets (string keys
// quoted).
func (p *pathElem) String() string {
	var elems []*pathElem
	for e := p; e != nil; e = e.parent {
		elems = append(elems, e)
	}
	var b strings.Builder
	for i := len(elems) - 1; i >= 0; i-- {
		e := elems[i]
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(string(e.field.Name()))
		switch {
		case e.index >= 0:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(e.index))
			b.WriteByte(']')
		case e.hasKey:
			b.WriteByte('[')
			if e.field.MapKey().Kind() == protoreflect.StringKind {
				b.WriteString(strconv.Quote(e.key.String()))
			} else {
				b.WriteString(e.key.String())
			}
			b.WriteByte(']')
		}
	}
	return b.String()
}
