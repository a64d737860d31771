package grpcserver_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/grpcerr"
	"github.com/todo-platform/todo/pkg/grpcserver"
)

// taskServer answers the task methods the validation tests call with a canned OK.
type taskServer struct {
	taskv1.UnimplementedTaskServiceServer
}

func (taskServer) CreateTask(_ context.Context, req *taskv1.CreateTaskRequest) (*taskv1.Task, error) {
	return req.GetTask(), nil
}

func (taskServer) UpdateTask(_ context.Context, req *taskv1.UpdateTaskRequest) (*taskv1.Task, error) {
	return req.GetTask(), nil
}

func (taskServer) ListTasks(context.Context, *taskv1.ListTasksRequest) (*taskv1.ListTasksResponse, error) {
	return &taskv1.ListTasksResponse{}, nil
}

// validCreateUser returns a CreateUserRequest that passes validation, changed by edit.
func validCreateUser(edit func(*userv1.CreateUserRequest)) *userv1.CreateUserRequest {
	r := &userv1.CreateUserRequest{Email: "alice@example.com", Username: "alice", Password: "twelve-chars"}
	edit(r)
	return r
}

// validCreateTask returns a CreateTaskRequest that passes validation, changed by edit.
func validCreateTask(edit func(*taskv1.CreateTaskRequest)) *taskv1.CreateTaskRequest {
	r := &taskv1.CreateTaskRequest{Task: &taskv1.Task{Title: "Write the tests"}}
	edit(r)
	return r
}

// call sends req through the matching generated client method.
func call(ctx context.Context, conn *grpc.ClientConn, req proto.Message) error {
	uc, tc := userv1.NewUserServiceClient(conn), taskv1.NewTaskServiceClient(conn)
	var err error
	switch r := req.(type) {
	case *userv1.CreateUserRequest:
		_, err = uc.CreateUser(ctx, r)
	case *userv1.ChangePasswordRequest:
		_, err = uc.ChangePassword(ctx, r)
	case *userv1.ListUsersRequest:
		_, err = uc.ListUsers(ctx, r)
	case *taskv1.CreateTaskRequest:
		_, err = tc.CreateTask(ctx, r)
	case *taskv1.UpdateTaskRequest:
		_, err = tc.UpdateTask(ctx, r)
	case *taskv1.ListTasksRequest:
		_, err = tc.ListTasks(ctx, r)
	default:
		panic("no client method for " + string(proto.MessageName(req)))
	}
	return err
}

func TestValidation_InvalidRequestsNameTheField(t *testing.T) {
	ts := start(t, grpcserver.Config{}, func(g *grpc.Server) {
		userv1.RegisterUserServiceServer(g, &userServer{})
		taskv1.RegisterTaskServiceServer(g, taskServer{})
	})
	tests := []struct {
		name  string
		req   proto.Message
		field string
	}{
		{"email not an address", validCreateUser(func(r *userv1.CreateUserRequest) { r.Email = "alice.example.com" }), "email"},
		{"email missing", validCreateUser(func(r *userv1.CreateUserRequest) { r.Email = "" }), "email"},
		{"username 2 chars", validCreateUser(func(r *userv1.CreateUserRequest) { r.Username = "al" }), "username"},
		{"username 33 chars", validCreateUser(func(r *userv1.CreateUserRequest) { r.Username = strings.Repeat("a", 33) }), "username"},
		{"username upper case", validCreateUser(func(r *userv1.CreateUserRequest) { r.Username = "Alice" }), "username"},
		{"username space", validCreateUser(func(r *userv1.CreateUserRequest) { r.Username = "al ice" }), "username"},
		{"username non-ascii", validCreateUser(func(r *userv1.CreateUserRequest) { r.Username = "alicé" }), "username"},
		{"password 11 chars", validCreateUser(func(r *userv1.CreateUserRequest) { r.Password = strings.Repeat("p", 11) }), "password"},
		{"password 129 chars", validCreateUser(func(r *userv1.CreateUserRequest) { r.Password = strings.Repeat("p", 129) }), "password"},
		{"password 11 emoji", validCreateUser(func(r *userv1.CreateUserRequest) { r.Password = strings.Repeat("🔑", 11) }), "password"},
		{"new password 11 chars", &userv1.ChangePasswordRequest{Id: 1, CurrentPassword: "x", NewPassword: strings.Repeat("p", 11)}, "new_password"},
		{"new password 129 chars", &userv1.ChangePasswordRequest{Id: 1, CurrentPassword: "x", NewPassword: strings.Repeat("p", 129)}, "new_password"},
		{"user page_size 1001", &userv1.ListUsersRequest{PageSize: 1001}, "page_size"},
		{"title blank", validCreateTask(func(r *taskv1.CreateTaskRequest) { r.Task.Title = "   " }), "task.title"},
		{"title tabs and newlines", validCreateTask(func(r *taskv1.CreateTaskRequest) { r.Task.Title = "\t\n" }), "task.title"},
		{"title 501 chars", validCreateTask(func(r *taskv1.CreateTaskRequest) { r.Task.Title = strings.Repeat("t", 501) }), "task.title"},
		{"description 10001 chars", validCreateTask(func(r *taskv1.CreateTaskRequest) { r.Task.Description = strings.Repeat("d", 10001) }), "task.description"},
		{"status undefined", validCreateTask(func(r *taskv1.CreateTaskRequest) { r.Task.Status = taskv1.TaskStatus(99) }), "task.status"},
		{"priority undefined", validCreateTask(func(r *taskv1.CreateTaskRequest) { r.Task.Priority = taskv1.TaskPriority(-1) }), "task.priority"},
		{"request_id not a uuid", validCreateTask(func(r *taskv1.CreateTaskRequest) { r.RequestId = "retry-1" }), "request_id"},
		{"task missing", &taskv1.CreateTaskRequest{}, "task"},
		{"update title blank", &taskv1.UpdateTaskRequest{Task: &taskv1.Task{Id: 1, Title: " "}}, "task.title"},
		{"update status undefined", &taskv1.UpdateTaskRequest{Task: &taskv1.Task{Id: 1, Status: taskv1.TaskStatus(4)}}, "task.status"},
		{"task page_size 1001", &taskv1.ListTasksRequest{PageSize: 1001}, "page_size"},
		{"task page_size -1", &taskv1.ListTasksRequest{PageSize: -1}, "page_size"},
		{"status filter undefined", &taskv1.ListTasksRequest{Status: []taskv1.TaskStatus{taskv1.TaskStatus_TASK_STATUS_PENDING, 99}}, "status[1]"},
		// (An UNSPECIFIED status filter passes the rules: the task service
		// refuses it in a sentence, see taskapi's tests.)
		{"priority filter undefined", &taskv1.ListTasksRequest{Priority: []taskv1.TaskPriority{7}}, "priority[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := call(t.Context(), ts.conn, tt.req)
			st := status.Convert(err)
			if got, want := st.Code(), codes.InvalidArgument; got != want {
				t.Fatalf("code = %v, want %v (%v)", got, want, err)
			}
			if got, want := grpcerr.Fields(err), []string{tt.field}; !slices.Equal(got, want) {
				t.Errorf("BadRequest fields = %q, want %q", got, want)
			}
			for _, fv := range grpcerr.FieldViolations(err) {
				if fv.Description == "" {
					t.Errorf("violation of %s has no description", fv.Field)
				}
			}
			if msg := st.Message(); !strings.HasPrefix(msg, "invalid request: "+tt.field+": ") {
				t.Errorf("message = %q, want it to name %s", msg, tt.field)
			}
		})
	}
}

func TestValidation_EveryViolatedFieldIsListed(t *testing.T) {
	ts := start(t, grpcserver.Config{}, registerUser(&userServer{}))
	err := call(t.Context(), ts.conn, &userv1.CreateUserRequest{Email: "x", Username: "X", Password: "short"})
	if got, want := grpcerr.Fields(err), []string{"email", "username", "password"}; !slices.Equal(got, want) {
		t.Errorf("BadRequest fields = %q, want %q (%v)", got, want, err)
	}
}

func TestValidation_ValidRequestsReachTheHandler(t *testing.T) {
	ts := start(t, grpcserver.Config{}, func(g *grpc.Server) {
		userv1.RegisterUserServiceServer(g, &userServer{})
		taskv1.RegisterTaskServiceServer(g, taskServer{})
	})
	tests := []struct {
		name string
		req  proto.Message
	}{
		{"password 12 chars", validCreateUser(func(r *userv1.CreateUserRequest) { r.Password = strings.Repeat("p", 12) })},
		{"password 128 chars", validCreateUser(func(r *userv1.CreateUserRequest) { r.Password = strings.Repeat("p", 128) })},
		{"password 12 emoji", validCreateUser(func(r *userv1.CreateUserRequest) { r.Password = strings.Repeat("🔑", 12) })},
		{"username 3 chars of every class", validCreateUser(func(r *userv1.CreateUserRequest) { r.Username = "a_." })},
		{"username 32 chars", validCreateUser(func(r *userv1.CreateUserRequest) { r.Username = strings.Repeat("a", 30) + "-9" })},
		{"new password 128 chars", &userv1.ChangePasswordRequest{Id: 1, CurrentPassword: "x", NewPassword: strings.Repeat("p", 128)}},
		{"user page_size 1000", &userv1.ListUsersRequest{PageSize: 1000}},
		{"title 500 chars", validCreateTask(func(r *taskv1.CreateTaskRequest) { r.Task.Title = strings.Repeat("t", 500) })},
		{"title padded", validCreateTask(func(r *taskv1.CreateTaskRequest) { r.Task.Title = "  x  " })},
		{"description 10000 chars", validCreateTask(func(r *taskv1.CreateTaskRequest) { r.Task.Description = strings.Repeat("d", 10000) })},
		{"status and priority defined", validCreateTask(func(r *taskv1.CreateTaskRequest) {
			r.Task.Status = taskv1.TaskStatus_TASK_STATUS_COMPLETED
			r.Task.Priority = taskv1.TaskPriority_TASK_PRIORITY_URGENT
		})},
		{"status unspecified", validCreateTask(func(r *taskv1.CreateTaskRequest) { r.Task.Status = taskv1.TaskStatus_TASK_STATUS_UNSPECIFIED })},
		{"request_id uuid", validCreateTask(func(r *taskv1.CreateTaskRequest) { r.RequestId = "8c5f8b1e-2a3d-4c6b-9f1e-0a1b2c3d4e5f" })},
		{"update with only an id", &taskv1.UpdateTaskRequest{Task: &taskv1.Task{Id: 1}}},
		{"task page_size 0", &taskv1.ListTasksRequest{}},
		{"task page_size 1000 with filters", &taskv1.ListTasksRequest{
			PageSize: 1000,
			Status:   []taskv1.TaskStatus{taskv1.TaskStatus_TASK_STATUS_PENDING, taskv1.TaskStatus_TASK_STATUS_IN_PROGRESS},
			Priority: []taskv1.TaskPriority{taskv1.TaskPriority_TASK_PRIORITY_HIGH},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := call(t.Context(), ts.conn, tt.req); err != nil {
				t.Errorf("call = %v, want OK", err)
			}
		})
	}
}
