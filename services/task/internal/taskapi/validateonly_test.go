package taskapi_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/google/go-cmp/cmp"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
)

// dbState is everything a write could change: every task row and the
// number of audit rows.
func dbState(t *testing.T, bn *bundle) (tasks string, audit int) {
	t.Helper()
	err := bn.db.Owner.QueryRow(context.Background(), `
SELECT coalesce((SELECT jsonb_agg(to_jsonb(t) ORDER BY id)::text FROM task t), ''),
       (SELECT count(*) FROM task_audit_event)`).Scan(&tasks, &audit)
	if err != nil {
		t.Fatal(err)
	}
	return tasks, audit
}

// writesNothing fails the test when call changes the database.
func writesNothing(t *testing.T, bn *bundle, call func()) {
	t.Helper()
	tasks, audit := dbState(t, bn)
	call()
	gotTasks, gotAudit := dbState(t, bn)
	if gotTasks != tasks {
		t.Errorf("validate_only changed the task table:\nbefore %s\nafter  %s", tasks, gotTasks)
	}
	if gotAudit != audit {
		t.Errorf("validate_only wrote audit rows: %d before, %d after", audit, gotAudit)
	}
}

// ignoreWriteTimes leaves out of a comparison the fields whose values are
// the time of the write (now() of its transaction) and the id a create
// draws.
var ignoreWriteTimes = protocmp.IgnoreFields(&taskv1.Task{}, "id", "created_at", "updated_at", "completed_at")

func TestValidateOnly_WritesNothingAndReturnsTheWouldBeResult(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	cl := bn.client
	const rid = "0b8e4a4e-9a55-4c1f-8d3e-1f2a3b4c5d6e"

	t.Run("CreateTask", func(t *testing.T) {
		req := &taskv1.CreateTaskRequest{Task: &taskv1.Task{Title: "dry", Priority: taskv1.TaskPriority_TASK_PRIORITY_HIGH, Status: taskv1.TaskStatus_TASK_STATUS_COMPLETED}, RequestId: rid, ValidateOnly: true}
		var dry *taskv1.Task
		writesNothing(t, bn, func() {
			var err error
			if dry, err = cl.CreateTask(bn.asA(t), req); err != nil {
				t.Fatal(err)
			}
		})
		if dry.GetId() != 0 || dry.GetCreatedBy() != bn.a || dry.GetCompletedAt() == nil || dry.GetEtag() != "v1" {
			t.Errorf("validate_only create answered %v; want no id, created by A, completed, etag v1", dry)
		}
		// The request_id was not used up: the real create makes the task.
		real := proto.Clone(req).(*taskv1.CreateTaskRequest)
		real.ValidateOnly = false
		got, err := cl.CreateTask(bn.asA(t), real)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(got, dry, protocmp.Transform(), ignoreWriteTimes); diff != "" {
			t.Errorf("validate_only and real create differ (-real +dry):\n%s", diff)
		}
		// A dry repeat of the request_id answers the task already made.
		writesNothing(t, bn, func() {
			again, err := cl.CreateTask(bn.asA(t), req)
			if err != nil || !proto.Equal(again, got) {
				t.Errorf("dry repeat of the request_id: %v, %v; want %v", again, err, got)
			}
		})
	})

	tk := bn.create(t, bn.asA(t), &taskv1.Task{Title: "target", Description: "d"})

	t.Run("UpdateTask", func(t *testing.T) {
		req := &taskv1.UpdateTaskRequest{
			Task:         &taskv1.Task{Id: tk.GetId(), Title: "renamed", Status: taskv1.TaskStatus_TASK_STATUS_COMPLETED, Etag: tk.GetEtag()},
			UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"title", "status"}},
			ValidateOnly: true,
		}
		var dry *taskv1.Task
		writesNothing(t, bn, func() {
			var err error
			if dry, err = cl.UpdateTask(bn.asA(t), req); err != nil {
				t.Fatal(err)
			}
		})
		if dry.GetTitle() != "renamed" || dry.GetEtag() != "v2" || dry.GetCompletedAt() == nil || dry.GetDescription() != "d" {
			t.Errorf("validate_only update answered %v", dry)
		}
		// The etag still holds: nothing was written.
		real := proto.Clone(req).(*taskv1.UpdateTaskRequest)
		real.ValidateOnly = false
		got, err := cl.UpdateTask(bn.asA(t), real)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(got, dry, protocmp.Transform(), ignoreWriteTimes); diff != "" {
			t.Errorf("validate_only and real update differ (-real +dry):\n%s", diff)
		}
		tk = got
	})

	t.Run("AssignTask", func(t *testing.T) {
		req := &taskv1.AssignTaskRequest{Id: tk.GetId(), AssigneeId: bn.b, Etag: tk.GetEtag(), ValidateOnly: true}
		checks := len(bn.users.seen())
		var dry *taskv1.Task
		writesNothing(t, bn, func() {
			var err error
			if dry, err = cl.AssignTask(bn.asA(t), req); err != nil {
				t.Fatal(err)
			}
		})
		if dry.GetAssignedTo() != bn.b || dry.GetId() != tk.GetId() {
			t.Errorf("validate_only assign answered %v", dry)
		}
		if got := len(bn.users.seen()); got != checks+1 {
			t.Errorf("validate_only assign asked the user directory %d times, want 1", got-checks)
		}
		real := proto.Clone(req).(*taskv1.AssignTaskRequest)
		real.ValidateOnly = false
		got, err := cl.AssignTask(bn.asA(t), real)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(got, dry, protocmp.Transform(), ignoreWriteTimes); diff != "" {
			t.Errorf("validate_only and real assign differ (-real +dry):\n%s", diff)
		}
		tk = got
	})

	t.Run("DeleteTask", func(t *testing.T) {
		writesNothing(t, bn, func() {
			if _, err := cl.DeleteTask(bn.asA(t), &taskv1.DeleteTaskRequest{Id: tk.GetId(), Etag: tk.GetEtag(), ValidateOnly: true}); err != nil {
				t.Fatal(err)
			}
		})
		if _, err := cl.GetTask(bn.asA(t), &taskv1.GetTaskRequest{Id: tk.GetId()}); err != nil {
			t.Errorf("after a validate_only delete: %v", err)
		}
		if _, err := cl.DeleteTask(bn.asA(t), &taskv1.DeleteTaskRequest{Id: tk.GetId(), Etag: tk.GetEtag()}); err != nil {
			t.Errorf("real delete with the same etag: %v", err)
		}
	})
}

// TestValidateOnly_FailsAsTheRealCallFails runs each refused write twice,
// with and without validate_only: the same code, message and details, and
// nothing written by either.
func TestValidateOnly_FailsAsTheRealCallFails(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	cl := bn.client
	tk := bn.create(t, bn.asA(t), &taskv1.Task{Title: "t"})
	if _, err := cl.AssignTask(bn.asA(t), &taskv1.AssignTaskRequest{Id: tk.GetId(), AssigneeId: bn.b}); err != nil {
		t.Fatal(err)
	}
	const rid = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
	if _, err := cl.CreateTask(bn.asA(t), &taskv1.CreateTaskRequest{Task: &taskv1.Task{Title: "first"}, RequestId: rid}); err != nil {
		t.Fatal(err)
	}
	mask := func(p ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: p} }
	for _, tc := range []struct {
		name string
		code codes.Code
		call func(ctx context.Context, validateOnly bool) error
	}{
		{"create with a blank title", codes.InvalidArgument, func(ctx context.Context, v bool) error {
			_, err := cl.CreateTask(ctx, &taskv1.CreateTaskRequest{Task: &taskv1.Task{Title: " "}, ValidateOnly: v})
			return err
		}},
		{"create reusing a request_id", codes.FailedPrecondition, func(ctx context.Context, v bool) error {
			_, err := cl.CreateTask(ctx, &taskv1.CreateTaskRequest{Task: &taskv1.Task{Title: "second"}, RequestId: rid, ValidateOnly: v})
			return err
		}},
		{"update with a stale etag", codes.Aborted, func(ctx context.Context, v bool) error {
			_, err := cl.UpdateTask(ctx, &taskv1.UpdateTaskRequest{Task: &taskv1.Task{Id: tk.GetId(), Title: "x", Etag: "v1"}, UpdateMask: mask("title"), ValidateOnly: v})
			return err
		}},
		{"update of the title by the assignee", codes.PermissionDenied, func(_ context.Context, v bool) error {
			_, err := cl.UpdateTask(bn.asB(t), &taskv1.UpdateTaskRequest{Task: &taskv1.Task{Id: tk.GetId(), Title: "x"}, UpdateMask: mask("title"), ValidateOnly: v})
			return err
		}},
		{"update by a stranger", codes.NotFound, func(_ context.Context, v bool) error {
			_, err := cl.UpdateTask(bn.asC(t), &taskv1.UpdateTaskRequest{Task: &taskv1.Task{Id: tk.GetId(), Title: "x"}, UpdateMask: mask("title"), ValidateOnly: v})
			return err
		}},
		{"assign to an inactive user", codes.FailedPrecondition, func(ctx context.Context, v bool) error {
			_, err := cl.AssignTask(ctx, &taskv1.AssignTaskRequest{Id: tk.GetId(), AssigneeId: bn.inactive, ValidateOnly: v})
			return err
		}},
		{"assign by the assignee", codes.PermissionDenied, func(_ context.Context, v bool) error {
			_, err := cl.AssignTask(bn.asB(t), &taskv1.AssignTaskRequest{Id: tk.GetId(), AssigneeId: bn.c, ValidateOnly: v})
			return err
		}},
		{"delete with a stale etag", codes.Aborted, func(ctx context.Context, v bool) error {
			_, err := cl.DeleteTask(ctx, &taskv1.DeleteTaskRequest{Id: tk.GetId(), Etag: "v1", ValidateOnly: v})
			return err
		}},
		{"delete by a stranger", codes.NotFound, func(_ context.Context, v bool) error {
			_, err := cl.DeleteTask(bn.asC(t), &taskv1.DeleteTaskRequest{Id: tk.GetId(), ValidateOnly: v})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			writesNothing(t, bn, func() {
				dryErr := tc.call(bn.asA(t), true)
				realErr := tc.call(bn.asA(t), false)
				dry, real := status.Convert(dryErr), status.Convert(realErr)
				if real.Code() != tc.code {
					t.Fatalf("real call: %v %q, want %v", real.Code(), real.Message(), tc.code)
				}
				if diff := cmp.Diff(real.Proto(), dry.Proto(), protocmp.Transform()); diff != "" {
					t.Errorf("validate_only fails otherwise than the real call (-real +dry):\n%s", diff)
				}
			})
		})
	}
}
