package grpcserver

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"google.golang.org/grpc/encoding"
	protoenc "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Field numbers of the marks codec leaves on a request it had to repair.
// They are the two highest field numbers protobuf allows; no request message
// may declare them.
const (
	// markInvalidUTF8 carries, as a length-delimited value, the path of one
	// string field whose bytes were not valid UTF-8.
	markInvalidUTF8 protowire.Number = protowire.MaxValidNumber
	// markMalformed (empty value) says the bytes were no message of the
	// request's type at all, such as a truncated varint.
	markMalformed protowire.Number = protowire.MaxValidNumber - 1
)

// Status message of a request whose bytes are no protobuf message.
const msgMalformed = "invalid request: the message is not valid protobuf wire format for its type"

// codec is the server's encoding.CodecV2: grpc-go's proto codec, except in
// what becomes of a request that proto.Unmarshal refuses. grpc-go answers
// any codec error with codes.Internal ("grpc: failed to unmarshal the
// received message") before an interceptor runs, yet a proto3 string that
// is not valid UTF-8 — or a message that is no message — is the client's
// mistake, not the server's. So Unmarshal never fails: it walks the wire
// bytes with the message's descriptor (protowire), records the path of
// every string field that is not valid UTF-8, overwrites the invalid bytes
// in a copy with NUL (same length, so the framing holds) and decodes that
// copy; bytes that do not parse leave the message empty. It then appends
// the findings to the message's unknown fields, at the reserved numbers
// markInvalidUTF8 and markMalformed, and the validator (the innermost
// interceptor of the server, see validator.check) turns them into
// InvalidArgument naming the fields.
//
// Why unknown fields: the codec sees no context, only the message, so the
// finding has to travel with the message, and the unknown-field set is the
// one part of a proto message that holds arbitrary data without a global
// side table keyed by pointer (which would leak when a call ends before
// the interceptor runs). The mark cannot be forged: marks a client sends
// itself are removed while decoding. It cannot leak either: the replaced
// bytes are NUL, which the validator's text check refuses on its own, so
// a sanitized string never reaches a handler even were the mark lost.
type codec struct {
	base encoding.CodecV2
}

// newCodec returns the codec over grpc-go's registered proto codec.
func newCodec() codec {
	return codec{base: encoding.GetCodecV2(protoenc.Name)}
}

// Name is "proto": the codec serves the content-subtype the proto codec does.
func (c codec) Name() string { return protoenc.Name }

// Marshal is the proto codec's.
func (c codec) Marshal(v any) (mem.BufferSlice, error) { return c.base.Marshal(v) }

// Unmarshal decodes data into v, a proto message; see codec.
func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	m := messageOf(v)
	if m == nil {
		return fmt.Errorf("grpcserver: cannot unmarshal into %T, not a proto message", v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	b := buf.ReadOnlyData()
	err := proto.Unmarshal(b, m)
	if err == nil {
		dropMarks(m.ProtoReflect())
		return nil
	}
	repaired := append([]byte(nil), b...)
	var paths []string
	if werr := sanitizeWire(repaired, m.ProtoReflect().Descriptor(), nil, &paths); werr != nil || len(paths) == 0 {
		proto.Reset(m)
		setMarks(m.ProtoReflect(), nil, true)
		return nil
	}
	proto.Reset(m)
	if err := proto.Unmarshal(repaired, m); err != nil {
		proto.Reset(m)
		setMarks(m.ProtoReflect(), nil, true)
		return nil
	}
	dropMarks(m.ProtoReflect())
	setMarks(m.ProtoReflect(), paths, false)
	return nil
}

func messageOf(v any) proto.Message {
	switch v := v.(type) {
	case protoadapt.MessageV2:
		return v
	case protoadapt.MessageV1:
		return protoadapt.MessageV2Of(v)
	}
	return nil
}

// errWire is the error of sanitizeWire for bytes that are no message.
var errWire = errors.New("grpcserver: malformed protobuf wire data")

// sanitizeWire walks b, the wire form of a message of md, appends to paths
// the path of every string (field, list element, map key or value, nested
// too) that is not valid UTF-8, and overwrites the invalid bytes of those
// strings in b with NUL. It fails when b is not well-formed.
func sanitizeWire(b []byte, md protoreflect.MessageDescriptor, parent *pathElem, paths *[]string) error {
	var seen map[protowire.Number]int // elements of each list field so far
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errWire
		}
		b = b[n:]
		fd := md.Fields().ByNumber(num)
		if fd == nil || typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return errWire
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return errWire
		}
		b = b[n:]
		elem := &pathElem{parent: parent, field: fd, index: -1}
		switch {
		case fd.IsMap():
			if err := sanitizeMapEntry(v, fd, parent, paths); err != nil {
				return err
			}
			continue
		case fd.IsList():
			if seen == nil {
				seen = map[protowire.Number]int{}
			}
			elem.index = seen[num]
			seen[num]++
		}
		switch {
		case fd.Kind() == protoreflect.StringKind:
			if sanitizeString(v) {
				*paths = append(*paths, elem.String())
			}
		case fd.Kind() == protoreflect.MessageKind:
			if err := sanitizeWire(v, fd.Message(), elem, paths); err != nil {
				return err
			}
		}
	}
	return nil
}

// sanitizeMapEntry is sanitizeWire for one entry of the map field fd.
func sanitizeMapEntry(entry []byte, fd protoreflect.FieldDescriptor, parent *pathElem, paths *[]string) error {
	var key, val []byte
	var hasVal bool
	for b := entry; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errWire
		}
		b = b[n:]
		if typ == protowire.BytesType && (num == 1 || num == 2) {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return errWire
			}
			if num == 1 {
				key = v
			} else {
				val, hasVal = v, true
			}
			b = b[n:]
			continue
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return errWire
		}
		b = b[n:]
	}
	keyFD, valFD := fd.MapKey(), fd.MapValue()
	keyBad := keyFD.Kind() == protoreflect.StringKind && sanitizeString(key)
	elem := &pathElem{parent: parent, field: fd, index: -1, hasKey: keyFD.Kind() == protoreflect.StringKind}
	if elem.hasKey {
		elem.key = protoreflect.ValueOfString(string(key)).MapKey()
	}
	if keyBad {
		*paths = append(*paths, elem.String())
	}
	if !hasVal {
		return nil
	}
	switch valFD.Kind() {
	case protoreflect.StringKind:
		if sanitizeString(val) {
			*paths = append(*paths, elem.String())
		}
	case protoreflect.MessageKind:
		return sanitizeWire(val, valFD.Message(), elem, paths)
	}
	return nil
}

// sanitizeString overwrites with NUL every byte of s that is not part of a
// valid UTF-8 sequence and reports whether there was any.
func sanitizeString(s []byte) bool {
	if utf8.Valid(s) {
		return false
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			s[i] = 0
		}
		i += size
	}
	return true
}

// setMarks appends the marks of paths (and, when malformed, markMalformed)
// to m's unknown fields.
func setMarks(m protoreflect.Message, paths []string, malformed bool) {
	u := m.GetUnknown()
	if malformed {
		u = protowire.AppendTag(u, markMalformed, protowire.BytesType)
		u = protowire.AppendBytes(u, nil)
	}
	for _, p := range paths {
		u = protowire.AppendTag(u, markInvalidUTF8, protowire.BytesType)
		u = protowire.AppendString(u, p)
	}
	m.SetUnknown(u)
}

// dropMarks removes the mark fields from m's unknown fields, so that only
// the codec's own marks are ever read.
func dropMarks(m protoreflect.Message) {
	u := m.GetUnknown()
	if len(u) == 0 {
		return
	}
	kept, _, _ := splitMarks(u)
	if len(kept) != len(u) {
		m.SetUnknown(kept)
	}
}

// splitMarks splits the unknown fields u into those that are no mark, the
// paths of the markInvalidUTF8 marks and whether markMalformed is present.
// Unknown fields that do not parse are kept as they are.
func splitMarks(u protoreflect.RawFields) (kept protoreflect.RawFields, paths []string, malformed bool) {
	kept = u[:0:0]
	for b := []byte(u); len(b) > 0; {
		num, typ, n := protowire.ConsumeField(b)
		if n < 0 {
			return append(kept, b...), paths, malformed
		}
		field := b[:n]
		b = b[n:]
		isMark := typ == protowire.BytesType && (num == markInvalidUTF8 || num == markMalformed)
		if !isMark {
			kept = append(kept, field...)
			continue
		}
		if num == markMalformed {
			malformed = true
			continue
		}
		_, _, tn := protowire.ConsumeTag(field)
		v, _ := protowire.ConsumeBytes(field[tn:])
		paths = append(paths, string(v))
	}
	return kept, paths, malformed
}

// takeMarks reads and removes the codec's marks from m: the paths of the
// strings that were not valid UTF-8, and whether the bytes were no message.
func takeMarks(m protoreflect.Message) (paths []string, malformed bool) {
	u := m.GetUnknown()
	if len(u) == 0 {
		return nil, false
	}
	kept, paths, malformed := splitMarks(u)
	if len(kept) != len(u) {
		m.SetUnknown(kept)
	}
	return paths, malformed
}
