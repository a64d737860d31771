package grpcserver_test

import (
	"log/slog"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/grpcerr"
	"github.com/todo-platform/todo/pkg/grpcserver"
	"github.com/todo-platform/todo/pkg/grpcserver/grpcservertest"
)

// unimplementedServices serves both services with handlers that answer
// Unimplemented: a request that gets past the interceptors gets that.
func unimplementedServices(t *testing.T) *grpc.ClientConn {
	t.Helper()
	srv := grpcserver.New(slog.New(slog.DiscardHandler), grpcserver.Config{})
	taskv1.RegisterTaskServiceServer(srv.GRPC(), taskv1.UnimplementedTaskServiceServer{})
	userv1.RegisterUserServiceServer(srv.GRPC(), userv1.UnimplementedUserServiceServer{})
	return grpcservertest.Serve(t, srv)
}

// everyTextField is each string field of each request of both services.
type textCase struct {
	method grpcservertest.Method
	field  grpcservertest.TextField
}

func everyTextField(t *testing.T) []textCase {
	t.Helper()
	var out []textCase
	for _, sd := range []protoreflect.ServiceDescriptor{
		taskv1.File_todo_task_v1_task_proto.Services().ByName("TaskService"),
		userv1.File_todo_user_v1_user_proto.Services().ByName("UserService"),
	} {
		methods, err := grpcservertest.UnaryMethods(sd)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range methods {
			for _, f := range grpcservertest.TextFields(m.Request.Descriptor()) {
				out = append(out, textCase{m, f})
			}
		}
	}
	// The list is derived from the descriptors; these must be on it.
	var paths []string
	for _, c := range out {
		paths = append(paths, string(c.method.Desc.Name())+" "+c.field.Path)
	}
	for _, want := range []string{
		"CreateTask task.title", "CreateTask task.description", "CreateTask request_id",
		"UpdateTask update_mask.paths[0]", "UpdateTask task.etag", "ListTasks page_token", "ListTasks order_by",
		"CreateUser email", "CreateUser username", "CreateUser full_name", "CreateUser password",
		"Login login", "Login password", "RefreshToken refresh_token", "UpdateUser user.full_name",
		"ListUsers page_token",
	} {
		if !slices.Contains(paths, want) {
			t.Fatalf("no %q among the text fields derived from the descriptors: %q", want, paths)
		}
	}
	return out
}

// wantTextViolation fails unless err is InvalidArgument naming exactly
// field, with a description containing desc.
func wantTextViolation(t *testing.T, err error, field, desc string) {
	t.Helper()
	st := status.Convert(err)
	if got, want := st.Code(), codes.InvalidArgument; got != want {
		t.Fatalf("code = %v (%q), want %v", got, st.Message(), want)
	}
	fvs := grpcerr.FieldViolations(err)
	if len(fvs) != 1 || fvs[0].Field != field || !strings.Contains(fvs[0].Description, desc) {
		t.Fatalf("violations = %+v, want one of %s saying %q", fvs, field, desc)
	}
	if msg := st.Message(); !strings.HasPrefix(msg, "invalid request: "+field+": ") {
		t.Errorf("message = %q, want it to name %s", msg, field)
	}
}

func TestText_NULInEveryStringFieldIsInvalidArgumentNamingIt(t *testing.T) {
	conn := unimplementedServices(t)
	for _, c := range everyTextField(t) {
		t.Run(string(c.method.Desc.Name())+"/"+c.field.Path, func(t *testing.T) {
			req := c.method.Request.New()
			c.field.Set(req, "before\x00after")
			err := conn.Invoke(t.Context(), c.method.FullMethod, req.Interface(), c.method.Response.New().Interface())
			wantTextViolation(t, err, c.field.Path, "NUL")
		})
	}
}

func TestText_InvalidUTF8OnTheWireIsInvalidArgumentNamingIt(t *testing.T) {
	conn := unimplementedServices(t)
	for _, c := range everyTextField(t) {
		t.Run(string(c.method.Desc.Name())+"/"+c.field.Path, func(t *testing.T) {
			raw, err := grpcservertest.WithInvalidUTF8(c.method.Request.New().Interface(), c.field)
			if err != nil {
				t.Fatal(err)
			}
			err = conn.Invoke(t.Context(), c.method.FullMethod, grpcservertest.Raw(raw), c.method.Response.New().Interface(),
				grpc.ForceCodecV2(grpcservertest.RawCodec{}))
			wantTextViolation(t, err, c.field.Path, "UTF-8")
		})
	}
}

func TestText_EveryBadStringIsListedOnce(t *testing.T) {
	conn := unimplementedServices(t)
	req := &taskv1.UpdateTaskRequest{
		Task:       &taskv1.Task{Id: 1, Title: "placeholder", Description: "a\x00b"},
		UpdateMask: nil,
	}
	title := grpcservertest.TextFields(req.ProtoReflect().Descriptor())[0]
	if title.Path != "task.title" {
		t.Fatalf("first text field = %s, want task.title", title.Path)
	}
	raw, err := grpcservertest.WithInvalidUTF8(req, title)
	if err != nil {
		t.Fatal(err)
	}
	err = conn.Invoke(t.Context(), taskv1.TaskService_UpdateTask_FullMethodName, grpcservertest.Raw(raw), &taskv1.Task{},
		grpc.ForceCodecV2(grpcservertest.RawCodec{}))
	if got, want := grpcerr.Fields(err), []string{"task.title", "task.description"}; !slices.Equal(got, want) {
		t.Fatalf("fields = %q, want %q (%v)", got, want, err)
	}
}

func TestText_ValidTextReachesTheHandler(t *testing.T) {
	conn := unimplementedServices(t)
	// Every character class but NUL: controls, non-ASCII, a non-BMP rune.
	req := &taskv1.ListTasksRequest{PageToken: "\x01\t\n é 中 🔑 \u2028 \uFFFD"}
	err := conn.Invoke(t.Context(), taskv1.TaskService_ListTasks_FullMethodName, req, &taskv1.ListTasksResponse{})
	if got, want := status.Code(err), codes.Unimplemented; got != want {
		t.Fatalf("code = %v (%v), want %v", got, err, want)
	}
}

func TestText_MarksSentByTheClientAreIgnored(t *testing.T) {
	conn := unimplementedServices(t)
	b, err := proto.Marshal(&taskv1.ListTasksRequest{PageToken: "x"})
	if err != nil {
		t.Fatal(err)
	}
	// The two highest field numbers are the codec's marks.
	for _, num := range []protowire.Number{protowire.MaxValidNumber, protowire.MaxValidNumber - 1} {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = protowire.AppendString(b, "page_token")
	}
	err = conn.Invoke(t.Context(), taskv1.TaskService_ListTasks_FullMethodName, grpcservertest.Raw(b), &taskv1.ListTasksResponse{},
		grpc.ForceCodecV2(grpcservertest.RawCodec{}))
	if got, want := status.Code(err), codes.Unimplemented; got != want {
		t.Fatalf("code = %v (%v), want %v", got, err, want)
	}
}

func TestText_BytesThatAreNoMessageAreInvalidArgument(t *testing.T) {
	conn := unimplementedServices(t)
	for name, raw := range map[string][]byte{
		"truncated varint":      {0x08, 0xff},
		"length past the end":   {0x12, 0x7f, 'a'},
		"field number 0":        {0x00, 0x01},
		"end group without one": {0x0c},
	} {
		t.Run(name, func(t *testing.T) {
			err := conn.Invoke(t.Context(), taskv1.TaskService_CreateTask_FullMethodName, grpcservertest.Raw(raw), &taskv1.Task{},
				grpc.ForceCodecV2(grpcservertest.RawCodec{}))
			if got, want := status.Code(err), codes.InvalidArgument; got != want {
				t.Fatalf("code = %v (%v), want %v", got, err, want)
			}
		})
	}
}

func TestText_StreamRequestsAreChecked(t *testing.T) {
	conn := unimplementedServices(t)
	stream, err := healthpb.NewHealthClient(conn).Watch(t.Context(), &healthpb.HealthCheckRequest{Service: "todo\x00"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	wantTextViolation(t, err, "service", "NUL")
}
