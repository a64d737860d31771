package taskstore

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/pkg/testkit"
	"github.com/todo-platform/todo/services/task/internal/task"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// bundle is what a test gets from setup: the store, its database, and four
// users: A (creator), B (assignee), C (stranger) and an admin.
type bundle struct {
	db             *pgtest.DB
	store          *Store
	a, b, c, admin task.Caller
}

func setup(t *testing.T) *bundle {
	t.Helper()
	db := pgtest.New(t)
	return &bundle{
		db:    db,
		store: New(db.TaskApp),
		a:     task.Caller{UserID: db.SeedUser(t, pgtest.User{Name: "a", Active: true})},
		b:     task.Caller{UserID: db.SeedUser(t, pgtest.User{Name: "b", Active: true})},
		c:     task.Caller{UserID: db.SeedUser(t, pgtest.User{Name: "c", Active: true})},
		admin: task.Caller{UserID: db.SeedUser(t, pgtest.User{Name: "admin", Active: true, Admin: true}), Admin: true},
	}
}

func mustCreate(t testing.TB, s *Store, c task.Caller, title string) task.Task {
	t.Helper()
	tk, err := s.Create(testkit.Context(t), c, task.NewTask{Title: title, Status: task.StatusPending, Priority: task.PriorityMedium}, nil)
	if err != nil {
		t.Fatalf("create %q: %v", title, err)
	}
	return tk
}

func TestRLS_RawSelectAsStrangerReturnsNoneOfOthersRows(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := testkit.Context(t)
	for i := range 5 {
		mustCreate(t, bn.store, bn.a, fmt.Sprintf("a%d", i))
	}
	own := mustCreate(t, bn.store, bn.c, "c's own")
	if _, err := bn.store.Create(ctx, bn.a, task.NewTask{Title: "with request id", Status: task.StatusPending, Priority: task.PriorityLow},
		&task.Idempotency{RequestID: "7b0e3c1e-8f0a-4d55-9a65-0d1b7f0f5a11", Fingerprint: []byte{1}, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}

	var ids []int64
	var requests int
	err := bn.db.TaskApp.InTx(ctx, pgdb.RetrySafe, settings(ctx, bn.c), func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT * FROM task`)
		if err != nil {
			return err
		}
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				return err
			}
			ids = append(ids, vals[0].(int64))
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT count(*) FROM task_request`).Scan(&requests)
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{own.ID}, ids); diff != "" {
		t.Errorf("SELECT * FROM task as C (-want +got):\n%s", diff)
	}
	if requests != 0 {
		t.Errorf("SELECT count(*) FROM task_request as C = %d, want 0", requests)
	}

	// Without any setting the policies match nothing.
	err = bn.db.TaskApp.InTx(ctx, pgdb.RetrySafe, nil, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM task`).Scan(&requests)
	})
	if err != nil || requests != 0 {
		t.Errorf("SELECT count(*) FROM task without settings = %d, %v; want 0", requests, err)
	}
}

func TestUpdate_ConcurrentSameEtagExactlyOneWins(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := testkit.Context(t)
	orig := mustCreate(t, bn.store, bn.a, "original")

	const writers = 2
	var wg sync.WaitGroup
	start := make(chan struct{})
	results := make([]task.Task, writers)
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			<-start
			results[i], errs[i] = bn.store.Update(ctx, bn.a, task.Patch{
				ID: orig.ID, Fields: task.Fields(task.FieldTitle), Title: fmt.Sprintf("writer %d", i),
				If: task.IfEtag(orig.Etag()),
			})
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner != -1 {
				t.Fatalf("both writers won: %+v and %+v", results[winner], results[i])
			}
			winner = i
		case !errors.Is(err, task.ErrNotFound):
			t.Fatalf("writer %d: %v, want ErrNotFound (no row matched)", i, err)
		}
	}
	if winner == -1 {
		t.Fatal("no writer won")
	}
	got, err := bn.store.Get(ctx, bn.a, orig.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("writer %d", winner); got.Title != want || got.Version != orig.Version+1 {
		t.Errorf("row = %q version %d, want %q version %d", got.Title, got.Version, want, orig.Version+1)
	}
	if got.Etag() == orig.Etag() {
		t.Errorf("etag %q did not change with the write", got.Etag())
	}
}

func TestUpdate_MaskedFieldsOnlyAndCompletedAt(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := testkit.Context(t)
	due := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	orig, err := bn.store.Create(ctx, bn.a, task.NewTask{Title: "t", Description: "d", Status: task.StatusPending, Priority: task.PriorityHigh, DueDate: &due}, nil)
	if err != nil {
		t.Fatal(err)
	}

	done, err := bn.store.Update(ctx, bn.a, task.Patch{ID: orig.ID, Fields: task.Fields(task.FieldStatus), Status: task.StatusCompleted, Title: "ignored"})
	if err != nil {
		t.Fatal(err)
	}
	if done.CompletedAt == nil || done.Status != task.StatusCompleted {
		t.Fatalf("after completing: status %s completed_at %v", done.Status, done.CompletedAt)
	}
	want := orig
	want.Status, want.CompletedAt, want.UpdatedAt, want.Version = done.Status, done.CompletedAt, done.UpdatedAt, orig.Version+1
	if diff := cmp.Diff(want, done); diff != "" {
		t.Errorf("fields outside the mask changed (-want +got):\n%s", diff)
	}

	// Completed again keeps the first completion time.
	again, err := bn.store.Update(ctx, bn.a, task.Patch{ID: orig.ID, Fields: task.Fields(task.FieldStatus), Status: task.StatusCompleted})
	if err != nil {
		t.Fatal(err)
	}
	if !again.CompletedAt.Equal(*done.CompletedAt) {
		t.Errorf("completed_at moved from %v to %v", done.CompletedAt, again.CompletedAt)
	}

	reopened, err := bn.store.Update(ctx, bn.a, task.Patch{
		ID: orig.ID, Fields: task.Fields(task.FieldStatus).With(task.FieldDueDate).With(task.FieldDescription),
		Status: task.StatusInProgress,
	})
	if err != nil {
		t.Fatal(err)
	}
	if reopened.CompletedAt != nil || reopened.DueDate != nil || reopened.Description != "" || reopened.Title != "t" || reopened.Priority != task.PriorityHigh {
		t.Errorf("after reopening and clearing: %+v", reopened)
	}
}

func TestUpdate_AssigneeOnlyStatusStrangerNothing(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := testkit.Context(t)
	orig := mustCreate(t, bn.store, bn.a, "t")
	if _, err := bn.store.Assign(ctx, bn.a, orig.ID, bn.b.UserID, task.Condition{}); err != nil {
		t.Fatal(err)
	}
	if _, err := bn.store.Update(ctx, bn.b, task.Patch{ID: orig.ID, Fields: task.Fields(task.FieldStatus), Status: task.StatusInProgress}); err != nil {
		t.Errorf("assignee changing status: %v", err)
	}
	// The assignee may send back the values it read with a new status: only
	// changes count.
	unchanged := task.Patch{
		ID: orig.ID, Fields: task.Fields(task.FieldStatus).With(task.FieldTitle).With(task.FieldDescription).With(task.FieldPriority).With(task.FieldDueDate),
		Title: orig.Title, Description: orig.Description, Priority: orig.Priority, DueDate: orig.DueDate, Status: task.StatusCompleted,
	}
	if got, err := bn.store.Update(ctx, bn.b, unchanged); err != nil || got.Status != task.StatusCompleted {
		t.Errorf("assignee sending unchanged fields with a new status: %+v, %v", got, err)
	}
	for _, tc := range []struct {
		name string
		c    task.Caller
		p    task.Patch
	}{
		{"assignee edits title", bn.b, task.Patch{ID: orig.ID, Fields: task.Fields(task.FieldTitle), Title: "x"}},
		{"assignee edits title with a status", bn.b, task.Patch{ID: orig.ID, Fields: task.Fields(task.FieldTitle).With(task.FieldStatus), Title: "x", Status: task.StatusPending}},
		{"assignee sets a due date", bn.b, task.Patch{ID: orig.ID, Fields: task.Fields(task.FieldDueDate), DueDate: &orig.CreatedAt}},
		{"stranger edits status", bn.c, task.Patch{ID: orig.ID, Fields: task.Fields(task.FieldStatus), Status: task.StatusPending}},
		{"stranger sends unchanged fields", bn.c, unchanged},
	} {
		_, err := bn.store.Update(ctx, tc.c, tc.p)
		if !errors.Is(err, task.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", tc.name, err)
		}
	}
	for _, c := range []task.Caller{bn.b, bn.c} {
		if err := bn.store.Delete(ctx, c, orig.ID, task.Condition{}); !errors.Is(err, task.ErrNotFound) {
			t.Errorf("delete by %d: %v, want ErrNotFound", c.UserID, err)
		}
		if _, err := bn.store.Assign(ctx, c, orig.ID, 0, task.Condition{}); !errors.Is(err, task.ErrNotFound) {
			t.Errorf("assign by %d: %v, want ErrNotFound", c.UserID, err)
		}
	}
	got, err := bn.store.Get(ctx, bn.admin, orig.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != "t" || got.AssignedTo != bn.b.UserID || got.Status != task.StatusCompleted || got.DueDate != nil {
		t.Errorf("task after refused writes: %+v", got)
	}
}

func TestCreate_RequestID(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := testkit.Context(t)
	const rid = "0d3f5c7e-1111-4a2b-8c3d-5e6f7a8b9c0d"
	idem := func(fp byte) *task.Idempotency {
		return &task.Idempotency{RequestID: rid, Fingerprint: []byte{fp}, TTL: 24 * time.Hour}
	}
	n := task.NewTask{Title: "once", Status: task.StatusPending, Priority: task.PriorityMedium}
	first, err := bn.store.Create(ctx, bn.a, n, idem(1))
	if err != nil {
		t.Fatal(err)
	}
	again, err := bn.store.Create(ctx, bn.a, n, idem(1))
	if err != nil || again.ID != first.ID {
		t.Errorf("repeat: %v, %v; want task %d", again.ID, err, first.ID)
	}
	if _, err := bn.store.Create(ctx, bn.a, n, idem(2)); !errors.Is(err, task.ErrRequestIDReused) {
		t.Errorf("repeat with another body: %v, want ErrRequestIDReused", err)
	}
	// Another caller's request_id space is its own.
	other, err := bn.store.Create(ctx, bn.b, n, idem(2))
	if err != nil || other.ID == first.ID {
		t.Errorf("same request_id by another caller: %v, %v; want a new task", other.ID, err)
	}
	// Older than the TTL: a new create.
	if _, err := bn.db.Owner.Exec(ctx, `UPDATE task_request SET created_at = now() - interval '25 hours' WHERE created_by = $1`, bn.a.UserID); err != nil {
		t.Fatal(err)
	}
	renewed, err := bn.store.Create(ctx, bn.a, n, idem(2))
	if err != nil || renewed.ID == first.ID {
		t.Errorf("after 25 h: %v, %v; want a new task", renewed.ID, err)
	}
	// A deleted task is not created again by a retry.
	if err := bn.store.Delete(ctx, bn.a, renewed.ID, task.Condition{}); err != nil {
		t.Fatal(err)
	}
	if _, err := bn.store.Create(ctx, bn.a, n, idem(2)); !errors.Is(err, task.ErrNotFound) {
		t.Errorf("retry after delete: %v, want ErrNotFound", err)
	}
	var rows int
	if err := bn.db.Owner.QueryRow(ctx, `SELECT count(*) FROM task WHERE title = 'once' AND deleted_at IS NULL`).Scan(&rows); err != nil || rows != 2 {
		t.Errorf("tasks titled once = %d, %v; want 2 (first, other's)", rows, err)
	}
}

func TestStats_CountsOwnTasksOnly(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := testkit.Context(t)
	past := time.Now().Add(-time.Hour)
	future := time.Now().Add(time.Hour)
	for _, n := range []task.NewTask{
		{Title: "1", Status: task.StatusPending, Priority: task.PriorityHigh, DueDate: &past},
		{Title: "2", Status: task.StatusPending, Priority: task.PriorityHigh, DueDate: &future},
		{Title: "3", Status: task.StatusCompleted, Priority: task.PriorityLow, DueDate: &past},
		{Title: "4", Status: task.StatusInProgress, Priority: task.PriorityUrgent, DueDate: &past},
	} {
		if _, err := bn.store.Create(ctx, bn.a, n, nil); err != nil {
			t.Fatal(err)
		}
	}
	mine := mustCreate(t, bn.store, bn.b, "b's")
	if _, err := bn.store.Assign(ctx, bn.b, mine.ID, bn.a.UserID, task.Condition{}); err != nil {
		t.Fatal(err)
	}
	got, err := bn.store.Stats(ctx, bn.a)
	if err != nil {
		t.Fatal(err)
	}
	want := task.Stats{
		Counts: []task.Count{
			{Status: task.StatusPending, Priority: task.PriorityHigh, N: 2},
			{Status: task.StatusInProgress, Priority: task.PriorityUrgent, N: 1},
			{Status: task.StatusCompleted, Priority: task.PriorityLow, N: 1},
		},
		Total: 4, Overdue: 2,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

// TestStore_TranslatesConstraintViolations checks each constraint the store
// maps, by its exact name, and that the PostgreSQL error stays in the chain.
func TestStore_TranslatesConstraintViolations(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := testkit.Context(t)
	orig := mustCreate(t, bn.store, bn.a, "t")
	const missingUser = 1 << 40
	for _, tc := range []struct {
		name       string
		write      func() error
		want       error
		constraint string
	}{
		{"create, unknown status", func() error {
			_, err := bn.store.Create(ctx, bn.a, task.NewTask{Title: "x", Status: "stalled", Priority: task.PriorityLow}, nil)
			return err
		}, task.ErrInvalidStatus, "task_status_check"},
		{"create, unknown priority", func() error {
			_, err := bn.store.Create(ctx, bn.a, task.NewTask{Title: "x", Status: task.StatusPending, Priority: "whenever"}, nil)
			return err
		}, task.ErrInvalidPriority, "task_priority_check"},
		{"create with a request id, unknown status", func() error {
			_, err := bn.store.Create(ctx, bn.a, task.NewTask{Title: "x", Status: "stalled", Priority: task.PriorityLow},
				&task.Idempotency{RequestID: "5f0c6a52-3d1e-4c59-a1a3-2b7f4c1d9e80", Fingerprint: []byte{1}, TTL: time.Hour})
			return err
		}, task.ErrInvalidStatus, "task_status_check"},
		{"update, unknown status", func() error {
			_, err := bn.store.Update(ctx, bn.a, task.Patch{ID: orig.ID, Fields: task.Fields(task.FieldStatus), Status: "stalled"})
			return err
		}, task.ErrInvalidStatus, "task_status_check"},
		{"update, unknown priority", func() error {
			_, err := bn.store.Update(ctx, bn.a, task.Patch{ID: orig.ID, Fields: task.Fields(task.FieldPriority), Priority: "whenever"})
			return err
		}, task.ErrInvalidPriority, "task_priority_check"},
		{"assign, no such user", func() error {
			_, err := bn.store.Assign(ctx, bn.a, orig.ID, missingUser, task.Condition{})
			return err
		}, task.ErrInvalidAssignee, "task_assigned_to_fkey"},
	} {
		err := tc.write()
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if v, ok := pgdb.Violation(err); !ok || v.Constraint != tc.constraint {
			t.Errorf("%s: %v does not keep the violation of %s", tc.name, err, tc.constraint)
		}
	}
	got, err := bn.store.Get(ctx, bn.a, orig.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(orig, got); diff != "" {
		t.Errorf("the task changed after refused writes (-want +got):\n%s", diff)
	}
}

// TestStore_CallsAfterTerminatedBackendsSucceed ends the pool's backends
// between calls: the reads, and a create with a request id (idempotent by
// construction), run again on a live connection.
func TestStore_CallsAfterTerminatedBackendsSucceed(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := testkit.Context(t)
	orig := mustCreate(t, bn.store, bn.a, "t")
	idem := &task.Idempotency{RequestID: "9a7c2e41-6b0d-4f3a-8e5c-1d2b3a4c5d6e", Fingerprint: []byte{7}, TTL: time.Hour}
	var created int64
	calls := []struct {
		name string
		call func() error
	}{
		{"Get", func() error {
			got, err := bn.store.Get(ctx, bn.a, orig.ID)
			if err == nil && got.ID != orig.ID {
				t.Errorf("Get(%d) = task %d", orig.ID, got.ID)
			}
			return err
		}},
		{"List", func() error {
			got, err := bn.store.List(ctx, bn.a, task.Query{Limit: 10})
			if err == nil && len(got) != 1 {
				t.Errorf("List = %d tasks, want 1", len(got))
			}
			return err
		}},
		{"Stats", func() error {
			st, err := bn.store.Stats(ctx, bn.a)
			if err == nil && st.Total != 1 {
				t.Errorf("Stats total = %d, want 1", st.Total)
			}
			return err
		}},
		{"Create with a request id", func() error {
			tk, err := bn.store.Create(ctx, bn.a, task.NewTask{Title: "once", Status: task.StatusPending, Priority: task.PriorityLow}, idem)
			created = tk.ID
			return err
		}},
		{"Create with the same request id again", func() error {
			tk, err := bn.store.Create(ctx, bn.a, task.NewTask{Title: "once", Status: task.StatusPending, Priority: task.PriorityLow}, idem)
			if err == nil && tk.ID != created {
				t.Errorf("repeated create = task %d, want %d", tk.ID, created)
			}
			return err
		}},
	}
	for _, c := range calls {
		// Warm several connections of the pool, then end them all.
		for range 3 {
			if _, err := bn.store.Get(ctx, bn.a, orig.ID); err != nil {
				t.Fatal(err)
			}
		}
		if n := bn.db.TerminateApp(t); n == 0 {
			t.Fatalf("%s: no backend to terminate", c.name)
		}
		if err := c.call(); err != nil {
			t.Errorf("%s after the backends were terminated: %v, want success", c.name, err)
		}
	}
	var n int
	if err := bn.db.Owner.QueryRow(ctx, `SELECT count(*) FROM task WHERE title = 'once'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("tasks titled once = %d, %v; want 1", n, err)
	}
}
