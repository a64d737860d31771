package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/proctest"
)

// TestGRPC_ReflectionAndHealth checks what operators rely on with grpcurl:
// each service lists itself through server reflection, reports SERVING on
// grpc.health.v1, and answers the README's grpcurl calls.
func TestGRPC_ReflectionAndHealth(t *testing.T) {
	s := startStack(t)
	services := []struct {
		name, addr, service string
	}{
		{"user", s.user.Addr(), userv1.UserService_ServiceDesc.ServiceName},
		{"task", s.task.Addr(), taskv1.TaskService_ServiceDesc.ServiceName},
	}
	for _, svc := range services {
		t.Run(svc.name, func(t *testing.T) {
			conn := proctest.Dial(t, svc.addr)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()

			stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.Send(&reflectionpb.ServerReflectionRequest{
				MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
			}); err != nil {
				t.Fatal(err)
			}
			resp, err := stream.Recv()
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range resp.GetListServicesResponse().GetService() {
				names = append(names, s.GetName())
			}
			for _, want := range []string{svc.service, "grpc.health.v1.Health"} {
				if !slices.Contains(names, want) {
					t.Errorf("reflection lists %v, want %s among them", names, want)
				}
			}
			// describe: the service's file descriptor is served too.
			if err := stream.Send(&reflectionpb.ServerReflectionRequest{
				MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: svc.service},
			}); err != nil {
				t.Fatal(err)
			}
			fd, err := stream.Recv()
			if err != nil {
				t.Fatal(err)
			}
			if len(fd.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
				t.Errorf("no file descriptor for %s: %v", svc.service, fd.GetErrorResponse())
			}
			_ = stream.CloseSend()

			hc := healthpb.NewHealthClient(conn)
			for _, name := range []string{"", svc.service} {
				resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: name})
				if err != nil {
					t.Fatalf("health %q: %v", name, err)
				}
				if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
					t.Errorf("health %q = %s, want SERVING", name, resp.GetStatus())
				}
			}
		})
	}

	// The README's grpcurl steps, with the generated clients.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	users := userv1.NewUserServiceClient(proctest.Dial(t, s.user.Addr()))
	tasks := taskv1.NewTaskServiceClient(proctest.Dial(t, s.task.Addr()))
	if _, err := users.CreateUser(ctx, &userv1.CreateUserRequest{Email: "dan@example.com", Username: "dan", Password: "correct horse battery"}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	login, err := users.Login(ctx, &userv1.LoginRequest{Login: "dan", Password: "correct horse battery"})
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if _, err := tasks.ListTasks(ctx, &taskv1.ListTasksRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("ListTasks without a token: %v, want Unauthenticated", err)
	}
	authed := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+login.GetTokens().GetAccessToken())
	created, err := tasks.CreateTask(authed, &taskv1.CreateTaskRequest{Task: &taskv1.Task{Title: "From grpcurl"}})
	if err != nil {
		t.Fatalf("CreateTask: %v", err)
	}
	listed, err := tasks.ListTasks(authed, &taskv1.ListTasksRequest{Status: []taskv1.TaskStatus{taskv1.TaskStatus_TASK_STATUS_PENDING}, PageSize: 10})
	if err != nil {
		t.Fatalf("ListTasks: %v", err)
	}
	if len(listed.GetTasks()) != 1 || listed.GetTasks()[0].GetId() != created.GetId() {
		t.Errorf("ListTasks = %v, want the created task", listed.GetTasks())
	}
}
