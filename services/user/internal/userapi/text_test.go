package userapi_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/grpcerr"
	"github.com/todo-platform/todo/pkg/grpcserver/grpcservertest"
	"github.com/todo-platform/todo/pkg/testkit"
)

// TestText_NULOrInvalidUTF8InAnyFieldIsRefusedBeforeTheDatabase sends, as an
// admin, every request of the service with a NUL (and, on the wire, invalid
// UTF-8) in each of its string fields, found from the descriptors: each is
// InvalidArgument naming the field, and the database is unchanged.
func TestText_NULOrInvalidUTF8InAnyFieldIsRefusedBeforeTheDatabase(t *testing.T) {
	b := setup(t, cheapHashing)
	root, token := b.admin(t, "root")
	methods, err := grpcservertest.UnaryMethods(userv1.File_todo_user_v1_user_proto.Services().ByName("UserService"))
	if err != nil {
		t.Fatal(err)
	}
	before := b.db.Snapshot(t)
	n := 0
	for _, m := range methods {
		for _, f := range grpcservertest.TextFields(m.Request.Descriptor()) {
			n++
			t.Run(string(m.Desc.Name())+"/"+f.Path+"/NUL", func(t *testing.T) {
				req := m.Request.New()
				// The admin's own id, so only the text can be wrong.
				if fd := m.Request.Descriptor().Fields().ByName("id"); fd != nil && fd.Kind() == protoreflect.Int64Kind {
					req.Set(fd, protoreflect.ValueOfInt64(root.GetId()))
				}
				f.Set(req, "root\x00")
				err := b.conn.Invoke(as(testkit.Context(t), token), m.FullMethod, req.Interface(), m.Response.New().Interface())
				wantField(t, err, f.Path, "NUL")
			})
			t.Run(string(m.Desc.Name())+"/"+f.Path+"/invalid UTF-8", func(t *testing.T) {
				raw, err := grpcservertest.WithInvalidUTF8(m.Request.New().Interface(), f)
				if err != nil {
					t.Fatal(err)
				}
				err = b.conn.Invoke(as(testkit.Context(t), token), m.FullMethod, grpcservertest.Raw(raw), m.Response.New().Interface(),
					grpc.ForceCodecV2(grpcservertest.RawCodec{}))
				wantField(t, err, f.Path, "UTF-8")
			})
		}
	}
	if n < 10 {
		t.Errorf("only %d string fields found in the user service's requests", n)
	}
	if after := b.db.Snapshot(t); after != before {
		t.Errorf("the database changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// wantField fails unless err is InvalidArgument with exactly one field
// violation, of field, whose description contains desc.
func wantField(t *testing.T, err error, field, desc string) {
	t.Helper()
	wantCode(t, err, codes.InvalidArgument)
	fvs := grpcerr.FieldViolations(err)
	if len(fvs) != 1 || fvs[0].Field != field || !strings.Contains(fvs[0].Description, desc) {
		t.Fatalf("violations = %+v, want one of %s saying %q", fvs, field, desc)
	}
}
