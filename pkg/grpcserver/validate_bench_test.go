package grpcserver

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
)

// BenchmarkValidate measures the protovalidate interceptor's work for one
// request: a valid task create, a valid sign-up, and an invalid sign-up (which
// also builds the BadRequest status).
func BenchmarkValidate(b *testing.B) {
	v := newValidator(slog.New(slog.DiscardHandler))
	ctx := context.Background()
	cases := []struct {
		name  string
		req   any
		valid bool
	}{
		{"CreateTask/valid", &taskv1.CreateTaskRequest{
			Task: &taskv1.Task{
				Title:       "Write the benchmark",
				Description: strings.Repeat("d", 500),
				Status:      taskv1.TaskStatus_TASK_STATUS_PENDING,
				Priority:    taskv1.TaskPriority_TASK_PRIORITY_HIGH,
			},
			RequestId: "8c5f8b1e-2a3d-4c6b-9f1e-0a1b2c3d4e5f",
		}, true},
		{"CreateUser/valid", &userv1.CreateUserRequest{Email: "alice@example.com", Username: "alice", Password: "correct-horse-battery"}, true},
		{"CreateUser/invalid", &userv1.CreateUserRequest{Email: "alice", Username: "A", Password: "short"}, false},
	}
	for _, c := range cases {
		if err := v.validate(ctx, c.req); (err == nil) != c.valid {
			b.Fatalf("%s: validate = %v", c.name, err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = v.validate(ctx, c.req)
			}
		})
	}
}
