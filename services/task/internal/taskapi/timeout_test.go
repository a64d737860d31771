package taskapi_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
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
	if err != nil || got.GetTask().GetTitle() != "before" {
		t.Errorf("task after the timeout: %v, %v; want title %q", got.GetTask(), err, "before")
	}
}
