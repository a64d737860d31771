package taskapi_test

import (
	"slices"
	"testing"

	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/todo-platform/todo/pkg/testkit"
)

// TestReflection_DescribesTaskService does what `grpcurl -plaintext
// localhost:50052 describe todo.task.v1.TaskService` does.
func TestReflection_DescribesTaskService(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	stream, err := reflectionv1.NewServerReflectionClient(bn.conn).ServerReflectionInfo(testkit.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	ask := func(req *reflectionv1.ServerReflectionRequest) *reflectionv1.ServerReflectionResponse {
		t.Helper()
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if e := resp.GetErrorResponse(); e != nil {
			t.Fatalf("reflection error: %v", e)
		}
		return resp
	}

	list := ask(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{}})
	var services []string
	for _, s := range list.GetListServicesResponse().GetService() {
		services = append(services, s.GetName())
	}
	if !slices.Contains(services, "todo.task.v1.TaskService") {
		t.Fatalf("listed services %v lack todo.task.v1.TaskService", services)
	}

	files := ask(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_FileContainingSymbol{
		FileContainingSymbol: "todo.task.v1.TaskService",
	}})
	var methods []string
	for _, raw := range files.GetFileDescriptorResponse().GetFileDescriptorProto() {
		var fd descriptorpb.FileDescriptorProto
		if err := proto.Unmarshal(raw, &fd); err != nil {
			t.Fatal(err)
		}
		if fd.GetPackage() != "todo.task.v1" {
			continue
		}
		for _, s := range fd.GetService() {
			if s.GetName() == "TaskService" {
				for _, m := range s.GetMethod() {
					methods = append(methods, m.GetName())
				}
			}
		}
	}
	slices.Sort(methods)
	want := []string{"AssignTask", "BatchCreateTasks", "BatchDeleteTasks", "BatchUpdateTasks", "CreateTask", "CreateWebhook", "DeleteTask", "DeleteWebhook", "GetTask", "GetTaskStats", "ListTaskAuditEvents", "ListTaskChanges", "ListTaskEvents", "ListTasks", "ListWebhooks", "UndeleteTask", "UpdateTask", "WatchTasks"}
	if !slices.Equal(methods, want) {
		t.Errorf("described methods %v, want %v", methods, want)
	}
}
