package apidesc_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/todo-platform/todo/api/apidesc"
	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
)

// TestDescriptorsCarryComments shows that the embedded descriptors keep the
// proto doc comments that reflection clients print.
func TestDescriptorsCarryComments(t *testing.T) {
	r, err := apidesc.NewResolver()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []protoreflect.FullName{"todo.task.v1.TaskService", "todo.user.v1.UserService"} {
		d, err := r.FindDescriptorByName(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sd := d.(protoreflect.ServiceDescriptor)
		if got := sd.ParentFile().SourceLocations().ByDescriptor(sd).LeadingComments; !strings.Contains(got, string(sd.Name())) {
			t.Errorf("%s: leading comment %q does not document the service", name, got)
		}
		for i := 0; i < sd.Methods().Len(); i++ {
			m := sd.Methods().Get(i)
			if c := sd.ParentFile().SourceLocations().ByDescriptor(m).LeadingComments; strings.TrimSpace(c) == "" {
				t.Errorf("%s has no doc comment", m.FullName())
			}
		}
	}
	// Linked-in descriptors outside the API (health, reflection) still resolve.
	if _, err := r.FindDescriptorByName("grpc.health.v1.Health"); err != nil {
		t.Errorf("grpc.health.v1.Health: %v", err)
	}
}

// TestDescriptorsMatchGeneratedCode fails when todo.binpb and the generated
// Go code come from different protos (run `make generate`).
func TestDescriptorsMatchGeneratedCode(t *testing.T) {
	r, err := apidesc.NewResolver()
	if err != nil {
		t.Fatal(err)
	}
	for _, gen := range []protoreflect.FileDescriptor{taskv1.File_todo_task_v1_task_proto, userv1.File_todo_user_v1_user_proto} {
		fd, err := r.FindFileByPath(gen.Path())
		if err != nil {
			t.Fatalf("%s: %v", gen.Path(), err)
		}
		if got, want := fd.Messages().Len(), gen.Messages().Len(); got != want {
			t.Errorf("%s: %d messages in todo.binpb, %d in generated code", gen.Path(), got, want)
		}
		for i := 0; i < gen.Services().Len(); i++ {
			gs := gen.Services().Get(i)
			s := fd.Services().ByName(gs.Name())
			if s == nil || s.Methods().Len() != gs.Methods().Len() {
				t.Errorf("%s: service %s differs from generated code", gen.Path(), gs.FullName())
			}
		}
	}
}
