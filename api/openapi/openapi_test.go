package openapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/api/openapi"
)

// internalMethods are the RPCs that other services call over gRPC only.
var internalMethods = map[protoreflect.FullName]bool{
	"todo.user.v1.UserService.BatchGetUsers": true,
}

// TestEveryPublicRPCHasHTTPBinding fails when a method is added to a
// service without a google.api.http route (or an internal one gains one).
func TestEveryPublicRPCHasHTTPBinding(t *testing.T) {
	for _, sd := range []protoreflect.ServiceDescriptor{
		userv1.File_todo_user_v1_user_proto.Services().ByName("UserService"),
		taskv1.File_todo_task_v1_task_proto.Services().ByName("TaskService"),
	} {
		for i := 0; i < sd.Methods().Len(); i++ {
			m := sd.Methods().Get(i)
			rule, _ := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
			hasRoute := rule != nil && rule.GetPattern() != nil
			if internalMethods[m.FullName()] {
				if hasRoute {
					t.Errorf("%s is internal but has an HTTP route", m.FullName())
				}
				continue
			}
			if !hasRoute {
				t.Errorf("%s has no google.api.http binding", m.FullName())
			}
		}
	}
}

// TestDocumentHasEveryDesignRoute checks the OpenAPI document against the
// REST routes the README documents for both services.
func TestDocumentHasEveryDesignRoute(t *testing.T) {
	routes := []struct{ method, path string }{
		{"post", "/v1/users"},
		{"post", "/v1/auth/login"},
		{"post", "/v1/auth/refresh"},
		{"post", "/v1/auth/logout"},
		{"get", "/v1/auth/keys"},
		{"get", "/v1/users/me"},
		{"get", "/v1/users/{id}"},
		{"get", "/v1/users"},
		{"patch", "/v1/users/{id}"},
		{"post", "/v1/users/{id}:changePassword"},
		{"post", "/v1/users/{id}:deactivate"},
		{"post", "/v1/users/{id}:activate"},
		{"post", "/v1/tasks"},
		{"get", "/v1/tasks/{id}"},
		{"get", "/v1/tasks"},
		{"patch", "/v1/tasks/{id}"},
		{"delete", "/v1/tasks/{id}"},
		{"post", "/v1/tasks/{id}:assign"},
		{"get", "/v1/tasks:stats"},
	}
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
			Summary     string `json:"summary"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(openapi.JSON, &doc); err != nil {
		t.Fatalf("decode OpenAPI document: %v", err)
	}
	for _, r := range routes {
		op, ok := doc.Paths[r.path][r.method]
		if !ok {
			t.Errorf("OpenAPI document has no %s %s", strings.ToUpper(r.method), r.path)
			continue
		}
		if op.Summary == "" {
			t.Errorf("%s %s (%s) has no summary from the proto comments", strings.ToUpper(r.method), r.path, op.OperationID)
		}
	}
}
