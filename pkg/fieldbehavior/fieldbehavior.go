// Package fieldbehavior reads the google.api.field_behavior annotations
// (AIP-203) of the API's messages, so that rules which follow from them (an
// update mask ignores output-only fields) are derived from the protos
// instead of being listed again in Go.
package fieldbehavior

import (
	"slices"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// OutputOnly returns the names of md's fields marked OUTPUT_ONLY: the
// fields only the server sets.
func OutputOnly(md protoreflect.MessageDescriptor) map[string]bool {
	out := map[string]bool{}
	fields := md.Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		fb, _ := proto.GetExtension(f.Options(), annotations.E_FieldBehavior).([]annotations.FieldBehavior)
		if slices.Contains(fb, annotations.FieldBehavior_OUTPUT_ONLY) {
			out[string(f.Name())] = true
		}
	}
	return out
}
