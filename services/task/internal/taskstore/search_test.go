package taskstore

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/pkg/testkit"
	"github.com/todo-platform/todo/services/task/internal/task"
)

// searchWords is the vocabulary of the search tests: some words begin
// others, so that a prefix and a whole-word match differ.
var searchWords = []string{"plan", "planning", "sprint", "spring", "review", "report", "rep", "deploy", "design", "budget", "bug", "bugfix"}

// seedWords copies n tasks of random words by creators and assignees among
// users into the database, bypassing the service, and returns them as the
// owner reads them back.
func seedWords(t *testing.T, db *pgtest.DB, r *rand.Rand, n int, users []int64) []task.Task {
	t.Helper()
	ctx := testkit.Context(t)
	phrase := func(max int) string {
		w := make([]string, r.IntN(max+1))
		for i := range w {
			w[i] = searchWords[r.IntN(len(searchWords))]
		}
		return strings.Join(w, " ")
	}
	statuses, priorities := task.Statuses(), task.Priorities()
	rows := make([][]any, n)
	for i := range rows {
		status := statuses[r.IntN(len(statuses))]
		var assignee, completed any
		if r.IntN(2) == 0 {
			assignee = users[r.IntN(len(users))]
		}
		if status == task.StatusCompleted {
			completed = time.Now()
		}
		rows[i] = []any{"t" + fmt.Sprint(i) + " " + phrase(3), phrase(4), string(status), string(priorities[r.IntN(len(priorities))]),
			users[r.IntN(len(users))], assignee, completed}
	}
	if _, err := db.Owner.CopyFrom(ctx, pgx.Identifier{"task"},
		[]string{"title", "description", "status", "priority", "created_by", "assigned_to", "completed_at"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatalf("copy tasks: %v", err)
	}
	return allTasks(t, db)
}

// matches is the Go reference of a search for words: every word but the
// last occurs whole in the title or description, and the last occurs whole
// (asPrefix false) or begins a word (asPrefix true).
func matches(tk task.Task, words []string, asPrefix bool) bool {
	have := strings.Fields(tk.Title + " " + tk.Description)
	for i, w := range words {
		prefix := asPrefix && i == len(words)-1
		if !slices.ContainsFunc(have, func(h string) bool { return h == w || (prefix && strings.HasPrefix(h, w)) }) {
			return false
		}
	}
	return true
}

func TestSearch_TwoWordsFindExactlyTheTasksWithBoth(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := testkit.Context(t)
	r := rand.New(rand.NewPCG(18, 1))
	all := seedWords(t, bn.db, r, 600, []int64{bn.a.UserID, bn.b.UserID, bn.c.UserID})
	svc := task.NewService(bn.store, nil)
	callers := []task.Caller{bn.a, bn.b, bn.admin}
	found := 0 // rounds whose search finds a task
	for round := range 40 {
		c := callers[round%len(callers)]
		words := []string{searchWords[r.IntN(len(searchWords))], searchWords[r.IntN(len(searchWords))]}
		asPrefix := round%2 == 0
		q := strings.Join(words, " ")
		if !asPrefix {
			q += " " // a query ending in a space matches its last word whole
		}
		var f task.Filter
		switch round % 4 {
		case 1:
			f.Statuses = []task.Status{task.StatusPending, task.StatusCompleted}
		case 2:
			f.Priorities = []task.Priority{task.PriorityHigh}
			f.AssignedTo = &bn.b.UserID
		case 3:
			f.CreatedBy = &bn.a.UserID
		}
		order := []string{"", "relevance", "priority desc", "updated_at"}[round%4]
		var want []int64
		for _, tk := range all {
			if c.Visible(tk) && filterMatches(f, tk) && matches(tk, words, asPrefix) {
				want = append(want, tk.ID)
			}
		}
		var got []int64
		var scores []float32
		req := task.ListRequest{Filter: f, Search: &q, OrderBy: order, PageSize: 7}
		for {
			p, err := svc.List(ctx, c, req)
			if err != nil {
				t.Fatalf("round %d: list %q (%s): %v", round, q, order, err)
			}
			for _, tk := range p.Tasks {
				got = append(got, tk.ID)
				scores = append(scores, tk.Relevance)
			}
			if p.NextPageToken == "" {
				break
			}
			req.PageToken = p.NextPageToken
		}
		if order == "relevance" {
			for i := 1; i < len(scores); i++ {
				if scores[i] > scores[i-1] {
					t.Errorf("round %d: %q by relevance: score %v after %v", round, q, scores[i], scores[i-1])
				}
			}
		}
		if len(want) > 0 {
			found++
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("round %d: caller %d, q %q, filter %+v, order %q:\n got %v\nwant %v", round, c.UserID, q, f, order, got, want)
		}
	}
	if found < 20 {
		t.Errorf("only %d of 40 searches should find anything: the data does not test the search", found)
	}
}

// filterMatches is the Go reference of the filters the search test uses.
func filterMatches(f task.Filter, tk task.Task) bool {
	return (len(f.Statuses) == 0 || slices.Contains(f.Statuses, tk.Status)) &&
		(len(f.Priorities) == 0 || slices.Contains(f.Priorities, tk.Priority)) &&
		(f.AssignedTo == nil || *f.AssignedTo == tk.AssignedTo) &&
		(f.CreatedBy == nil || *f.CreatedBy == tk.CreatedBy)
}

func TestSearch_LastWordIsAPrefixAsTyped(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := testkit.Context(t)
	svc := task.NewService(bn.store, nil)
	sprint := mustCreate(t, bn.store, bn.a, "Plan sprint 12")
	mustCreate(t, bn.store, bn.a, "plan the spring party")
	mustCreate(t, bn.store, bn.a, "sprint retro")
	mustCreate(t, bn.store, bn.b, "plan sprint of somebody else")
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"plan sp", []string{"Plan sprint 12", "plan the spring party"}},
		{"plan spr", []string{"Plan sprint 12", "plan the spring party"}},
		{"plan sprint", []string{"Plan sprint 12"}},
		{"PLAN SPRI", []string{"Plan sprint 12", "plan the spring party"}},
		{"plan sp ", nil}, // the space ends the word: "sp" whole
		{`"plan sprint"`, []string{"Plan sprint 12"}},
		{"sprint -plan", []string{"sprint retro"}},
		{"retro or spring", []string{"plan the spring party", "sprint retro"}},
	} {
		q := tc.q
		p, err := svc.List(ctx, bn.a, task.ListRequest{Search: &q, OrderBy: "created_at"})
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		var got []string
		for _, tk := range p.Tasks {
			got = append(got, tk.Title)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: got %q, want %q", q, got, tc.want)
		}
	}
	q := "plan sp"
	p, err := svc.List(ctx, bn.a, task.ListRequest{Search: &q, OrderBy: "relevance"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Tasks) == 0 || p.Tasks[0].ID != sprint.ID || p.Tasks[0].Relevance <= 0 {
		t.Errorf("by relevance: got %+v, want %q first with a positive relevance", p.Tasks, sprint.Title)
	}
}

func TestSearch_NoWordToFindIsErrEmptySearch(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := testkit.Context(t)
	mustCreate(t, bn.store, bn.a, "the plan")
	english := task.NewService(New(bn.db.TaskApp, WithSearchConfig("english")), nil)
	simple := task.NewService(bn.store, nil)
	for _, tc := range []struct {
		svc *task.Service
		q   string
	}{
		{simple, ""},
		{simple, "   "},
		{simple, "-plan"},
		{simple, "!!! ???"},
		{english, "the a of"},
		{english, "-plan"},
	} {
		q := tc.q
		_, err := tc.svc.List(ctx, bn.a, task.ListRequest{Search: &q})
		if !errors.Is(err, task.ErrEmptySearch) {
			t.Errorf("q %q: got %v, want ErrEmptySearch", q, err)
		}
	}
	// A stop word next to a word to find is dropped, not refused.
	q := "the plans"
	p, err := english.List(ctx, bn.a, task.ListRequest{Search: &q})
	if err != nil || len(p.Tasks) != 1 {
		t.Errorf("english %q: got %v, %v; want the task (stemmed plan, stop word dropped)", q, p.Tasks, err)
	}
	if _, err := simple.List(ctx, bn.a, task.ListRequest{OrderBy: "relevance"}); !errors.Is(err, task.ErrRelevanceNeedsSearch) {
		t.Errorf("relevance without q: got %v, want ErrRelevanceNeedsSearch", err)
	}
}

func TestSearch_PageTokenIsBoundToTheQuery(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := testkit.Context(t)
	svc := task.NewService(bn.store, nil)
	for i := range 3 {
		mustCreate(t, bn.store, bn.a, fmt.Sprintf("plan %d", i))
	}
	q, other := "plan", "plans"
	p, err := svc.List(ctx, bn.a, task.ListRequest{Search: &q, OrderBy: "relevance", PageSize: 1})
	if err != nil || p.NextPageToken == "" {
		t.Fatalf("first page: %v, %v", p, err)
	}
	if _, err := svc.List(ctx, bn.a, task.ListRequest{Search: &other, OrderBy: "relevance", PageToken: p.NextPageToken}); !errors.Is(err, task.ErrInvalidPageToken) {
		t.Errorf("token of %q with %q: got %v, want ErrInvalidPageToken", q, other, err)
	}
	if _, err := svc.List(ctx, bn.a, task.ListRequest{OrderBy: "relevance", PageToken: p.NextPageToken}); err == nil {
		t.Error("token of a search without q: accepted")
	}
}

func TestCheckSearch(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := testkit.Context(t)
	if indexed, err := bn.store.CheckSearch(ctx); err != nil || !indexed {
		t.Errorf("simple: indexed %v, %v; want the index of migration 00008", indexed, err)
	}
	if indexed, err := New(bn.db.TaskApp, WithSearchConfig("english")).CheckSearch(ctx); err != nil || indexed {
		t.Errorf("english: indexed %v, %v; want no index and no error", indexed, err)
	}
	if _, err := New(bn.db.TaskApp, WithSearchConfig("klingon")).CheckSearch(ctx); err == nil {
		t.Error("klingon: no error")
	}
}

func TestSearchPlans_100kTasks_UseTheSearchIndexUnderRLS(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := testkit.Context(t)
	rows, err := db.Owner.Query(ctx, `
INSERT INTO "user" (email, username, password_hash)
SELECT 'u' || i || '@example.com', 'u' || i, 'x' FROM generate_series(1, 200) AS i
RETURNING id`)
	if err != nil {
		t.Fatal(err)
	}
	users, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	// 100,000 tasks of words from a vocabulary of 5,000: each word is in
	// about 100 tasks, as a real user's rarer words are.
	r := rand.New(rand.NewPCG(18, 100))
	word := func() string { return fmt.Sprintf("word%04d", r.IntN(5000)) }
	statuses := task.Statuses()
	data := make([][]any, 100_000)
	for i := range data {
		var assignee any
		if r.IntN(10) >= 4 {
			assignee = users[r.IntN(len(users))]
		}
		status := statuses[r.IntN(2)] // not completed: no completed_at to set
		data[i] = []any{"task " + word() + " " + word(), word() + " " + word() + " " + word(), string(status), "medium",
			users[r.IntN(len(users))], assignee}
	}
	err = pgx.BeginFunc(ctx, db.Owner, func(tx pgx.Tx) error {
		// As seedTasks: no per-row foreign key or audit triggers.
		if _, err := tx.Exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
			return err
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"task"},
			[]string{"title", "description", "status", "priority", "created_by", "assigned_to"}, pgx.CopyFromRows(data))
		return err
	})
	if err != nil {
		t.Fatalf("copy tasks: %v", err)
	}
	if _, err := db.Owner.Exec(ctx, "VACUUM ANALYZE task"); err != nil {
		t.Fatal(err)
	}
	me := task.Caller{UserID: users[17]}
	admin := task.Caller{UserID: users[0], Admin: true}
	search := func(q string) task.Filter {
		s, err := task.ParseSearch(q)
		if err != nil {
			t.Fatal(err)
		}
		return task.Filter{Search: &s}
	}
	byStatus := search("word0042 ")
	byStatus.Statuses = []task.Status{task.StatusPending}
	relevance := task.Order{Key: task.SortRelevance, Desc: true}
	for _, s := range []struct {
		name string
		c    task.Caller
		q    task.Query
	}{
		{"visible to me, newest first", me, task.Query{Filter: search("word0042 word0043 "), Order: task.DefaultOrder}},
		{"visible to me, one word", me, task.Query{Filter: search("word0042 "), Order: task.DefaultOrder}},
		{"visible to me, prefix as typed", me, task.Query{Filter: search("word0042 word004"), Order: task.DefaultOrder}},
		{"visible to me, by relevance", me, task.Query{Filter: search("word0042"), Order: relevance}},
		{"visible to me, by relevance, next page", me, task.Query{Filter: search("word0042"), Order: relevance,
			After: &task.Cursor{ID: 50_000, Score: 0.06}}},
		{"visible to me, with a status", me, task.Query{Filter: byStatus, Order: task.Order{Key: task.SortUpdatedAt}}},
		{"admin, newest first", admin, task.Query{Filter: search("word0042"), Order: task.DefaultOrder}},
		{"admin, by relevance", admin, task.Query{Filter: search("word0042 word0043"), Order: relevance}},
	} {
		s.q.Limit = task.DefaultPageSize + 1
		sql, args := listQuery(DefaultSearchConfig, s.c, s.q)
		for _, generic := range []bool{false, true} {
			plan := explain(t, db, s.c, sql, args, generic)
			t.Logf("%s (generic %v):\n%s", s.name, generic, plan)
			if strings.Contains(plan, "Seq Scan on task") {
				t.Errorf("%s (generic plan %v): sequential scan of task:\n%s", s.name, generic, plan)
			}
			if !strings.Contains(plan, "idx_tasks_search") {
				t.Errorf("%s (generic plan %v): idx_tasks_search not used:\n%s", s.name, generic, plan)
			}
		}
	}
}
