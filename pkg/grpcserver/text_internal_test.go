package grpcserver

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// structWithText is a google.protobuf.Struct (maps of messages, lists,
// oneofs) whose strings are the given ones.
func structWithText(key, nested, listed string) *structpb.Struct {
	return &structpb.Struct{Fields: map[string]*structpb.Value{
		key: structpb.NewStringValue("ok"),
		"n": structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{"m": structpb.NewStringValue(nested)}}),
		"l": structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{structpb.NewNumberValue(1), structpb.NewStringValue(listed)}}),
	}}
}

func TestTextViolations_PathsThroughMapsAndLists(t *testing.T) {
	got := textViolations(structWithText("a\x00", "b\x00", "\xff").ProtoReflect())
	var fields []string
	for _, fv := range got {
		fields = append(fields, fv.Field)
	}
	slices.Sort(fields) // map order is random
	want := []string{
		`fields["a\x00"]`,
		`fields["l"].list_value.values[1].string_value`,
		`fields["n"].struct_value.fields["m"].string_value`,
	}
	if !slices.Equal(fields, want) {
		t.Errorf("violations at %q, want %q", fields, want)
	}
}

func TestCodec_FindsAndReplacesInvalidUTF8ThroughMapsAndLists(t *testing.T) {
	// Marshal valid placeholders of the same lengths, then break them.
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(structWithText("KEY", "NESTED", "LISTED"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"KEY", "NESTED", "LISTED"} {
		i := slices.Index(b, s[0])
		for ; string(b[i:i+len(s)]) != s; i++ {
		}
		b[i] = 0xc0 // never valid in UTF-8
	}
	var m structpb.Struct
	if err := proto.Unmarshal(b, &m); err == nil {
		t.Fatal("proto.Unmarshal accepted invalid UTF-8; the test proves nothing")
	}
	var paths []string
	if err := sanitizeWire(b, m.ProtoReflect().Descriptor(), nil, &paths); err != nil {
		t.Fatal(err)
	}
	slices.Sort(paths)
	want := []string{
		`fields["\x00EY"]`,
		`fields["l"].list_value.values[1].string_value`,
		`fields["n"].struct_value.fields["m"].string_value`,
	}
	if !slices.Equal(paths, want) {
		t.Errorf("paths %q, want %q", paths, want)
	}
	if err := proto.Unmarshal(b, &m); err != nil {
		t.Errorf("the sanitized bytes do not decode: %v", err)
	}
}
