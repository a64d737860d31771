package taskstore

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/todo-platform/todo/pkg/testkit"
	"github.com/todo-platform/todo/services/task/internal/task"
)

// openTx begins a transaction on the app role's pool as c and creates a
// task titled title in it, so that the transaction holds its xid; the
// caller commits it.
func openTx(t *testing.T, bn *bundle, c task.Caller, title string) pgx.Tx {
	t.Helper()
	ctx := testkit.Context(t)
	tx, err := bn.db.TaskApp.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT set_config('app.user_id', $1, true), set_config('app.is_admin', 'false', true)`, strconv.FormatInt(c.UserID, 10)); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO task (title, created_by) VALUES ($1, $2)`, title, c.UserID); err != nil {
		t.Fatal(err)
	}
	return tx
}

// feedReader reads one user's feed page by page through the Service, as a
// client would, and keeps every change it got.
type feedReader struct {
	svc   *task.Service
	c     task.Caller
	token string
	got   []task.TaskChange
}

func newFeedReader(t *testing.T, svc *task.Service, c task.Caller) *feedReader {
	t.Helper()
	p, err := svc.Changes(testkit.Context(t), c, "", 0)
	if err != nil || len(p.Changes) != 0 || p.Token == "" {
		t.Fatalf("first read: %v, %v; want only a token", p, err)
	}
	return &feedReader{svc: svc, c: c, token: p.Token}
}

// read reads until the feed has no more changes now, size at a time.
func (r *feedReader) read(ctx context.Context, size int) error {
	for {
		p, err := r.svc.Changes(ctx, r.c, r.token, size)
		if err != nil {
			return err
		}
		r.got = append(r.got, p.Changes...)
		r.token = p.Token
		if !p.More {
			return nil
		}
	}
}

// catchUp reads until r has want changes or a deadline passes. Other
// tests' transactions on the same cluster hold the horizon back for a
// while (xids are cluster-wide): a change below an open transaction is
// late, never lost.
func (r *feedReader) catchUp(t *testing.T, want int) {
	t.Helper()
	ctx := testkit.Context(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := r.read(ctx, 50); err != nil {
			t.Fatal(err)
		}
		if len(r.got) >= want || time.Now().After(deadline) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// titles returns the titles of the tasks of r's changes, in order.
func (r *feedReader) titles() []string {
	var out []string
	for _, c := range r.got {
		out = append(out, c.Task.Title)
	}
	return out
}

// TestFeed_ReorderedCommitIsNotMissed: transaction 1 takes its xid first
// and commits after transaction 2; a read between the two commits must not
// move past 1's change, so the next read still returns it. Each round
// checks it exactly, many times over.
func TestFeed_ReorderedCommitIsNotMissed(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := testkit.Context(t)
	svc := task.NewService(bn.store, nil)
	r := newFeedReader(t, svc, bn.a)
	const rounds = 100
	for i := range rounds {
		first, second := fmt.Sprintf("first %d", i), fmt.Sprintf("second %d", i)
		tx1 := openTx(t, bn, bn.a, first)
		var wg sync.WaitGroup
		wg.Go(func() { // transaction 2, on another connection, commits first
			tx2 := openTx(t, bn, bn.a, second)
			if err := tx2.Commit(ctx); err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		if err := r.read(ctx, 1+i%3); err != nil {
			t.Fatal(err)
		}
		if err := tx1.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.read(ctx, 1+i%3); err != nil {
			t.Fatal(err)
		}
	}
	r.catchUp(t, 2*rounds)
	got := r.titles()
	if len(got) != 2*rounds {
		t.Fatalf("read %d changes, want %d: %q", len(got), 2*rounds, got)
	}
	seen := map[string]int{}
	for _, title := range got {
		seen[title]++
	}
	for i := range rounds {
		for _, title := range []string{fmt.Sprintf("first %d", i), fmt.Sprintf("second %d", i)} {
			if seen[title] != 1 {
				t.Errorf("%q read %d times, want once", title, seen[title])
			}
		}
	}
}

// TestFeed_ConcurrentWritersNeverMissOrRepeat: writers commit tasks in
// whatever order their transactions end while a reader polls; once they
// are done and the reader has caught up, it has read every task exactly
// once.
func TestFeed_ConcurrentWritersNeverMissOrRepeat(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := testkit.Context(t)
	svc := task.NewService(bn.store, nil)
	r := newFeedReader(t, svc, bn.a)
	const writers, each = 4, 50
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				tx := openTx(t, bn, bn.a, fmt.Sprintf("w%d-%d", w, i))
				// Half of them take a second statement's time before
				// committing, so commits overtake each other.
				if i%2 == 0 {
					if _, err := tx.Exec(ctx, `SELECT count(*) FROM task`); err != nil {
						t.Error(err)
					}
				}
				if err := tx.Commit(ctx); err != nil {
					t.Error(err)
				}
			}
		})
	}
	go func() { wg.Wait(); close(done) }()
	polling := true
	for polling {
		select {
		case <-done:
			polling = false
		default:
		}
		if err := r.read(ctx, 7); err != nil {
			t.Fatal(err)
		}
	}
	r.catchUp(t, writers*each)
	seen := map[string]int{}
	for _, title := range r.titles() {
		seen[title]++
	}
	for w := range writers {
		for i := range each {
			if title := fmt.Sprintf("w%d-%d", w, i); seen[title] != 1 {
				t.Errorf("%q read %d times, want once", title, seen[title])
			}
		}
	}
	if len(r.got) != writers*each {
		t.Errorf("read %d changes, want %d", len(r.got), writers*each)
	}
}

// TestFeed_RowsAreTheirReadersOnly: the app role, set up as B, reads none
// of A's feed rows even without a WHERE clause, and cannot delete them.
func TestFeed_RowsAreTheirReadersOnly(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := testkit.Context(t)
	mustCreate(t, bn.store, bn.a, "A's")
	tx, err := bn.db.TaskApp.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT set_config('app.user_id', $1, true)`, strconv.FormatInt(bn.b.UserID, 10)); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM task_change`).Scan(&n); err != nil || n != 0 {
		t.Errorf("B reads %d feed rows (%v), want 0", n, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM task_change`); err == nil {
		t.Error("the app role deleted feed rows")
	}
}

// TestSweepChanges_DeletesRowsPastTheRetentionOnly: rows older than the
// retention go, younger ones stay.
func TestSweepChanges_DeletesRowsPastTheRetentionOnly(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := testkit.Context(t)
	mustCreate(t, bn.store, bn.a, "old")
	mustCreate(t, bn.store, bn.a, "new")
	retention := task.DefaultFeedRetention + task.FeedSweepMargin
	if _, err := bn.db.Owner.Exec(ctx, `UPDATE task_change SET created_at = now() - $1::bigint * interval '1 second' - interval '1 hour' WHERE task->>'title' = 'old'`, int64(retention/time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := bn.store.SweepChanges(ctx, retention)
	if err != nil || n != 1 {
		t.Fatalf("SweepChanges = %d, %v; want 1", n, err)
	}
	var left []string
	rows, err := bn.db.Owner.Query(ctx, `SELECT task->>'title' FROM task_change`)
	if err != nil {
		t.Fatal(err)
	}
	if left, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil || len(left) != 1 || left[0] != "new" {
		t.Errorf("left %q, %v; want [new]", left, err)
	}
}
