package schema_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/pkg/schema"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// indexInfo is an index as the catalog describes it.
type indexInfo struct {
	table   string
	columns []string // attribute names in key order; "" for an expression column
	unique  bool
	partial bool
	def     string
}

func readIndexes(t *testing.T, pool *pgxpool.Pool) map[string]indexInfo {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
SELECT i.relname, t.relname, x.indisunique, x.indpred IS NOT NULL, pg_get_indexdef(x.indexrelid),
       array(SELECT coalesce(a.attname, '')
               FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
               LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum AND k.attnum > 0
              ORDER BY k.ord)
  FROM pg_index x
  JOIN pg_class i ON i.oid = x.indexrelid
  JOIN pg_class t ON t.oid = x.indrelid
 WHERE t.relnamespace = 'public'::regnamespace`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]indexInfo{}
	for rows.Next() {
		var name string
		var ix indexInfo
		if err := rows.Scan(&name, &ix.table, &ix.unique, &ix.partial, &ix.def, &ix.columns); err != nil {
			t.Fatal(err)
		}
		got[name] = ix
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestSchema_NamedIndexesHaveTheirColumns(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	got := readIndexes(t, db.Owner)

	want := []struct {
		name, table string
		columns     []string
	}{
		{"idx_users_email", "user", []string{"email"}},
		{"idx_users_username", "user", []string{"username"}},
		{"idx_users_active", "user", []string{"is_active", "created_at"}},
		{"idx_users_created_at", "user", []string{"created_at"}},
		{"idx_tasks_created_by", "task", []string{"created_by"}},
		{"idx_tasks_assigned_to", "task", []string{"assigned_to"}},
		{"idx_tasks_status", "task", []string{"status"}},
		{"idx_tasks_priority", "task", []string{"priority"}},
		{"idx_tasks_due_date", "task", []string{"due_date"}},
		{"idx_tasks_created_at", "task", []string{"created_at"}},
		{"idx_tasks_composite", "task", []string{"created_by", "status", "priority"}},
	}
	for _, w := range want {
		ix, ok := got[w.name]
		if !ok {
			t.Errorf("index %s is missing", w.name)
			continue
		}
		if ix.table != w.table || !slices.Equal(ix.columns, w.columns) || ix.partial {
			t.Errorf("index %s is on %s%q (partial %v), want %s%q, not partial", w.name, ix.table, ix.columns, ix.partial, w.table, w.columns)
		}
	}

	// The indexes added for case-insensitive emails, the active-user listing
	// and open tasks by assignee.
	var lowerEmail, activeUsers, openTasks bool
	for name, ix := range got {
		switch {
		case ix.table == "user" && ix.unique && strings.Contains(ix.def, "(lower(email))") && !ix.partial:
			lowerEmail = true
		case ix.table == "user" && ix.partial && strings.Contains(ix.def, "WHERE is_active"):
			activeUsers = true
		case ix.table == "task" && ix.partial && slices.Equal(ix.columns, []string{"assigned_to", "due_date"}) &&
			strings.Contains(ix.def, "WHERE (status <> 'completed'::text)"):
			openTasks = true
		}
		_ = name
	}
	if !lowerEmail {
		t.Error("no UNIQUE index on lower(email)")
	}
	if !activeUsers {
		t.Error("no partial index for active users")
	}
	if !openTasks {
		t.Error("no partial index on task (assigned_to, due_date) for tasks not completed")
	}
	for _, name := range []string{"idx_users_email", "idx_users_username"} {
		if !got[name].unique {
			t.Errorf("index %s is not unique; it enforces the UNIQUE constraint of its column", name)
		}
	}
}

func TestSchema_ColumnsAreAsWritten(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	rows, err := db.Owner.Query(context.Background(), `
SELECT table_name, column_name, data_type, is_nullable = 'YES', coalesce(column_default, ''), is_identity = 'YES'
  FROM information_schema.columns
 WHERE table_schema = 'public' AND table_name IN ('user', 'task')
 ORDER BY table_name, ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var table, col, typ, def string
		var nullable, identity bool
		if err := rows.Scan(&table, &col, &typ, &nullable, &def, &identity); err != nil {
			t.Fatal(err)
		}
		s := fmt.Sprintf("%s.%s %s", table, col, typ)
		if !nullable {
			s += " NOT NULL"
		}
		if def != "" {
			s += " DEFAULT " + def
		}
		if identity {
			s += " IDENTITY"
		}
		got = append(got, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"task.id bigint NOT NULL IDENTITY",
		"task.title text NOT NULL",
		"task.description text",
		"task.status text NOT NULL DEFAULT 'pending'::text",
		"task.priority text NOT NULL DEFAULT 'medium'::text",
		"task.due_date timestamp with time zone",
		"task.created_by bigint NOT NULL",
		"task.assigned_to bigint",
		"task.created_at timestamp with time zone NOT NULL DEFAULT now()",
		"task.updated_at timestamp with time zone NOT NULL DEFAULT now()",
		"task.completed_at timestamp with time zone",
		"user.id bigint NOT NULL IDENTITY",
		"user.email text NOT NULL",
		"user.username text NOT NULL",
		"user.password_hash text NOT NULL",
		"user.full_name text",
		"user.is_active boolean NOT NULL DEFAULT true",
		"user.is_verified boolean NOT NULL DEFAULT false",
		"user.is_admin boolean NOT NULL DEFAULT false",
		"user.created_at timestamp with time zone NOT NULL DEFAULT now()",
		"user.updated_at timestamp with time zone NOT NULL DEFAULT now()",
	}
	// Later migrations may add columns; these must be there as written.
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("column %q missing; columns are:\n%s", w, strings.Join(got, "\n"))
		}
	}
}

// insertUser adds a user as the owner and returns its id.
func insertUser(t *testing.T, pool *pgxpool.Pool, name string) int64 {
	t.Helper()
	var id int64
	err := pool.QueryRow(context.Background(),
		`INSERT INTO "user" (email, username, password_hash) VALUES ($1, $2, 'hash') RETURNING id`,
		name+"@example.com", name).Scan(&id)
	if err != nil {
		t.Fatalf("insert user %s: %v", name, err)
	}
	return id
}

func TestSchema_DatabaseRefusesBadRows(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	alice := insertUser(t, db.Owner, "alice")

	tests := []struct {
		name       string
		sql        string
		args       []any
		code       string // SQLSTATE
		constraint string // "" when the error names none (NOT NULL)
	}{
		{"status done", `INSERT INTO task (title, created_by, status) VALUES ('t', $1, 'done')`, []any{alice}, "23514", "task_status_check"},
		{"priority critical", `INSERT INTO task (title, created_by, priority) VALUES ('t', $1, 'critical')`, []any{alice}, "23514", "task_priority_check"},
		{"NULL title", `INSERT INTO task (title, created_by) VALUES (NULL, $1)`, []any{alice}, "23502", ""},
		{"created_by of a missing user", `INSERT INTO task (title, created_by) VALUES ('t', $1)`, []any{alice + 1000}, "23503", "task_created_by_fkey"},
		{"assigned_to of a missing user", `INSERT INTO task (title, created_by, assigned_to) VALUES ('t', $1, $2)`, []any{alice, alice + 1000}, "23503", "task_assigned_to_fkey"},
		{"completed_at on a pending task", `INSERT INTO task (title, created_by, completed_at) VALUES ('t', $1, now())`, []any{alice}, "23514", "task_completed_at_check"},
		{"completed without completed_at", `INSERT INTO task (title, created_by, status) VALUES ('t', $1, 'completed')`, []any{alice}, "23514", "task_completed_at_check"},
		{"duplicate email differing in case", `INSERT INTO "user" (email, username, password_hash) VALUES ('ALICE@Example.com', 'alice2', 'h')`, nil, "23505", "idx_users_email_lower"},
		{"duplicate email", `INSERT INTO "user" (email, username, password_hash) VALUES ('alice@example.com', 'alice3', 'h')`, nil, "23505", ""},
		{"duplicate username", `INSERT INTO "user" (email, username, password_hash) VALUES ('other@example.com', 'alice', 'h')`, nil, "23505", "idx_users_username"},
		{"NULL email", `INSERT INTO "user" (email, username, password_hash) VALUES (NULL, 'x', 'h')`, nil, "23502", ""},
		{"NULL password_hash", `INSERT INTO "user" (email, username, password_hash) VALUES ('x@example.com', 'x', NULL)`, nil, "23502", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := db.Owner.Exec(ctx, tt.sql, tt.args...)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) {
				t.Fatalf("got %v, want SQLSTATE %s", err, tt.code)
			}
			if pgErr.Code != tt.code || (tt.constraint != "" && pgErr.ConstraintName != tt.constraint) {
				t.Errorf("got SQLSTATE %s constraint %q (%v), want %s %q", pgErr.Code, pgErr.ConstraintName, pgErr.Message, tt.code, tt.constraint)
			}
		})
	}

	// The valid counterparts are accepted.
	for _, q := range []string{
		`INSERT INTO task (title, created_by) VALUES ('t', $1)`,
		`INSERT INTO task (title, created_by, status, completed_at) VALUES ('t', $1, 'completed', now())`,
		`INSERT INTO task (title, created_by, status, priority) VALUES ('t', $1, 'in_progress', 'urgent')`,
	} {
		if _, err := db.Owner.Exec(ctx, q, alice); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
}

func TestSchema_PgErrorHelpersNameTheConstraint(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	alice := insertUser(t, db.Owner, "alice")

	_, err := db.Owner.Exec(ctx, `INSERT INTO "user" (email, username, password_hash) VALUES ('x@example.com', 'alice', 'h')`)
	if v, ok := pgdb.Violation(fmt.Errorf("wrapped: %w", err)); !ok || v.Code != pgerrcode.UniqueViolation || v.Constraint != "idx_users_username" {
		t.Errorf("Violation(%v) = %+v, %v; want unique violation of idx_users_username", err, v, ok)
	}
	if !pgdb.IsUniqueViolation(err, "idx_users_username") || pgdb.IsUniqueViolation(err, "idx_users_email") {
		t.Errorf("IsUniqueViolation(%v) does not name idx_users_username alone", err)
	}
	_, err = db.Owner.Exec(ctx, `INSERT INTO task (title, created_by) VALUES ('t', $1)`, alice+1)
	if !pgdb.IsForeignKeyViolation(err, "task_created_by_fkey") {
		t.Errorf("IsForeignKeyViolation(%v, task_created_by_fkey) = false", err)
	}
	if pgdb.IsUniqueViolation(err, "task_created_by_fkey") {
		t.Errorf("IsUniqueViolation(%v) = true for a foreign key violation", err)
	}
	_, err = db.Owner.Exec(ctx, `INSERT INTO task (title, created_by, status) VALUES ('t', $1, 'done')`, alice)
	if !pgdb.IsCheckViolation(err, "task_status_check") {
		t.Errorf("IsCheckViolation(%v, task_status_check) = false", err)
	}
	if _, ok := pgdb.Violation(errors.New("not a database error")); ok {
		t.Error("Violation(non-PgError) = true")
	}
}

func TestSchema_UpdateBumpsUpdatedAt(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	alice := insertUser(t, db.Owner, "alice")
	var task int64
	if err := db.Owner.QueryRow(ctx, `INSERT INTO task (title, created_by) VALUES ('t', $1) RETURNING id`, alice).Scan(&task); err != nil {
		t.Fatal(err)
	}
	// Pretend both rows were written long ago; the trigger must move
	// updated_at to the updating transaction's time on any later UPDATE.
	for _, q := range []string{
		`ALTER TABLE "user" DISABLE TRIGGER update_users_updated_at`,
		`ALTER TABLE task DISABLE TRIGGER update_tasks_updated_at`,
		`UPDATE "user" SET created_at = '2001-01-01Z', updated_at = '2001-01-01Z'`,
		`UPDATE task SET created_at = '2001-01-01Z', updated_at = '2001-01-01Z'`,
		`ALTER TABLE "user" ENABLE TRIGGER update_users_updated_at`,
		`ALTER TABLE task ENABLE TRIGGER update_tasks_updated_at`,
	} {
		if _, err := db.Owner.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	tests := []struct{ table, update string }{
		{"user", `UPDATE "user" SET full_name = 'Alice' WHERE id = $1 RETURNING updated_at = now(), created_at = '2001-01-01Z'`},
		{"task", `UPDATE task SET title = 'renamed' WHERE id = $1 RETURNING updated_at = now(), created_at = '2001-01-01Z'`},
	}
	ids := map[string]int64{"user": alice, "task": task}
	for _, tt := range tests {
		var bumped, createdKept bool
		if err := db.Owner.QueryRow(ctx, tt.update, ids[tt.table]).Scan(&bumped, &createdKept); err != nil {
			t.Fatalf("%s: %v", tt.table, err)
		}
		if !bumped {
			t.Errorf("UPDATE %s: updated_at is not the updating transaction's time", tt.table)
		}
		if !createdKept {
			t.Errorf("UPDATE %s changed created_at", tt.table)
		}
	}
}

func TestSchema_CheckSetsEqualProtoEnums(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	checkValues := regexp.MustCompile(`'([^']*)'::text`)
	enumValues := func(names map[int32]string, prefix string) []string {
		var vs []string
		for n, name := range names {
			if n == 0 {
				continue // UNSPECIFIED
			}
			vs = append(vs, strings.ToLower(strings.TrimPrefix(name, prefix)))
		}
		slices.Sort(vs)
		return vs
	}
	tests := []struct {
		constraint string
		want       []string
	}{
		{"task_status_check", enumValues(taskv1.TaskStatus_name, "TASK_STATUS_")},
		{"task_priority_check", enumValues(taskv1.TaskPriority_name, "TASK_PRIORITY_")},
	}
	for _, tt := range tests {
		var def string
		err := db.Owner.QueryRow(context.Background(),
			`SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'task'::regclass AND conname = $1`, tt.constraint).Scan(&def)
		if err != nil {
			t.Fatalf("constraint %s: %v", tt.constraint, err)
		}
		var got []string
		for _, m := range checkValues.FindAllStringSubmatch(def, -1) {
			got = append(got, m[1])
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s allows %q (%s), the proto enum has %q", tt.constraint, got, def, tt.want)
		}
	}
}

// dumpSchema returns pg_dump --schema-only of the database at dsn.
func dumpSchema(t *testing.T, dsn string) string {
	t.Helper()
	bin, err := pgtest.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	cmd := exec.Command(filepath.Join(bin, "pg_dump"), "--schema-only", "--no-comments", dsn)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, errOut.String())
	}
	// pg_dump 15.14+ brackets the dump in \restrict <random key> … \unrestrict.
	var lines []string
	for _, l := range strings.Split(out.String(), "\n") {
		if !strings.HasPrefix(l, `\restrict `) && !strings.HasPrefix(l, `\unrestrict `) {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// firstDiff describes the first line where a and b differ.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n  before: %q\n  after:  %q", i+1, x, y)
		}
	}
	return "no difference"
}

func TestSchema_UpDownUpGivesTheSameSchema(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	before := dumpSchema(t, db.OwnerURL)
	for _, table := range []string{"TABLE public.task", `TABLE public."user"`, "POLICY task_select", "update_tasks_updated_at", "GRANT SELECT,INSERT,DELETE ON TABLE public.task TO todo_task_svc",
		`GRANT SELECT,INSERT,UPDATE ON TABLE public."user" TO todo_user_svc`, "GRANT USAGE ON SCHEMA river_task TO todo_task_svc",
		"TABLE river_user.river_job", "TABLE river_task.river_job", "TRIGGER task_audit",
		"TABLE public." + partitionName("user_audit_event", time.Now()), "TABLE public." + partitionName("task_audit_event", time.Now())} {
		if !strings.Contains(before, table) {
			t.Fatalf("schema dump lacks %q; is the dump complete?\n%s", table, before)
		}
	}

	// Down one step at a time, task set first (it depends on the user set).
	for _, s := range []*schema.Set{schema.Task(), schema.User()} {
		for {
			v, err := schema.Version(ctx, db.OwnerURL, s)
			if err != nil {
				t.Fatal(err)
			}
			if v == 0 {
				break
			}
			if err := schema.Down(ctx, db.OwnerURL, s); err != nil {
				t.Fatalf("down %s from %d: %v", s.Name, v, err)
			}
		}
	}
	var leftover []string
	rows, err := db.Owner.Query(ctx, `
SELECT 'relation ' || c.relname FROM pg_class c
 WHERE c.relnamespace = 'public'::regnamespace AND c.relname NOT LIKE 'goose\_%'
UNION ALL
SELECT 'function ' || p.proname FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
UNION ALL
SELECT 'schema ' || n.nspname FROM pg_namespace n WHERE n.nspname LIKE 'river%'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		leftover = append(leftover, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(leftover) > 0 {
		t.Errorf("after down to 0 these remain: %q", leftover)
	}

	for _, s := range []*schema.Set{schema.User(), schema.Task()} {
		if err := schema.Up(ctx, db.OwnerURL, s); err != nil {
			t.Fatal(err)
		}
	}
	if after := dumpSchema(t, db.OwnerURL); after != before {
		t.Errorf("schema after up → down to 0 → up differs from the first up: %s", firstDiff(before, after))
	}
}

func TestSchema_SetsKeepSeparateVersionTables(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	if schema.User().VersionTable == schema.Task().VersionTable {
		t.Fatalf("user and task sets share the version table %s", schema.User().VersionTable)
	}
	for _, s := range []*schema.Set{schema.User(), schema.Task()} {
		var n int
		if err := db.Owner.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{s.VersionTable}.Sanitize()+" WHERE version_id > 0").Scan(&n); err != nil {
			t.Fatalf("version table of %s: %v", s.Name, err)
		}
		if n == 0 {
			t.Errorf("version table %s records no migration", s.VersionTable)
		}
		var out bytes.Buffer
		if err := schema.Status(ctx, db.OwnerURL, s, &out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "00001_"+s.Name+".sql") || !strings.Contains(out.String(), "applied") {
			t.Errorf("status of %s does not list 00001_%s.sql as applied:\n%s", s.Name, s.Name, out.String())
		}
	}
	// Rolling back the task set leaves the user set applied.
	if err := schema.DownTo(ctx, db.OwnerURL, schema.Task(), 0); err != nil {
		t.Fatal(err)
	}
	if v, err := schema.Version(ctx, db.OwnerURL, schema.User()); err != nil || v == 0 {
		t.Errorf("user set version after rolling back task = %d, %v; want > 0", v, err)
	}
}
