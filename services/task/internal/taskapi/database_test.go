package taskapi_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	"github.com/todo-platform/todo/pkg/pgtest"
)

// TestStatementTimeout_IsDeadlineExceeded holds a row lock from a superuser
// transaction so that UpdateTask waits inside PostgreSQL until the pool's
// statement_timeout (from the DSN) cancels it with SQLSTATE 57014: the
// client must get DeadlineExceeded, not Internal, and the task must be
// unchanged. The client's own deadline is far away, so the code can only
// come from the server's mapping of the database's error.
func TestStatementTimeout_IsDeadlineExceeded(t *testing.T) {
	t.Parallel()
	bn := setup(t, func(o *options) { o.statementTimeout = 300 * time.Millisecond })
	tk := bn.create(t, bn.asA(t), &taskv1.Task{Title: "before"})

	ctx := context.Background()
	tx, err := bn.db.Owner.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT 1 FROM task WHERE id = $1 FOR UPDATE", tk.GetId()); err != nil {
		t.Fatal(err)
	}

	_, err = bn.client.UpdateTask(bn.asA(t), &taskv1.UpdateTaskRequest{
		Task:       &taskv1.Task{Id: tk.GetId(), Title: "after"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
	})
	st := wantStatus(t, err, codes.DeadlineExceeded)
	if st.Message() != "deadline exceeded" {
		t.Errorf("message %q, want %q", st.Message(), "deadline exceeded")
	}

	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := bn.client.GetTask(bn.asA(t), &taskv1.GetTaskRequest{Id: tk.GetId()})
	if err != nil || got.GetTitle() != "before" {
		t.Errorf("task after the timeout: %v, %v; want title %q", got, err, "before")
	}
}

// TestTerminatedBackends_NextCallsAreServed terminates all of the service
// pool's connections before each call, as a PostgreSQL restart does: reads
// and creates with a request_id must succeed on a fresh connection, other
// writes must succeed or answer Unavailable (when the statement may have
// reached the server), no call may answer Internal, and after each the next
// GetTask succeeds.
func TestTerminatedBackends_NextCallsAreServed(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	cl := bn.client
	tk := bn.create(t, bn.asA(t), &taskv1.Task{Title: "survivor"})
	victim := bn.create(t, bn.asA(t), &taskv1.Task{Title: "to delete"})

	type call struct {
		name string
		safe bool // retried after any connection failure: must succeed
		do   func(ctx context.Context) error
	}
	calls := []call{
		{"GetTask", true, func(ctx context.Context) error {
			_, err := cl.GetTask(ctx, &taskv1.GetTaskRequest{Id: tk.GetId()})
			return err
		}},
		{"ListTasks", true, func(ctx context.Context) error {
			_, err := cl.ListTasks(ctx, &taskv1.ListTasksRequest{})
			return err
		}},
		{"GetTaskStats", true, func(ctx context.Context) error {
			_, err := cl.GetTaskStats(ctx, &taskv1.GetTaskStatsRequest{})
			return err
		}},
		{"CreateTask with request_id", true, func(ctx context.Context) error {
			_, err := cl.CreateTask(ctx, &taskv1.CreateTaskRequest{Task: &taskv1.Task{Title: "once"}, RequestId: "0b6f1c2a-3d4e-4f50-8a1b-2c3d4e5f6a7b"})
			return err
		}},
		{"CreateTask", false, func(ctx context.Context) error {
			_, err := cl.CreateTask(ctx, &taskv1.CreateTaskRequest{Task: &taskv1.Task{Title: "new"}})
			return err
		}},
		{"UpdateTask", false, func(ctx context.Context) error {
			_, err := cl.UpdateTask(ctx, &taskv1.UpdateTaskRequest{Task: &taskv1.Task{Id: tk.GetId(), Title: "renamed"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
			return err
		}},
		{"AssignTask", false, func(ctx context.Context) error {
			_, err := cl.AssignTask(ctx, &taskv1.AssignTaskRequest{Id: tk.GetId(), AssigneeId: bn.b})
			return err
		}},
		{"DeleteTask", false, func(ctx context.Context) error {
			_, err := cl.DeleteTask(ctx, &taskv1.DeleteTaskRequest{Id: victim.GetId()})
			if status.Code(err) == codes.NotFound {
				return nil // an earlier attempt that answered Unavailable deleted it
			}
			return err
		}},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			if n := bn.db.TerminateApp(t); n == 0 {
				t.Fatal("no backend of the service to terminate")
			}
			err := c.do(bn.asA(t))
			switch code := status.Code(err); {
			case code == codes.OK:
			case c.safe:
				t.Errorf("after the backends were terminated: %v, want success", err)
			case code != codes.Unavailable:
				t.Errorf("write after the backends were terminated: %v, want success or Unavailable", err)
			}
			if _, err := cl.GetTask(bn.asA(t), &taskv1.GetTaskRequest{Id: tk.GetId()}); err != nil {
				t.Errorf("the next GetTask: %v, want success", err)
			}
		})
	}
}

// TestDatabaseDown_IsUnavailable stops PostgreSQL under the service: calls
// answer Unavailable with a retry hint, not Internal.
func TestDatabaseDown_IsUnavailable(t *testing.T) {
	t.Parallel()
	db, cluster := pgtest.NewPrivate(t)
	bn := setup(t, func(o *options) { o.db = db })
	tk := bn.create(t, bn.asA(t), &taskv1.Task{Title: "t"})
	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}

	for name, call := range map[string]func(ctx context.Context) error{
		"GetTask": func(ctx context.Context) error {
			_, err := bn.client.GetTask(ctx, &taskv1.GetTaskRequest{Id: tk.GetId()})
			return err
		},
		"CreateTask": func(ctx context.Context) error {
			_, err := bn.client.CreateTask(ctx, &taskv1.CreateTaskRequest{Task: &taskv1.Task{Title: "t2"}})
			return err
		},
		"UpdateTask": func(ctx context.Context) error {
			_, err := bn.client.UpdateTask(ctx, &taskv1.UpdateTaskRequest{Task: &taskv1.Task{Id: tk.GetId(), Title: "t3"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			st := wantStatus(t, call(bn.asA(t)), codes.Unavailable)
			if !slices.ContainsFunc(st.Details(), func(d any) bool { _, ok := d.(*errdetails.RetryInfo); return ok }) {
				t.Errorf("Unavailable without a google.rpc.RetryInfo: %v", st.Details())
			}
		})
	}
}
