package schema_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/pkg/schema"
)

// rlsFixture: users a, b, c and four tasks, seeded as the owner.
type rlsFixture struct {
	db      *pgtest.DB
	a, b, c int64
	// tasks by what they are to a
	aCreated, aAssigned, bOnly, cAssignedB int64
}

func newRLSFixture(t *testing.T) *rlsFixture {
	t.Helper()
	db := pgtest.New(t)
	f := &rlsFixture{db: db}
	f.a, f.b, f.c = insertUser(t, db.Owner, "a"), insertUser(t, db.Owner, "b"), insertUser(t, db.Owner, "c")
	insert := func(createdBy int64, assignedTo *int64) int64 {
		var id int64
		err := db.Owner.QueryRow(context.Background(),
			`INSERT INTO task (title, created_by, assigned_to) VALUES ('t', $1, $2) RETURNING id`, createdBy, assignedTo).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	f.aCreated = insert(f.a, nil)
	f.aAssigned = insert(f.b, &f.a)
	f.bOnly = insert(f.b, nil)
	f.cAssignedB = insert(f.c, &f.b)
	return f
}

func asUser(id int64) []pgdb.Setting {
	return []pgdb.Setting{{Name: schema.SettingUserID, Value: strconv.FormatInt(id, 10)}, {Name: schema.SettingIsAdmin, Value: "false"}}
}

// visibleTaskIDs returns the ids of SELECT * FROM task in a transaction with settings.
func visibleTaskIDs(t *testing.T, db *pgdb.DB, settings []pgdb.Setting) []int64 {
	t.Helper()
	var ids []int64
	err := db.InTx(context.Background(), pgdb.RetrySafe, settings, func(tx pgx.Tx) error {
		rows, err := tx.Query(context.Background(), `SELECT * FROM task ORDER BY id`)
		if err != nil {
			return err
		}
		for rows.Next() {
			v, err := rows.Values()
			if err != nil {
				return err
			}
			ids = append(ids, v[0].(int64))
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestRLS_WithoutSettingNothingIsVisible(t *testing.T) {
	t.Parallel()
	f := newRLSFixture(t)
	ctx := context.Background()
	var all int
	if err := f.db.Owner.QueryRow(ctx, `SELECT count(*) FROM task`).Scan(&all); err != nil || all != 4 {
		t.Fatalf("owner sees %d tasks (%v), want 4", all, err)
	}

	var n int
	if err := f.db.TaskApp.Pool.QueryRow(ctx, `SELECT count(*) FROM task`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("app role without settings sees %d tasks, want 0", n)
	}
	for name, settings := range map[string][]pgdb.Setting{
		"no settings":  nil,
		"empty values": {{Name: schema.SettingUserID, Value: ""}, {Name: schema.SettingIsAdmin, Value: ""}},
		"admin false":  {{Name: schema.SettingIsAdmin, Value: "false"}},
	} {
		if got := visibleTaskIDs(t, f.db.TaskApp, settings); len(got) != 0 {
			t.Errorf("%s: app role sees tasks %v, want none", name, got)
		}
	}
}

func TestRLS_UserSeesExactlyCreatedOrAssignedTasks(t *testing.T) {
	t.Parallel()
	f := newRLSFixture(t)
	tests := []struct {
		name     string
		settings []pgdb.Setting
		want     []int64
	}{
		{"a", asUser(f.a), []int64{f.aCreated, f.aAssigned}},
		{"b", asUser(f.b), []int64{f.aAssigned, f.bOnly, f.cAssignedB}},
		{"c", asUser(f.c), []int64{f.cAssignedB}},
		{"no such user", asUser(f.c + 100), nil},
		{"admin", []pgdb.Setting{{Name: schema.SettingIsAdmin, Value: "true"}}, []int64{f.aCreated, f.aAssigned, f.bOnly, f.cAssignedB}},
	}
	for _, tt := range tests {
		if got := visibleTaskIDs(t, f.db.TaskApp, tt.settings); !slices.Equal(got, tt.want) {
			t.Errorf("%s sees tasks %v, want %v", tt.name, got, tt.want)
		}
	}
}

// sqlState returns err's SQLSTATE, or "" when it is not a PostgreSQL error.
func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

func TestRLS_InsertOnlyAsCreator(t *testing.T) {
	t.Parallel()
	f := newRLSFixture(t)
	ctx := context.Background()
	insert := func(settings []pgdb.Setting, createdBy int64) error {
		return f.db.TaskApp.InTx(ctx, pgdb.RetrySafe, settings, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO task (title, created_by) VALUES ('new', $1)`, createdBy)
			return err
		})
	}
	if err := insert(asUser(f.a), f.b); sqlState(err) != "42501" {
		t.Errorf("a inserting a task created_by b: got %v, want an RLS violation (42501)", err)
	}
	if err := insert(nil, f.a); sqlState(err) != "42501" {
		t.Errorf("inserting without settings: got %v, want an RLS violation (42501)", err)
	}
	if err := insert(asUser(f.a), f.a); err != nil {
		t.Errorf("a inserting its own task: %v", err)
	}
	if err := insert([]pgdb.Setting{{Name: schema.SettingIsAdmin, Value: "true"}}, f.c); err != nil {
		t.Errorf("admin inserting a task for c: %v", err)
	}
}

func TestRLS_UpdateCannotMoveTaskToAnotherCreator(t *testing.T) {
	t.Parallel()
	f := newRLSFixture(t)
	ctx := context.Background()
	exec := func(settings []pgdb.Setting, sql string, args ...any) (int64, error) {
		var n int64
		err := f.db.TaskApp.InTx(ctx, pgdb.RetrySafe, settings, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, sql, args...)
			n = tag.RowsAffected()
			return err
		})
		return n, err
	}
	admin := []pgdb.Setting{{Name: schema.SettingIsAdmin, Value: "true"}}
	for name, settings := range map[string][]pgdb.Setting{"creator": asUser(f.a), "admin": admin} {
		if _, err := exec(settings, `UPDATE task SET created_by = $1 WHERE id = $2`, f.b, f.aCreated); sqlState(err) != "42501" {
			t.Errorf("%s changing created_by: got %v, want permission denied (42501)", name, err)
		}
	}
	// The assignee of b's task cannot hand it to c: the row would leave its view.
	if _, err := exec(asUser(f.a), `UPDATE task SET assigned_to = $1 WHERE id = $2`, f.c, f.aAssigned); sqlState(err) != "42501" {
		t.Errorf("assignee reassigning away: got %v, want an RLS violation (42501)", err)
	}
	// Rows a cannot see are neither updated nor deleted.
	if n, err := exec(asUser(f.a), `UPDATE task SET title = 'x' WHERE id = $1`, f.bOnly); err != nil || n != 0 {
		t.Errorf("a updating b's task: %d rows, %v; want 0 rows", n, err)
	}
	if n, err := exec(asUser(f.a), `DELETE FROM task WHERE id = $1`, f.bOnly); err != nil || n != 0 {
		t.Errorf("a deleting b's task: %d rows, %v; want 0 rows", n, err)
	}
	// What a may do.
	if n, err := exec(asUser(f.a), `UPDATE task SET title = 'mine', assigned_to = $1 WHERE id = $2`, f.c, f.aCreated); err != nil || n != 1 {
		t.Errorf("a updating and assigning its own task: %d rows, %v; want 1 row", n, err)
	}
	if n, err := exec(asUser(f.a), `UPDATE task SET status = 'completed', completed_at = now() WHERE id = $1`, f.aAssigned); err != nil || n != 1 {
		t.Errorf("assignee completing a task: %d rows, %v; want 1 row", n, err)
	}
	var createdBy int64
	if err := f.db.Owner.QueryRow(ctx, `SELECT created_by FROM task WHERE id = $1`, f.aCreated).Scan(&createdBy); err != nil || createdBy != f.a {
		t.Errorf("created_by of a's task is %d (%v), want %d", createdBy, err, f.a)
	}
}

func TestRLS_AppRoleCannotLiftSecurity(t *testing.T) {
	t.Parallel()
	f := newRLSFixture(t)
	ctx := context.Background()
	for _, q := range []string{
		`ALTER TABLE task DISABLE ROW LEVEL SECURITY`,
		`ALTER TABLE task NO FORCE ROW LEVEL SECURITY`,
		`DROP POLICY task_select ON task`,
		`DELETE FROM "user"`,
		`TRUNCATE task`,
	} {
		if _, err := f.db.TaskApp.Pool.Exec(ctx, q); sqlState(err) != "42501" {
			t.Errorf("app role: %s: got %v, want permission denied (42501)", q, err)
		}
	}
	var forced, enabled bool
	if err := f.db.Owner.QueryRow(ctx, `SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'task'::regclass`).Scan(&enabled, &forced); err != nil {
		t.Fatal(err)
	}
	if !enabled || !forced {
		t.Errorf("task row level security enabled %v forced %v, want both", enabled, forced)
	}
}
