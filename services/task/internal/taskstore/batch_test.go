package taskstore

import (
	"errors"
	"fmt"
	"testing"

	"github.com/todo-platform/todo/pkg/testkit"
	"github.com/todo-platform/todo/services/task/internal/task"
)

// itemError returns the *task.ItemError in err, failing the test when
// there is none.
func itemError(t *testing.T, err error) *task.ItemError {
	t.Helper()
	var ie *task.ItemError
	if !errors.As(err, &ie) {
		t.Fatalf("got %v, want an *task.ItemError", err)
	}
	return ie
}

// countRows counts the rows of query (one bigint[] argument) as the owner.
func countRows(t *testing.T, bn *bundle, query string, args ...any) int {
	t.Helper()
	var n int
	if err := bn.db.Owner.QueryRow(testkit.Context(t), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func requestID(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

func TestBatchCreate_HundredInOneTransactionAndRetryReturnsThem(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := testkit.Context(t)
	svc := task.NewService(bn.store, nil)
	items := make([]task.CreateItem, 100)
	for i := range items {
		items[i] = task.CreateItem{Task: task.NewTask{Title: fmt.Sprintf("import %d", i), Description: "from the old tool"}}
		if i%2 == 0 {
			items[i].RequestID = requestID(i)
		}
	}
	items[7].Task.Status = task.StatusCompleted
	tasks, err := svc.BatchCreate(ctx, bn.a, items)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, len(tasks))
	for i, tk := range tasks {
		if want := fmt.Sprintf("import %d", i); tk.Title != want || tk.CreatedBy != bn.a.UserID || tk.Priority != task.PriorityMedium {
			t.Errorf("task %d: %+v, want title %q by %d, medium", i, tk, want, bn.a.UserID)
		}
		ids[i] = tk.ID
	}
	if tasks[7].Status != task.StatusCompleted || tasks[7].CompletedAt == nil {
		t.Errorf("completed item: %+v", tasks[7])
	}
	if n := countRows(t, bn, `SELECT count(DISTINCT xmin::text) FROM task WHERE id = ANY($1)`, ids); n != 1 {
		t.Errorf("the 100 tasks were written by %d transactions, want 1", n)
	}
	if n := countRows(t, bn, `SELECT count(*) FROM task_audit_event WHERE action = 'task.create' AND actor_id = $1 AND target_id = ANY($2)`, bn.a.UserID, ids); n != 100 {
		t.Errorf("%d task.create audit events, want one per task (100)", n)
	}

	// The retry: the items with request ids get their tasks back, the
	// others are created again (they asked for no idempotency).
	again, err := svc.BatchCreate(ctx, bn.a, items)
	if err != nil {
		t.Fatal(err)
	}
	for i, tk := range again {
		if same := tk.ID == tasks[i].ID; same != (items[i].RequestID != "") {
			t.Errorf("retry item %d: id %d, first %d, request id %q", i, tk.ID, tasks[i].ID, items[i].RequestID)
		}
	}
	if n := countRows(t, bn, `SELECT count(*) FROM task WHERE created_by = $1`, bn.a.UserID); n != 150 {
		t.Errorf("%d tasks after the retry, want 150 (50 without request id created twice)", n)
	}
}

func TestBatchCreate_ReusedRequestIDAtItem57WritesNothing(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := testkit.Context(t)
	svc := task.NewService(bn.store, nil)
	if _, err := svc.Create(ctx, bn.a, task.NewTask{Title: "first use"}, requestID(57)); err != nil {
		t.Fatal(err)
	}
	items := make([]task.CreateItem, 100)
	for i := range items {
		items[i] = task.CreateItem{Task: task.NewTask{Title: fmt.Sprintf("import %d", i)}, RequestID: requestID(1000 + i)}
	}
	items[57].RequestID = requestID(57)
	_, err := svc.BatchCreate(ctx, bn.a, items)
	if ie := itemError(t, err); ie.Index != 57 || !errors.Is(ie.Err, task.ErrRequestIDReused) {
		t.Fatalf("got %v, want item 57: ErrRequestIDReused", err)
	}
	if n := countRows(t, bn, `SELECT count(*) FROM task`); n != 1 {
		t.Errorf("%d tasks, want only the first create's", n)
	}
	if n := countRows(t, bn, `SELECT count(*) FROM task_request`); n != 1 {
		t.Errorf("%d request ids, want only the first create's", n)
	}

	// Checked before the database: a blank title, a repeated request id.
	items[57].RequestID = requestID(5000)
	items[57].Task.Title = "  "
	if ie := itemError(t, func() error { _, err := svc.BatchCreate(ctx, bn.a, items); return err }()); ie.Index != 57 || !errors.Is(ie.Err, task.ErrTitleRequired) {
		t.Errorf("blank title: got %v, want item 57", ie)
	}
	items[57].Task.Title = "fine"
	items[57].RequestID = items[3].RequestID
	if ie := itemError(t, func() error { _, err := svc.BatchCreate(ctx, bn.a, items); return err }()); ie.Index != 57 || !errors.Is(ie.Err, task.ErrDuplicateRequestID) {
		t.Errorf("repeated request id: got %v, want item 57", ie)
	}
}

func TestBatchUpdate_StaleEtagChangesNothingAndNamesTheItem(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := testkit.Context(t)
	svc := task.NewService(bn.store, nil)
	var patches []task.Patch
	for i := range 5 {
		tk := mustCreate(t, bn.store, bn.a, fmt.Sprintf("task %d", i))
		patches = append(patches, task.Patch{ID: tk.ID, Fields: task.Fields(task.FieldTitle), Title: fmt.Sprintf("renamed %d", i), If: task.IfEtag(tk.Etag())})
	}
	patches[3].If = task.IfEtag("v9")
	_, err := svc.BatchUpdate(ctx, bn.a, patches)
	if ie := itemError(t, err); ie.Index != 3 || !errors.Is(ie.Err, task.ErrEtagMismatch) {
		t.Fatalf("got %v, want item 3: ErrEtagMismatch", err)
	}
	if n := countRows(t, bn, `SELECT count(*) FROM task WHERE version <> 1 OR title LIKE 'renamed%'`); n != 0 {
		t.Errorf("%d tasks changed, want none", n)
	}

	patches[3].If = task.Condition{}
	patches[1].Fields = task.Fields(task.FieldTitle).With(task.FieldStatus)
	patches[1].Status = task.StatusCompleted
	tasks, err := svc.BatchUpdate(ctx, bn.a, patches)
	if err != nil {
		t.Fatal(err)
	}
	for i, tk := range tasks {
		if tk.ID != patches[i].ID || tk.Title != patches[i].Title || tk.Version != 2 {
			t.Errorf("task %d: %+v, want %q at version 2", i, tk, patches[i].Title)
		}
	}
	if tasks[1].CompletedAt == nil {
		t.Error("completed in a batch: completed_at not set")
	}
	if n := countRows(t, bn, `SELECT count(*) FROM task_audit_event WHERE action IN ('task.update') AND actor_id = $1`, bn.a.UserID); n != 5 {
		t.Errorf("%d task.update audit events, want 5", n)
	}
}

func TestBatchUpdate_AuthorizedPerItemAsUpdate(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := testkit.Context(t)
	svc := task.NewService(bn.store, nil)
	mine := mustCreate(t, bn.store, bn.b, "b's own")
	assigned := mustCreate(t, bn.store, bn.a, "a's, assigned to b")
	if _, err := bn.store.Assign(ctx, bn.a, assigned.ID, bn.b.UserID, task.Condition{}); err != nil {
		t.Fatal(err)
	}
	stranger := mustCreate(t, bn.store, bn.c, "c's")
	status := task.Patch{Fields: task.Fields(task.FieldStatus), Status: task.StatusInProgress}
	edit := task.Patch{Fields: task.Fields(task.FieldTitle), Title: "edited"}
	with := func(p task.Patch, id int64) task.Patch { p.ID = id; return p }
	for _, tc := range []struct {
		name    string
		patches []task.Patch
		index   int
		want    error
	}{
		{"assignee edits", []task.Patch{with(edit, mine.ID), with(edit, assigned.ID)}, 1, task.ErrPermissionDenied},
		{"invisible task", []task.Patch{with(status, assigned.ID), with(status, stranger.ID)}, 1, task.ErrNotFound},
		{"same task twice", []task.Patch{with(status, mine.ID), with(edit, mine.ID)}, 1, task.ErrDuplicateTask},
	} {
		_, err := svc.BatchUpdate(ctx, bn.b, tc.patches)
		if ie := itemError(t, err); ie.Index != tc.index || !errors.Is(ie.Err, tc.want) {
			t.Errorf("%s: got %v, want item %d: %v", tc.name, err, tc.index, tc.want)
		}
	}
	if n := countRows(t, bn, `SELECT count(*) FROM task WHERE version <> 1 OR status <> 'pending'`); n != 1 {
		t.Errorf("%d tasks changed, want only the assignment", n)
	}
	if _, err := svc.BatchUpdate(ctx, bn.b, []task.Patch{with(edit, mine.ID), with(status, assigned.ID)}); err != nil {
		t.Errorf("creator's edit and assignee's status change: %v", err)
	}
}

func TestBatchDelete_AllOrNothing(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := testkit.Context(t)
	svc := task.NewService(bn.store, nil)
	var items []task.DeleteItem
	for i := range 4 {
		tk := mustCreate(t, bn.store, bn.a, fmt.Sprintf("task %d", i))
		items = append(items, task.DeleteItem{ID: tk.ID, If: task.IfEtag(tk.Etag())})
	}
	stranger := mustCreate(t, bn.store, bn.c, "c's")
	for _, tc := range []struct {
		name  string
		items []task.DeleteItem
		index int
		want  error
	}{
		{"stale etag", append(items[:2:2], task.DeleteItem{ID: items[2].ID, If: task.IfEtag("v2")}, items[3]), 2, task.ErrEtagMismatch},
		{"invisible task", append(items[:3:3], task.DeleteItem{ID: stranger.ID}), 3, task.ErrNotFound},
		{"same task twice", append(items[:1:1], items[0]), 1, task.ErrDuplicateTask},
	} {
		err := svc.BatchDelete(ctx, bn.a, tc.items)
		if ie := itemError(t, err); ie.Index != tc.index || !errors.Is(ie.Err, tc.want) {
			t.Errorf("%s: got %v, want item %d: %v", tc.name, err, tc.index, tc.want)
		}
	}
	// Deletes are soft (task set 00009): a deleted task has deleted_at.
	if n := countRows(t, bn, `SELECT count(*) FROM task WHERE deleted_at IS NULL`); n != 5 {
		t.Fatalf("%d tasks, want all 5 kept", n)
	}
	if err := svc.BatchDelete(ctx, bn.a, items); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, bn, `SELECT count(*) FROM task WHERE deleted_at IS NULL`); n != 1 {
		t.Errorf("%d tasks, want only c's", n)
	}
	if n := countRows(t, bn, `SELECT count(*) FROM task_audit_event WHERE action = 'task.delete' AND actor_id = $1`, bn.a.UserID); n != 4 {
		t.Errorf("%d task.delete audit events, want 4", n)
	}
}

func TestBatchUpdate_OppositeOrdersDoNotDeadlock(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := testkit.Context(t)
	svc := task.NewService(bn.store, nil)
	var up, down []task.Patch
	for i := range 30 {
		tk := mustCreate(t, bn.store, bn.a, fmt.Sprintf("task %d", i))
		up = append(up, task.Patch{ID: tk.ID, Fields: task.Fields(task.FieldDescription), Description: "up"})
	}
	for i := range up {
		p := up[len(up)-1-i]
		p.Description = "down"
		down = append(down, p)
	}
	for round := range 10 {
		errs := make(chan error, 2)
		for _, patches := range [][]task.Patch{up, down} {
			go func() { _, err := svc.BatchUpdate(ctx, bn.a, patches); errs <- err }()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v (two batches over the same tasks must wait for each other)", round, err)
			}
		}
	}
}
