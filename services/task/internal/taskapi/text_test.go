package taskapi_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	"github.com/todo-platform/todo/pkg/grpcerr"
	"github.com/todo-platform/todo/pkg/grpcserver/grpcservertest"
)

// TestText_NULOrInvalidUTF8InAnyFieldIsRefusedBeforeTheDatabase sends, as an
// admin, every request of the service with a NUL (and, on the wire, invalid
// UTF-8) in each of its string fields, found from the descriptors: each is
// InvalidArgument naming the field, and the database is unchanged.
func TestText_NULOrInvalidUTF8InAnyFieldIsRefusedBeforeTheDatabase(t *testing.T) {
	bn := setup(t)
	tk := bn.create(t, bn.asA(t), &taskv1.Task{Title: "existing"})
	methods, err := grpcservertest.UnaryMethods(taskv1.File_todo_task_v1_task_proto.Services().ByName("TaskService"))
	if err != nil {
		t.Fatal(err)
	}
	before := bn.db.Snapshot(t)
	n := 0
	for _, m := range methods {
		for _, f := range grpcservertest.TextFields(m.Request.Descriptor()) {
			n++
			t.Run(string(m.Desc.Name())+"/"+f.Path+"/NUL", func(t *testing.T) {
				req := m.Request.New()
				// Ids of an existing task, so only the text can be wrong.
				if fd := m.Request.Descriptor().Fields().ByName("id"); fd != nil && fd.Kind() == protoreflect.Int64Kind {
					req.Set(fd, protoreflect.ValueOfInt64(tk.GetId()))
				}
				f.Set(req, "x\x00"+tk.GetTitle())
				err := bn.conn.Invoke(bn.asAdmin(t), m.FullMethod, req.Interface(), m.Response.New().Interface())
				wantStatus(t, err, codes.InvalidArgument, f.Path)
				if d := grpcerr.FieldViolations(err)[0].Description; !strings.Contains(d, "NUL") {
					t.Errorf("description %q does not say NUL", d)
				}
			})
			t.Run(string(m.Desc.Name())+"/"+f.Path+"/invalid UTF-8", func(t *testing.T) {
				raw, err := grpcservertest.WithInvalidUTF8(m.Request.New().Interface(), f)
				if err != nil {
					t.Fatal(err)
				}
				err = bn.conn.Invoke(bn.asAdmin(t), m.FullMethod, grpcservertest.Raw(raw), m.Response.New().Interface(),
					grpc.ForceCodecV2(grpcservertest.RawCodec{}))
				wantStatus(t, err, codes.InvalidArgument, f.Path)
				if d := grpcerr.FieldViolations(err)[0].Description; !strings.Contains(d, "UTF-8") {
					t.Errorf("description %q does not say UTF-8", d)
				}
			})
		}
	}
	if n < 10 {
		t.Errorf("only %d string fields found in the task service's requests", n)
	}
	if after := bn.db.Snapshot(t); after != before {
		t.Errorf("the database changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
