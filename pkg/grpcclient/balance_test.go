package grpcclient_test

import (
	"encoding/json"
	"slices"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/grpcclient"
)

// TestIdempotentMethods_AreReadsOfTheService checks that every method the
// retry policy names exists in its service, that none of them is a write
// by name, that the reads the task service and the gateway rely on are
// there, and that every method without a REST route is one InternalRead
// has decided on (a new internal method makes this fail until it is).
func TestIdempotentMethods_AreReadsOfTheService(t *testing.T) {
	for _, service := range []string{userv1.UserService_ServiceDesc.ServiceName, taskv1.TaskService_ServiceDesc.ServiceName} {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(service))
		if err != nil {
			t.Fatal(err)
		}
		sd := d.(protoreflect.ServiceDescriptor)
		methods := grpcclient.IdempotentMethods(service)
		if len(methods) == 0 {
			t.Errorf("%s: no idempotent methods", service)
		}
		for _, want := range map[string][]string{
			userv1.UserService_ServiceDesc.ServiceName: {"GetPublicKeys", "GetUser", "GetCurrentUser", "ListUsers", "BatchGetUsers", "ListUserAuditEvents", "ListPersonalAccessTokens"},
			taskv1.TaskService_ServiceDesc.ServiceName: {"GetTask", "ListTasks", "GetTaskStats", "ListTaskEvents", "ListTaskAuditEvents", "ListTaskChanges", "ListWebhooks"},
		}[service] {
			if !slices.Contains(methods, want) {
				t.Errorf("%s.%s is a read but not retried: %v", service, want, methods)
			}
		}
		for i := range sd.Methods().Len() {
			m := sd.Methods().Get(i)
			if !proto.HasExtension(m.Options(), annotations.E_Http) && !grpcclient.InternalRead(m.FullName()) {
				t.Errorf("%s has no REST route and is not an InternalRead: decide whether it is a read", m.FullName())
			}
		}
		for _, m := range methods {
			if sd.Methods().ByName(protoreflect.Name(m)) == nil {
				t.Errorf("%s has no method %s", service, m)
			}
			for _, verb := range []string{"Create", "Update", "Delete", "Assign", "Login", "Logout", "Refresh", "Change", "Activate", "Deactivate"} {
				if len(m) >= len(verb) && m[:len(verb)] == verb {
					t.Errorf("%s.%s is retried but is a write", service, m)
				}
			}
		}
	}
}

// TestDial_ServiceConfigAndTargets checks that gRPC accepts the service
// config and each form of address Dial documents, and refuses a bad list.
func TestDial_ServiceConfigAndTargets(t *testing.T) {
	var cfg map[string]any
	if err := json.Unmarshal([]byte(grpcclient.ServiceConfig(taskv1.TaskService_ServiceDesc.ServiceName)), &cfg); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"loadBalancingConfig", "healthCheckConfig", "methodConfig"} {
		if _, ok := cfg[key]; !ok {
			t.Errorf("service config has no %s: %v", key, cfg)
		}
	}
	for _, addr := range []string{"localhost:50052", "dns:///task.todo.svc.cluster.local:50052", "127.0.0.1:1,127.0.0.1:2"} {
		conn, err := grpcclient.Dial(addr, grpcclient.ForService(taskv1.TaskService_ServiceDesc.ServiceName))
		if err != nil {
			t.Errorf("Dial(%q): %v", addr, err)
			continue
		}
		conn.Close()
	}
	if _, err := grpcclient.Dial("127.0.0.1:1,no-port"); err == nil {
		t.Error("Dial of a list with an address without a port succeeded")
	}
}
