package grpcserver

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
)

// BenchmarkTextCheck measures the text check every request goes through
// before protovalidate (validator.check): clean requests of several shapes,
// and one with a NUL (which also builds the BadRequest status).
func BenchmarkTextCheck(b *testing.B) {
	v := newValidator(slog.New(slog.DiscardHandler))
	ctx := context.Background()
	cases := []struct {
		name  string
		req   any
		valid bool
	}{
		{"GetTask/no strings", &taskv1.GetTaskRequest{Id: 1}, true},
		{"CreateTask/valid", &taskv1.CreateTaskRequest{
			Task: &taskv1.Task{
				Title:       "Write the benchmark",
				Description: strings.Repeat("d", 500),
				Status:      taskv1.TaskStatus_TASK_STATUS_PENDING,
				Priority:    taskv1.TaskPriority_TASK_PRIORITY_HIGH,
			},
			RequestId: "8c5f8b1e-2a3d-4c6b-9f1e-0a1b2c3d4e5f",
		}, true},
		{"UpdateTask/valid with mask", &taskv1.UpdateTaskRequest{
			Task:       &taskv1.Task{Id: 1, Title: "Retitled", Etag: "W/\"3\""},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title", "description", "status"}},
		}, true},
		{"CreateUser/valid", &userv1.CreateUserRequest{Email: "alice@example.com", Username: "alice", Password: "correct-horse-battery"}, true},
		{"CreateTask/description 10000 chars", &taskv1.CreateTaskRequest{Task: &taskv1.Task{Title: "t", Description: strings.Repeat("é", 5000)}}, true},
		{"CreateUser/NUL", &userv1.CreateUserRequest{Email: "alice@example.com", Username: "alice", Password: "correct\x00horse"}, false},
	}
	for _, c := range cases {
		if err := v.check(ctx, c.req); (err == nil) != c.valid {
			b.Fatalf("%s: check = %v", c.name, err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = v.check(ctx, c.req)
			}
		})
	}
}
