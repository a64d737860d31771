package taskstore

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/pkg/testkit"
	"github.com/todo-platform/todo/services/task/internal/task"
)

// purgeCandidatesSQL is the predicate of task_purge (task set 00009), as a
// query the app role may explain.
const purgeCandidatesSQL = `
SELECT count(*) FROM task
WHERE deleted_at IS NOT NULL AND deleted_at < now() - @retention_seconds::bigint * interval '1 second'`

// TestSoftDeletePlans_UseIndexes: with one task in twenty deleted, the
// listings keep their indexes (the row-level security predicate on
// deleted_at is a filter of the rows they find), the admin's show_deleted
// listing too, the purge finds its rows from the partial
// idx_tasks_deleted_at, the soft delete by primary key and the undelete
// from an index.
func TestSoftDeletePlans_UseIndexes(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := testkit.Context(t)
	rows, err := db.Owner.Query(ctx, `
INSERT INTO "user" (email, username, password_hash)
SELECT 'u' || i || '@example.com', 'u' || i, 'x' FROM generate_series(1, 100) AS i
RETURNING id`)
	if err != nil {
		t.Fatal(err)
	}
	users, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	seedTasks(t, db, rand.New(rand.NewPCG(21, 22)), 40_000, users)
	if _, err := db.Owner.Exec(ctx, `UPDATE task SET deleted_at = created_at WHERE id % 20 = 0`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Owner.Exec(ctx, "VACUUM ANALYZE task"); err != nil {
		t.Fatal(err)
	}
	me := task.Caller{UserID: users[17]}
	admin := task.Caller{UserID: users[0], Admin: true}
	byID := pgx.NamedArgs{"id": int64(20), "retention_seconds": int64(30 * 86400), "any_version": true, "version": int64(0)}
	for k, v := range callerArgs(me) {
		byID[k] = v
	}
	listMine, mineArgs := listQuery(DefaultSearchConfig, me, task.Query{Order: task.DefaultOrder, Limit: 50})
	listAll, allArgs := listQuery(DefaultSearchConfig, admin, task.Query{Order: task.DefaultOrder, Limit: 50, Filter: task.Filter{ShowDeleted: true}})
	for _, s := range []struct {
		name    string
		c       task.Caller
		show    bool
		sql     string
		args    pgx.NamedArgs
		indexes []string
	}{
		{"default listing, visible to me", me, false, listMine, mineArgs, []string{"idx_tasks_created_by_created_at", "idx_tasks_assigned_to_created_at"}},
		{"admin's show_deleted listing", admin, true, listAll, allArgs, []string{"idx_tasks_created_at"}},
		{"stats overdue", me, false, overdueSQL, callerArgs(me), []string{"idx_tasks_open_created_by_due"}},
		{"purge", admin, true, purgeCandidatesSQL, byID, []string{"idx_tasks_deleted_at"}},
		// By id, or, when the planner expects few deleted tasks in the
		// window, from idx_tasks_deleted_at: an index either way.
		{"undelete", me, true, undeleteSQL, byID, nil},
		{"soft delete", me, true, deleteSQL, byID, []string{"task_pkey"}},
	} {
		for _, generic := range []bool{false, true} {
			set := settings(ctx, s.c)
			if s.show {
				set = showDeleted(set)
			}
			plan := explainWith(t, db, set, s.sql, s.args, generic)
			t.Logf("%s (generic %v):\n%s", s.name, generic, plan)
			if strings.Contains(plan, "Seq Scan on task") {
				t.Errorf("%s (generic %v): sequential scan of task:\n%s", s.name, generic, plan)
			}
			for _, idx := range s.indexes {
				if !strings.Contains(plan, idx) {
					t.Errorf("%s (generic %v): %s not used:\n%s", s.name, generic, idx, plan)
				}
			}
		}
	}
}
