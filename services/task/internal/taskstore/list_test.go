package taskstore

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/pkg/testkit"
	"github.com/todo-platform/todo/services/task/internal/task"
)

// seedTasks inserts n tasks with COPY through the owner pool: creators and
// assignees drawn from users (assignee absent 40% of the time), every status
// and priority, due dates absent 30% of the time, and few distinct
// timestamps so that sort keys tie often. Values come from r, so a seed
// reproduces them.
func seedTasks(t testing.TB, db *pgtest.DB, r *rand.Rand, n int, users []int64) {
	t.Helper()
	base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	statuses, priorities := task.Statuses(), task.Priorities()
	rows := make([][]any, n)
	for i := range rows {
		created := base.Add(time.Duration(r.IntN(n/5+1)) * time.Minute)
		updated := created.Add(time.Duration(r.IntN(100)) * time.Minute)
		status := statuses[r.IntN(len(statuses))]
		var due, completed, assignee any
		if r.IntN(10) >= 3 {
			due = base.Add(time.Duration(r.IntN(n/10+1)) * time.Hour)
		}
		if status == task.StatusCompleted {
			completed = updated
		}
		if r.IntN(10) >= 4 {
			assignee = users[r.IntN(len(users))]
		}
		rows[i] = []any{fmt.Sprintf("task %d", i), "", string(status), string(priorities[r.IntN(len(priorities))]),
			due, users[r.IntN(len(users))], assignee, created, updated, completed}
	}
	// The rows reference existing users: skip the per-row foreign key
	// triggers (superuser only), which would dominate the load time.
	ctx := testkit.Context(t)
	err := pgx.BeginFunc(ctx, db.Owner, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
			return err
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"task"},
			[]string{"title", "description", "status", "priority", "due_date", "created_by", "assigned_to", "created_at", "updated_at", "completed_at"},
			pgx.CopyFromRows(rows))
		return err
	})
	if err != nil {
		t.Fatalf("copy tasks: %v", err)
	}
}

// allTasks reads every task through the owner pool (no row-level security).
func allTasks(t testing.TB, db *pgtest.DB) []task.Task {
	t.Helper()
	rows, err := db.Owner.Query(testkit.Context(t), `SELECT `+columns+` FROM task`)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := pgx.CollectRows(rows, scanTasks)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// The reference: visibility, filter and order written out in Go.

func refVisible(c task.Caller, t task.Task) bool {
	return c.Admin || t.CreatedBy == c.UserID || t.AssignedTo == c.UserID
}

func refMatches(f task.Filter, t task.Task) bool {
	if len(f.Statuses) > 0 && !slices.Contains(f.Statuses, t.Status) {
		return false
	}
	if len(f.Priorities) > 0 && !slices.Contains(f.Priorities, t.Priority) {
		return false
	}
	if f.AssignedTo != nil && t.AssignedTo != *f.AssignedTo {
		return false
	}
	if f.CreatedBy != nil && t.CreatedBy != *f.CreatedBy {
		return false
	}
	if f.DueBefore != nil && (t.DueDate == nil || !t.DueDate.Before(*f.DueBefore)) {
		return false
	}
	if f.DueAfter != nil && (t.DueDate == nil || t.DueDate.Before(*f.DueAfter)) {
		return false
	}
	if f.UpdatedAfter != nil && !t.UpdatedAt.After(*f.UpdatedAfter) {
		return false
	}
	return true
}

func refCompare(o task.Order) func(a, b task.Task) int {
	return func(a, b task.Task) int {
		var c int
		switch o.Key {
		case task.SortCreatedAt:
			c = a.CreatedAt.Compare(b.CreatedAt)
		case task.SortUpdatedAt:
			c = a.UpdatedAt.Compare(b.UpdatedAt)
		case task.SortPriority:
			c = cmp.Compare(a.Priority.Rank(), b.Priority.Rank())
		case task.SortDueDate:
			switch {
			case a.DueDate == nil && b.DueDate == nil:
			case a.DueDate == nil:
				return 1 // no due date: last in both directions
			case b.DueDate == nil:
				return -1
			default:
				c = a.DueDate.Compare(*b.DueDate)
			}
		}
		if c == 0 {
			c = cmp.Compare(a.ID, b.ID)
		}
		if o.Desc {
			return -c
		}
		return c
	}
}

func reference(all []task.Task, c task.Caller, f task.Filter, o task.Order) []int64 {
	var ts []task.Task
	for _, t := range all {
		if refVisible(c, t) && refMatches(f, t) {
			ts = append(ts, t)
		}
	}
	slices.SortFunc(ts, refCompare(o))
	ids := make([]int64, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	return ids
}

// walk lists every page and returns the ids in page order; between pages
// it calls between (when not nil) with the page number.
func walk(t *testing.T, svc *task.Service, c task.Caller, r task.ListRequest, between func(page int)) []int64 {
	t.Helper()
	ctx := testkit.Context(t)
	var ids []int64
	for page := 0; ; page++ {
		p, err := svc.List(ctx, c, r)
		if err != nil {
			t.Fatalf("page %d of %+v: %v", page, r, err)
		}
		if len(p.Tasks) > max(r.PageSize, 1) {
			t.Fatalf("page %d has %d tasks, page size %d", page, len(p.Tasks), r.PageSize)
		}
		for _, tk := range p.Tasks {
			ids = append(ids, tk.ID)
		}
		if p.NextPageToken == "" {
			return ids
		}
		if len(p.Tasks) == 0 {
			t.Fatalf("page %d is empty but has a next page token", page)
		}
		r.PageToken = p.NextPageToken
		if between != nil {
			between(page)
		}
	}
}

var orders = []string{
	"created_at", "created_at desc", "updated_at asc", "updated_at desc",
	"due_date", "due_date desc", "priority", "priority desc",
}

func TestList_PaginationWalksEveryTaskOnceInOrder(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	users := []int64{bn.a.UserID, bn.b.UserID, bn.c.UserID}
	seedTasks(t, bn.db, rand.New(rand.NewPCG(1, 2)), 1000, users)
	all := allTasks(t, bn.db)
	svc := task.NewService(bn.store, nil)

	for _, c := range []task.Caller{bn.a, bn.admin} {
		for _, ob := range orders {
			t.Run(fmt.Sprintf("user %d admin %v order %s", c.UserID, c.Admin, ob), func(t *testing.T) {
				o, err := task.ParseOrder(ob)
				if err != nil {
					t.Fatal(err)
				}
				got := walk(t, svc, c, task.ListRequest{OrderBy: ob, PageSize: 7}, nil)
				want := reference(all, c, task.Filter{}, o)
				if len(want) < 400 {
					t.Fatalf("reference has only %d tasks", len(want))
				}
				if diff := gocmp.Diff(want, got); diff != "" {
					t.Errorf("walked ids differ from the direct query (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestList_PaginationWhileInserting(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	users := []int64{bn.a.UserID, bn.b.UserID, bn.c.UserID}
	seedTasks(t, bn.db, rand.New(rand.NewPCG(3, 4)), 1000, users)
	all := allTasks(t, bn.db)
	svc := task.NewService(bn.store, nil)
	ctx := testkit.Context(t)

	for _, ob := range orders {
		t.Run(ob, func(t *testing.T) {
			o, _ := task.ParseOrder(ob)
			before := reference(all, bn.a, task.Filter{}, o)
			inserted := map[int64]bool{}
			got := walk(t, svc, bn.a, task.ListRequest{OrderBy: ob, PageSize: 7}, func(page int) {
				if page%5 != 0 {
					return
				}
				due := time.Now().Add(time.Duration(page) * time.Hour)
				tk, err := bn.store.Create(ctx, bn.a, task.NewTask{Title: "new", Status: task.StatusPending, Priority: task.PriorityUrgent, DueDate: &due}, nil)
				if err != nil {
					t.Fatal(err)
				}
				inserted[tk.ID] = true
			})
			seen := map[int64]int{}
			for _, id := range got {
				seen[id]++
			}
			for id, n := range seen {
				if n > 1 {
					t.Errorf("task %d listed %d times", id, n)
				}
				if !inserted[id] && !slices.Contains(before, id) {
					t.Errorf("task %d listed but neither there before nor inserted", id)
				}
			}
			for _, id := range before {
				if seen[id] != 1 {
					t.Errorf("task %d there before the walk listed %d times", id, seen[id])
				}
			}
			if len(inserted) < 10 {
				t.Errorf("only %d inserts during the walk", len(inserted))
			}
			// Clean up so the next order starts from the same rows.
			for id := range inserted {
				if err := bn.store.Delete(ctx, bn.a, id, task.Condition{}); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// randomFilter draws a filter from r over the seeded value ranges.
func randomFilter(r *rand.Rand, users []int64) task.Filter {
	var f task.Filter
	base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, s := range task.Statuses() {
		if r.IntN(3) == 0 {
			f.Statuses = append(f.Statuses, s)
		}
	}
	for _, p := range task.Priorities() {
		if r.IntN(3) == 0 {
			f.Priorities = append(f.Priorities, p)
		}
	}
	switch r.IntN(4) {
	case 0:
		f.AssignedTo = new(int64(0))
	case 1:
		f.AssignedTo = new(users[r.IntN(len(users))])
	}
	if r.IntN(3) == 0 {
		f.CreatedBy = new(users[r.IntN(len(users))])
	}
	at := func(hours int) *time.Time { return new(base.Add(time.Duration(r.IntN(hours)) * time.Hour)) }
	if r.IntN(3) == 0 {
		f.DueBefore = at(110)
	}
	if r.IntN(3) == 0 {
		f.DueAfter = at(110)
	}
	if r.IntN(4) == 0 {
		f.UpdatedAfter = at(6)
	}
	return f
}

func TestList_RandomFiltersMatchReference(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	users := []int64{bn.a.UserID, bn.b.UserID, bn.c.UserID}
	seedTasks(t, bn.db, rand.New(rand.NewPCG(5, 6)), 1000, users)
	all := allTasks(t, bn.db)
	svc := task.NewService(bn.store, nil)
	callers := []task.Caller{bn.a, bn.b, bn.c, bn.admin}

	r := rand.New(rand.NewPCG(7, 8)) // fixed: a failure reproduces
	nonEmpty := 0
	for i := range 150 {
		c := callers[r.IntN(len(callers))]
		f := randomFilter(r, users)
		ob := orders[r.IntN(len(orders))]
		o, _ := task.ParseOrder(ob)
		size := []int{1000, 50, 13}[r.IntN(3)]
		want := reference(all, c, f, o)
		if len(want) > 0 {
			nonEmpty++
		}
		got := walk(t, svc, c, task.ListRequest{Filter: f, OrderBy: ob, PageSize: size}, nil)
		if diff := gocmp.Diff(want, got, gocmp.Comparer(func(a, b []int64) bool { return slices.Equal(a, b) })); diff != "" {
			t.Errorf("case %d: caller %+v filter %s order %q page size %d (-want +got):\n%s", i, c, describe(f), ob, size, diff)
		}
	}
	if nonEmpty < 100 {
		t.Errorf("only %d of 150 cases have results: the generator is too narrow", nonEmpty)
	}
}

func describe(f task.Filter) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{statuses %v priorities %v", f.Statuses, f.Priorities)
	for _, p := range []struct {
		name string
		v    *int64
	}{{"assigned_to", f.AssignedTo}, {"created_by", f.CreatedBy}} {
		if p.v != nil {
			fmt.Fprintf(&b, " %s %d", p.name, *p.v)
		}
	}
	for _, p := range []struct {
		name string
		v    *time.Time
	}{{"due_before", f.DueBefore}, {"due_after", f.DueAfter}, {"updated_after", f.UpdatedAfter}} {
		if p.v != nil {
			fmt.Fprintf(&b, " %s %s", p.name, p.v.Format(time.RFC3339))
		}
	}
	b.WriteString("}")
	return b.String()
}

func TestList_TokenFromOtherFilterOrOrderIsInvalid(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	seedTasks(t, bn.db, rand.New(rand.NewPCG(9, 10)), 30, []int64{bn.a.UserID})
	svc := task.NewService(bn.store, nil)
	ctx := testkit.Context(t)
	p, err := svc.List(ctx, bn.a, task.ListRequest{Filter: task.Filter{Statuses: []task.Status{task.StatusPending, task.StatusCompleted, task.StatusInProgress}}, PageSize: 5})
	if err != nil || p.NextPageToken == "" {
		t.Fatalf("first page: %v, token %q", err, p.NextPageToken)
	}
	// The same filter written in another order is the same filter.
	if _, err := svc.List(ctx, bn.a, task.ListRequest{Filter: task.Filter{Statuses: []task.Status{task.StatusInProgress, task.StatusCompleted, task.StatusPending}}, PageSize: 5, PageToken: p.NextPageToken}); err != nil {
		t.Errorf("same filter, statuses reordered: %v", err)
	}
	for name, r := range map[string]task.ListRequest{
		"other filter": {Filter: task.Filter{Statuses: []task.Status{task.StatusPending}}},
		"no filter":    {},
		"other order":  {Filter: task.Filter{Statuses: []task.Status{task.StatusPending, task.StatusCompleted, task.StatusInProgress}}, OrderBy: "created_at asc"},
	} {
		r.PageToken, r.PageSize = p.NextPageToken, 5
		if _, err := svc.List(ctx, bn.a, r); !errors.Is(err, task.ErrInvalidPageToken) {
			t.Errorf("%s: %v, want ErrInvalidPageToken", name, err)
		}
	}
}
