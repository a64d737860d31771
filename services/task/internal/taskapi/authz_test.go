package taskapi_test

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
)

// TestAuthorizationMatrix runs every method as A (creator), B (assignee),
// C (stranger) and an admin on A's task: C always gets the answer of a
// missing id, B may read and change the status only.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	cl := bn.client
	tk := bn.create(t, bn.asA(t), &taskv1.Task{Title: "A's task", Priority: taskv1.TaskPriority_TASK_PRIORITY_HIGH})
	other := bn.create(t, bn.asA(t), &taskv1.Task{Title: "A's other task"})
	if _, err := cl.AssignTask(bn.asA(t), &taskv1.AssignTaskRequest{Id: tk.GetId(), AssigneeId: bn.b}); err != nil {
		t.Fatalf("A assigns to B: %v", err)
	}
	missing := other.GetId() + 1000

	// current reads the task as A; unchanged fails the test if it changed.
	current := func(t *testing.T) *taskv1.Task {
		t.Helper()
		resp, err := cl.GetTask(bn.asA(t), &taskv1.GetTaskRequest{Id: tk.GetId()})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	unchanged := func(t *testing.T, before *taskv1.Task) {
		t.Helper()
		if after := current(t); !proto.Equal(before, after) {
			t.Errorf("a refused call changed the task:\nbefore %v\nafter  %v", before, after)
		}
	}
	// likeMissing fails unless err is exactly the error for a missing id.
	likeMissing := func(t *testing.T, err error, call func(id int64) error) {
		t.Helper()
		st := wantStatus(t, err, codes.NotFound)
		ref, _ := status.FromError(call(missing))
		if ref.Code() != st.Code() || ref.Message() != st.Message() || len(ref.Details()) != len(st.Details()) {
			t.Errorf("stranger got %v %q; a missing id gets %v %q", st.Code(), st.Message(), ref.Code(), ref.Message())
		}
	}

	t.Run("Get", func(t *testing.T) {
		for name, ctx := range map[string]func(*testing.T) context.Context{"creator": bn.asA, "assignee": bn.asB, "admin": bn.asAdmin} {
			if _, err := cl.GetTask(ctx(t), &taskv1.GetTaskRequest{Id: tk.GetId()}); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		get := func(id int64) error { _, err := cl.GetTask(bn.asC(t), &taskv1.GetTaskRequest{Id: id}); return err }
		likeMissing(t, get(tk.GetId()), get)
	})

	t.Run("List", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			ctx  func(*testing.T) context.Context
			sees bool
		}{{"creator", bn.asA, true}, {"assignee", bn.asB, true}, {"stranger", bn.asC, false}, {"admin", bn.asAdmin, true}} {
			for _, req := range []*taskv1.ListTasksRequest{{}, {CreatedBy: proto.Int64(bn.a)}, {AssignedTo: proto.Int64(bn.b)}} {
				resp, err := cl.ListTasks(tc.ctx(t), req)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				got := slices.ContainsFunc(resp.GetTasks(), func(x *taskv1.Task) bool { return x.GetId() == tk.GetId() })
				if got != tc.sees {
					t.Errorf("%s lists %v: task listed %v, want %v", tc.name, req, got, tc.sees)
				}
			}
		}
	})

	t.Run("Stats", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			ctx   func(*testing.T) context.Context
			total int64
		}{{"creator", bn.asA, 2}, {"assignee", bn.asB, 0}, {"stranger", bn.asC, 0}, {"admin", bn.asAdmin, 0}} {
			resp, err := cl.GetTaskStats(tc.ctx(t), &taskv1.GetTaskStatsRequest{})
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if resp.GetTotal() != tc.total {
				t.Errorf("%s: total %d, want %d (only the tasks one created count)", tc.name, resp.GetTotal(), tc.total)
			}
		}
	})

	t.Run("Update", func(t *testing.T) {
		status := func(s taskv1.TaskStatus) *taskv1.UpdateTaskRequest {
			return &taskv1.UpdateTaskRequest{Task: &taskv1.Task{Id: tk.GetId(), Status: s}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status"}}}
		}
		title := func(id int64, s string) *taskv1.UpdateTaskRequest {
			return &taskv1.UpdateTaskRequest{Task: &taskv1.Task{Id: id, Title: s}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}}
		}
		for name, ctx := range map[string]func(*testing.T) context.Context{"creator": bn.asA, "assignee": bn.asB, "admin": bn.asAdmin} {
			resp, err := cl.UpdateTask(ctx(t), status(taskv1.TaskStatus_TASK_STATUS_IN_PROGRESS))
			if err != nil {
				t.Errorf("%s changes the status: %v", name, err)
			} else if resp.GetStatus() != taskv1.TaskStatus_TASK_STATUS_IN_PROGRESS {
				t.Errorf("%s changes the status: got %v", name, resp.GetStatus())
			}
		}
		for name, ctx := range map[string]func(*testing.T) context.Context{"creator": bn.asA, "admin": bn.asAdmin} {
			if _, err := cl.UpdateTask(ctx(t), title(tk.GetId(), "by "+name)); err != nil {
				t.Errorf("%s changes the title: %v", name, err)
			}
		}
		before := current(t)
		_, err := cl.UpdateTask(bn.asB(t), title(tk.GetId(), "by assignee"))
		wantStatus(t, err, codes.PermissionDenied)
		both := status(taskv1.TaskStatus_TASK_STATUS_COMPLETED)
		both.Task.Title, both.UpdateMask.Paths = "x", []string{"status", "title"}
		_, err = cl.UpdateTask(bn.asB(t), both)
		wantStatus(t, err, codes.PermissionDenied)
		update := func(id int64) error { _, err := cl.UpdateTask(bn.asC(t), title(id, "by stranger")); return err }
		likeMissing(t, update(tk.GetId()), update)
		_, err = cl.UpdateTask(bn.asC(t), status(taskv1.TaskStatus_TASK_STATUS_COMPLETED))
		wantStatus(t, err, codes.NotFound)
		unchanged(t, before)
	})

	t.Run("Assign", func(t *testing.T) {
		for name, ctx := range map[string]func(*testing.T) context.Context{"creator": bn.asA, "admin": bn.asAdmin} {
			if _, err := cl.AssignTask(ctx(t), &taskv1.AssignTaskRequest{Id: tk.GetId(), AssigneeId: bn.b}); err != nil {
				t.Errorf("%s assigns: %v", name, err)
			}
		}
		before := current(t)
		_, err := cl.AssignTask(bn.asB(t), &taskv1.AssignTaskRequest{Id: tk.GetId(), AssigneeId: bn.c})
		wantStatus(t, err, codes.PermissionDenied)
		_, err = cl.AssignTask(bn.asB(t), &taskv1.AssignTaskRequest{Id: tk.GetId(), AssigneeId: 0})
		wantStatus(t, err, codes.PermissionDenied)
		assign := func(id int64) error {
			_, err := cl.AssignTask(bn.asC(t), &taskv1.AssignTaskRequest{Id: id, AssigneeId: bn.c})
			return err
		}
		likeMissing(t, assign(tk.GetId()), assign)
		unchanged(t, before)
	})

	t.Run("Delete", func(t *testing.T) {
		before := current(t)
		_, err := cl.DeleteTask(bn.asB(t), &taskv1.DeleteTaskRequest{Id: tk.GetId()})
		wantStatus(t, err, codes.PermissionDenied)
		del := func(id int64) error {
			_, err := cl.DeleteTask(bn.asC(t), &taskv1.DeleteTaskRequest{Id: id})
			return err
		}
		likeMissing(t, del(tk.GetId()), del)
		unchanged(t, before)

		if _, err := cl.DeleteTask(bn.asAdmin(t), &taskv1.DeleteTaskRequest{Id: other.GetId()}); err != nil {
			t.Errorf("admin deletes: %v", err)
		}
		if _, err := cl.DeleteTask(bn.asA(t), &taskv1.DeleteTaskRequest{Id: tk.GetId()}); err != nil {
			t.Errorf("creator deletes: %v", err)
		}
		for _, id := range []int64{tk.GetId(), other.GetId()} {
			_, err := cl.GetTask(bn.asAdmin(t), &taskv1.GetTaskRequest{Id: id})
			wantStatus(t, err, codes.NotFound)
		}
	})
}

func TestEveryMethodNeedsAToken(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	cl := bn.client
	ctx := bn.asNobody(t)
	calls := map[string]func() error{
		"CreateTask": func() error {
			_, err := cl.CreateTask(ctx, &taskv1.CreateTaskRequest{Task: &taskv1.Task{Title: "x"}})
			return err
		},
		"GetTask":   func() error { _, err := cl.GetTask(ctx, &taskv1.GetTaskRequest{Id: 1}); return err },
		"ListTasks": func() error { _, err := cl.ListTasks(ctx, &taskv1.ListTasksRequest{}); return err },
		"UpdateTask": func() error {
			_, err := cl.UpdateTask(ctx, &taskv1.UpdateTaskRequest{Task: &taskv1.Task{Id: 1}})
			return err
		},
		"DeleteTask":   func() error { _, err := cl.DeleteTask(ctx, &taskv1.DeleteTaskRequest{Id: 1}); return err },
		"AssignTask":   func() error { _, err := cl.AssignTask(ctx, &taskv1.AssignTaskRequest{Id: 1}); return err },
		"GetTaskStats": func() error { _, err := cl.GetTaskStats(ctx, &taskv1.GetTaskStatsRequest{}); return err },
		"ListTaskEvents": func() error {
			_, err := cl.ListTaskEvents(ctx, &taskv1.ListTaskEventsRequest{Id: 1})
			return err
		},
		"ListTaskAuditEvents": func() error {
			_, err := cl.ListTaskAuditEvents(ctx, &taskv1.ListTaskAuditEventsRequest{})
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) { wantStatus(t, call(), codes.Unauthenticated) })
	}
}
