package taskstore_test

import (
	"slices"
	"testing"
	"time"

	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/pkg/testkit"
	"github.com/todo-platform/todo/services/task/internal/taskstore"
)

func TestSweepRequests_DeletesEveryCallersExpiredRequestIDs(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := testkit.Context(t)
	a, b := db.SeedUser(t, pgtest.User{Name: "a", Active: true}), db.SeedUser(t, pgtest.User{Name: "b", Active: true})
	for _, r := range []struct {
		by  int64
		id  string
		age string
	}{
		{a, "00000000-0000-4000-8000-000000000001", "25 hours"},
		{b, "00000000-0000-4000-8000-000000000002", "25 hours"},
		{b, "00000000-0000-4000-8000-000000000003", "1 minute"},
	} {
		if _, err := db.Owner.Exec(ctx, `INSERT INTO task_request (created_by, request_id, fingerprint, created_at) VALUES ($1, $2, '\x00', now() - $3::interval)`, r.by, r.id, r.age); err != nil {
			t.Fatal(err)
		}
	}
	n, err := taskstore.New(db.TaskApp).SweepRequests(ctx, 24*time.Hour)
	if err != nil || n != 2 {
		t.Fatalf("SweepRequests = %d, %v; want 2 deleted", n, err)
	}
	var left []string
	rows, err := db.Owner.Query(ctx, `SELECT request_id::text FROM task_request`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		left = append(left, s)
	}
	if want := []string{"00000000-0000-4000-8000-000000000003"}; !slices.Equal(left, want) {
		t.Errorf("left %q, want %q", left, want)
	}
}
