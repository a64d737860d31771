package grpcservertest

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	protoenc "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// TextField is one string reachable from a request message: a string
// field, the first element of a repeated string, the value (or key) of a
// map entry, at any depth.
type TextField struct {
	// Path names the field as the server's violations do: "task.title",
	// "update_mask.paths[0]", `labels["k"]`.
	Path  string
	steps []protoreflect.FieldDescriptor
}

// MapKey is the key under which TextField.Set puts map entries.
const MapKey = "k"

// TextFields returns every string field reachable from messages of md, in
// field order, recursing into message fields (once per message type on a
// path, so recursive types end). Lists are entered at index 0, maps at
// MapKey.
func TextFields(md protoreflect.MessageDescriptor) []TextField {
	var out []TextField
	var walk func(md protoreflect.MessageDescriptor, prefix string, steps []protoreflect.FieldDescriptor, seen map[protoreflect.FullName]bool)
	walk = func(md protoreflect.MessageDescriptor, prefix string, steps []protoreflect.FieldDescriptor, seen map[protoreflect.FullName]bool) {
		if seen[md.FullName()] {
			return
		}
		seen[md.FullName()] = true
		defer delete(seen, md.FullName())
		fields := md.Fields()
		for i := range fields.Len() {
			fd := fields.Get(i)
			path := prefix + string(fd.Name())
			st := append(steps[:len(steps):len(steps)], fd)
			target := fd
			switch {
			case fd.IsMap():
				path += `["` + MapKey + `"]`
				target = fd.MapValue()
			case fd.IsList():
				path += "[0]"
			}
			switch target.Kind() {
			case protoreflect.StringKind:
				out = append(out, TextField{Path: path, steps: st})
			case protoreflect.MessageKind:
				walk(target.Message(), path+".", st, seen)
			}
		}
	}
	walk(md, "", nil, map[protoreflect.FullName]bool{})
	return out
}

// Set sets the field f names in m, a message of the type f comes from, to
// v, creating the messages, list elements and map entries on the way.
func (f TextField) Set(m protoreflect.Message, v string) {
	for i, fd := range f.steps {
		last := i == len(f.steps)-1
		switch {
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			key := protoreflect.ValueOfString(MapKey).MapKey()
			if last {
				mp.Set(key, protoreflect.ValueOfString(v))
				return
			}
			m = mp.Mutable(key).Message()
		case fd.IsList():
			l := m.Mutable(fd).List()
			if last {
				if l.Len() == 0 {
					l.Append(protoreflect.ValueOfString(v))
				} else {
					l.Set(0, protoreflect.ValueOfString(v))
				}
				return
			}
			if l.Len() == 0 {
				l.Append(l.NewElement())
			}
			m = l.Get(0).Message()
		case last:
			m.Set(fd, protoreflect.ValueOfString(v))
			return
		default:
			m = m.Mutable(fd).Message()
		}
	}
}

// Method is one unary method of a service, with its request and response
// types as the generated code has them.
type Method struct {
	// FullMethod is the method's name as grpc.ClientConn.Invoke takes it:
	// "/todo.task.v1.TaskService/CreateTask".
	FullMethod string
	Desc       protoreflect.MethodDescriptor
	Request    protoreflect.MessageType
	Response   protoreflect.MessageType
}

// UnaryMethods returns the unary methods of sd, with the generated types of
// their request and response (linked into the test binary, so found in
// protoregistry.GlobalTypes).
func UnaryMethods(sd protoreflect.ServiceDescriptor) ([]Method, error) {
	var out []Method
	methods := sd.Methods()
	for i := range methods.Len() {
		md := methods.Get(i)
		if md.IsStreamingClient() || md.IsStreamingServer() {
			continue
		}
		req, err := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
		if err != nil {
			return nil, fmt.Errorf("grpcservertest: request of %s: %w", md.FullName(), err)
		}
		resp, err := protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName())
		if err != nil {
			return nil, fmt.Errorf("grpcservertest: response of %s: %w", md.FullName(), err)
		}
		out = append(out, Method{
			FullMethod: "/" + string(sd.FullName()) + "/" + string(md.Name()),
			Desc:       md, Request: req, Response: resp,
		})
	}
	return out, nil
}

// InvalidUTF8 is what WithInvalidUTF8 puts in the field: bytes that are
// not UTF-8 (a lone continuation byte, an overlong form, a surrogate).
const InvalidUTF8 = "\x80\xc0\xafa\xed\xa0\x80"

// WithInvalidUTF8 returns the wire form of m with the field f set to
// InvalidUTF8, which proto.Marshal refuses to produce: send it with
// RawCodec. f must be unset in m (see Append).
func WithInvalidUTF8(m proto.Message, f TextField) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("grpcservertest: marshal %s: %w", proto.MessageName(m), err)
	}
	return f.Append(b, InvalidUTF8), nil
}

// Append appends to b, the wire form of a message of f's type, the field f
// with value v, any bytes: decoding merges it into the message (the
// messages on the way are merged, a list gets one more element, a map the
// entry at MapKey). The list index of f.Path holds when the list was empty.
func (f TextField) Append(b []byte, v string) []byte {
	return appendSteps(b, f.steps, v)
}

func appendSteps(b []byte, steps []protoreflect.FieldDescriptor, v string) []byte {
	fd := steps[0]
	b = protowire.AppendTag(b, fd.Number(), protowire.BytesType)
	var inner []byte
	switch {
	case fd.IsMap():
		inner = protowire.AppendTag(inner, 1, protowire.BytesType)
		inner = protowire.AppendString(inner, MapKey)
		inner = protowire.AppendTag(inner, 2, protowire.BytesType)
		if len(steps) == 1 {
			inner = protowire.AppendString(inner, v)
		} else {
			inner = protowire.AppendBytes(inner, appendSteps(nil, steps[1:], v))
		}
	case len(steps) == 1:
		return protowire.AppendString(b, v)
	default:
		inner = appendSteps(nil, steps[1:], v)
	}
	return protowire.AppendBytes(b, inner)
}

// Raw is a request already in wire form, sent as is by RawCodec.
type Raw []byte

// RawCodec is a client codec (grpc.ForceCodecV2) that sends Raw values as
// they are and otherwise is the proto codec, so tests can send bytes that
// proto.Marshal would not produce.
type RawCodec struct{}

// Name is "proto", the content-subtype the servers expect.
func (RawCodec) Name() string { return protoenc.Name }

// Marshal sends a Raw as is and marshals anything else as the proto codec does.
func (RawCodec) Marshal(v any) (mem.BufferSlice, error) {
	if r, ok := v.(Raw); ok {
		return mem.BufferSlice{mem.SliceBuffer(r)}, nil
	}
	return encoding.GetCodecV2(protoenc.Name).Marshal(v)
}

// Unmarshal is the proto codec's.
func (RawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	return encoding.GetCodecV2(protoenc.Name).Unmarshal(data, v)
}

// TextFieldAt returns the field of TextFields(md) whose Path is path.
func TextFieldAt(md protoreflect.MessageDescriptor, path string) (TextField, error) {
	for _, f := range TextFields(md) {
		if f.Path == path {
			return f, nil
		}
	}
	return TextField{}, fmt.Errorf("grpcservertest: %s has no string field %s", md.FullName(), path)
}

// InvokeRaw calls method on conn with raw as the request's wire form (see
// Raw) and decodes the answer into resp.
func InvokeRaw(ctx context.Context, conn grpc.ClientConnInterface, method string, raw []byte, resp proto.Message) error {
	return conn.Invoke(ctx, method, Raw(raw), resp, grpc.ForceCodecV2(RawCodec{}))
}
