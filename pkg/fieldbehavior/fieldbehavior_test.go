package fieldbehavior_test

import (
	"maps"
	"slices"
	"testing"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/fieldbehavior"
	"google.golang.org/protobuf/reflect/protoreflect"
)

func TestOutputOnly(t *testing.T) {
	for _, tc := range []struct {
		md   protoreflect.MessageDescriptor
		want []string
	}{
		{(&taskv1.Task{}).ProtoReflect().Descriptor(), []string{"assigned_to", "completed_at", "created_at", "created_by", "deleted_at", "id", "updated_at"}},
		{(&userv1.User{}).ProtoReflect().Descriptor(), []string{"created_at", "id", "is_active", "is_admin", "is_verified", "updated_at"}},
		{(&taskv1.GetTaskRequest{}).ProtoReflect().Descriptor(), nil},
	} {
		got := slices.Sorted(maps.Keys(fieldbehavior.OutputOnly(tc.md)))
		if !slices.Equal(got, tc.want) {
			t.Errorf("OutputOnly(%s) = %q, want %q", tc.md.FullName(), got, tc.want)
		}
	}
}
