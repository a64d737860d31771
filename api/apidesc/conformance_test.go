package apidesc_test

import (
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/todo-platform/todo/api/apidesc"
)

// The part of the AIP rules (api-linter's core::0192::has-comments and
// core::0203::field-behavior-required) that CI can check without api-linter,
// which the module proxy does not serve: api/api-linter.yaml is the whole
// configuration for when it runs.

// TestEveryElementIsDocumented: every service, method, message, field, enum
// and enum value of the API has a leading comment (AIP-192).
func TestEveryElementIsDocumented(t *testing.T) {
	eachAPIFile(t, func(fd protoreflect.FileDescriptor) {
		locs := fd.SourceLocations()
		need := func(d protoreflect.Descriptor) {
			if strings.TrimSpace(locs.ByDescriptor(d).LeadingComments) == "" {
				t.Errorf("%s has no leading comment", d.FullName())
			}
		}
		for i := 0; i < fd.Services().Len(); i++ {
			s := fd.Services().Get(i)
			need(s)
			for j := 0; j < s.Methods().Len(); j++ {
				need(s.Methods().Get(j))
			}
		}
		enums := func(es protoreflect.EnumDescriptors) {
			for i := 0; i < es.Len(); i++ {
				e := es.Get(i)
				need(e)
				for j := 0; j < e.Values().Len(); j++ {
					need(e.Values().Get(j))
				}
			}
		}
		enums(fd.Enums())
		eachMessage(fd.Messages(), func(m protoreflect.MessageDescriptor) {
			need(m)
			for i := 0; i < m.Fields().Len(); i++ {
				need(m.Fields().Get(i))
			}
			enums(m.Enums())
		})
	})
}

// TestRequestAndResourceFieldsHaveFieldBehavior: every field of a request
// message, and of the resources (Task, User) that requests carry, says
// whether it is REQUIRED, OPTIONAL or OUTPUT_ONLY (AIP-203), which is also
// what the OpenAPI document's required and readOnly come from.
func TestRequestAndResourceFieldsHaveFieldBehavior(t *testing.T) {
	sawRequired := false
	eachAPIFile(t, func(fd protoreflect.FileDescriptor) {
		checked := map[protoreflect.FullName]bool{}
		var check func(m protoreflect.MessageDescriptor)
		check = func(m protoreflect.MessageDescriptor) {
			if checked[m.FullName()] || m.ParentFile().Package() != fd.Package() {
				return
			}
			checked[m.FullName()] = true
			for i := 0; i < m.Fields().Len(); i++ {
				f := m.Fields().Get(i)
				fb, _ := proto.GetExtension(f.Options(), annotations.E_FieldBehavior).([]annotations.FieldBehavior)
				if len(fb) == 0 {
					t.Errorf("%s has no google.api.field_behavior", f.FullName())
				}
				if f.FullName() == "todo.task.v1.CreateTaskRequest.task" {
					sawRequired = len(fb) == 1 && fb[0] == annotations.FieldBehavior_REQUIRED
				}
				if f.Message() != nil {
					check(f.Message())
				}
			}
		}
		for i := 0; i < fd.Services().Len(); i++ {
			s := fd.Services().Get(i)
			for j := 0; j < s.Methods().Len(); j++ {
				check(s.Methods().Get(j).Input())
			}
		}
	})
	// The options were decoded, not left as unknown bytes.
	if !sawRequired {
		t.Error("CreateTaskRequest.task is not seen as REQUIRED: field_behavior options were not decoded")
	}
}

// eachAPIFile calls f with every file of the todo API (not its imports).
func eachAPIFile(t *testing.T, f func(protoreflect.FileDescriptor)) {
	t.Helper()
	files, err := apidesc.Files()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if strings.HasPrefix(string(fd.Package()), "todo.") {
			n++
			f(fd)
		}
		return true
	})
	if n < 2 {
		t.Fatalf("found %d API files, want the user and task files", n)
	}
}

func eachMessage(ms protoreflect.MessageDescriptors, f func(protoreflect.MessageDescriptor)) {
	for i := 0; i < ms.Len(); i++ {
		m := ms.Get(i)
		if m.IsMapEntry() {
			continue
		}
		f(m)
		eachMessage(m.Messages(), f)
	}
}
