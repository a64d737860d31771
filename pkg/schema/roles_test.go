package schema_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/pkg/schema"
)

// privileges lists every privilege granted to role in the database, one
// "kind object privilege" string each, sorted.
func privileges(t *testing.T, pool *pgxpool.Pool, role string) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
SELECT kind || ' ' || name || ' ' || a.privilege_type FROM (
  SELECT 'relation' AS kind, c.oid::regclass::text AS name, c.relacl AS acl FROM pg_class c
  UNION ALL
  SELECT 'column', c.oid::regclass::text || '.' || at.attname, at.attacl
    FROM pg_attribute at JOIN pg_class c ON c.oid = at.attrelid WHERE at.attacl IS NOT NULL
  UNION ALL
  SELECT 'function', p.oid::regprocedure::text, p.proacl FROM pg_proc p
  UNION ALL
  SELECT 'schema', n.nspname, n.nspacl FROM pg_namespace n
) o, aclexplode(o.acl) a
WHERE a.grantee = $1::regrole
ORDER BY 1`, role)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// onObjects returns the privileges of privs whose object is one of names
// (a relation, column of it, function or schema).
func onObjects(privs []string, names ...string) []string {
	var out []string
	for _, p := range privs {
		obj := strings.Fields(p)[1]
		obj, _, _ = strings.Cut(obj, "(")
		if i := strings.LastIndex(obj, "."); i > 0 && strings.HasPrefix(p, "column ") {
			obj = obj[:i]
		}
		if slices.Contains(names, obj) || slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(obj, n+".") }) {
			out = append(out, p)
		}
	}
	return out
}

// userSetObjects are the user set's relations, its functions the task
// service does not call, and its River schema.
var userSetObjects = []string{`"user"`, "user_id_seq", "user_session", "login_throttle", "user_audit_event", "user_audit_event_id_seq", "user_email_token", "personal_access_token", "river_user"}

// afterSplitObjects are the objects of migrations after the role split
// (user 00006, task 00007), granted to the service groups only.
var afterSplitObjects = []string{"user_token_revocation", "user_email_token", "personal_access_token", "personal_access_token_check"}

// taskSetObjects are the task set's relations, its sweep function and its
// River schema.
var taskSetObjects = []string{"task", "task_request", "task_audit_event", "task_audit_event_id_seq", "task_request_sweep", "river_task"}

func TestRoles_EachServiceGroupHasOnlyItsOwnGrants(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	if got := privileges(t, db.Owner, schema.AppRole); len(got) != 0 {
		t.Errorf("the shared group %s still has privileges: %q", schema.AppRole, got)
	}
	user, task := privileges(t, db.Owner, schema.UserRole), privileges(t, db.Owner, schema.TaskRole)
	if got := onObjects(user, taskSetObjects...); len(got) != 0 {
		t.Errorf("%s has privileges on the task set's objects: %q", schema.UserRole, got)
	}
	if got := onObjects(task, userSetObjects...); len(got) != 0 {
		t.Errorf("%s has privileges on the user set's objects: %q", schema.TaskRole, got)
	}
	for _, w := range []string{`relation "user" SELECT`, "relation user_session DELETE", "relation user_audit_event INSERT", "schema river_user USAGE",
		"function audit_maintain(regclass,integer,integer) EXECUTE"} {
		if !slices.Contains(user, w) {
			t.Errorf("%s lacks %q; it has %q", schema.UserRole, w, user)
		}
	}
	// The objects of the user set the task service may use, on purpose: the
	// per-user token generations (user 00007) and the check of one personal
	// access token it holds (user 00010), nothing else.
	if got, want := onObjects(task, "personal_access_token_check"), []string{"function personal_access_token_check(bytea) EXECUTE"}; !slices.Equal(got, want) {
		t.Errorf("%s on personal_access_token_check: %q, want %q", schema.TaskRole, got, want)
	}
	if got, want := onObjects(task, "user_token_revocation"), []string{"relation user_token_revocation SELECT"}; !slices.Equal(got, want) {
		t.Errorf("%s on user_token_revocation: %q, want %q", schema.TaskRole, got, want)
	}
	for _, w := range []string{"relation task SELECT", "column task.title UPDATE", "relation task_audit_event INSERT", "schema river_task USAGE",
		"function task_request_sweep(interval) EXECUTE", "function audit_maintain(regclass,integer,integer) EXECUTE"} {
		if !slices.Contains(task, w) {
			t.Errorf("%s lacks %q; it has %q", schema.TaskRole, w, task)
		}
	}
}

// deniedAs runs each statement as the runtime pool app and reports any that
// is not refused with insufficient_privilege (42501).
func deniedAs(t *testing.T, app *pgdb.DB, who string, settings []pgdb.Setting, stmts []string) {
	t.Helper()
	for _, q := range stmts {
		err := app.InTx(context.Background(), pgdb.RetrySafe, settings, func(tx pgx.Tx) error {
			_, err := tx.Exec(context.Background(), q)
			return err
		})
		if sqlState(err) != "42501" {
			t.Errorf("as the %s service's role: %s: got %v, want permission denied (42501)", who, q, err)
		}
	}
}

func TestRoles_TaskServiceCannotReadUserSecrets(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	a := db.SeedUser(t, pgtest.User{Name: "alice", Active: true})
	deniedAs(t, db.TaskApp, "task", asUser(a), []string{
		`SELECT password_hash FROM "user"`,
		`SELECT email FROM "user"`,
		`SELECT id FROM "user"`,
		`UPDATE "user" SET is_admin = true`,
		`SELECT * FROM user_session`,
		`SELECT * FROM login_throttle`,
		`SELECT * FROM user_audit_event`,
		`SELECT * FROM river_user.river_job`,
		`INSERT INTO user_token_revocation (user_id, generation) VALUES (1, 1)`,
		`UPDATE user_token_revocation SET generation = 0`,
		`DELETE FROM user_token_revocation`,
		`SELECT * FROM personal_access_token`,
	})
	// What it does own is still its own: it may create a task for a user
	// the foreign key finds without reading "user" itself.
	err := db.TaskApp.InTx(context.Background(), pgdb.RetrySafe, asUser(a), func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), `INSERT INTO task (title, created_by) VALUES ('mine', $1)`, a)
		return err
	})
	if err != nil {
		t.Errorf("task service's role creating a task: %v", err)
	}
}

func TestRoles_UserServiceCannotTouchTasks(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	a := db.SeedUser(t, pgtest.User{Name: "alice", Active: true})
	if _, err := db.Owner.Exec(context.Background(), `INSERT INTO task (title, created_by) VALUES ('t', $1)`, a); err != nil {
		t.Fatal(err)
	}
	deniedAs(t, db.UserApp, "user", asUser(a), []string{
		`UPDATE task SET title = 'forged'`,
		fmt.Sprintf(`INSERT INTO task (title, created_by) VALUES ('forged', %d)`, a),
		`DELETE FROM task`,
		`SELECT id FROM task`,
		`SELECT * FROM task_request`,
		`SELECT * FROM task_audit_event`,
		`SELECT task_request_sweep(interval '1 day')`,
		`SELECT * FROM river_task.river_job`,
	})
}

// TestRoles_MigrationsMoveGrantsBothWays rolls each set back over the
// migration that split the role (task 00007 first, then user 00006) and checks the shared group todo_app has its grants
// back and the service groups none, then migrates up again and checks the
// grants are as before.
func TestRoles_MigrationsMoveGrantsBothWays(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	roles := []string{schema.AppRole, schema.UserRole, schema.TaskRole}
	latest := map[string][]string{}
	for _, r := range roles {
		latest[r] = privileges(t, db.Owner, r)
	}
	// The task migrations after the split (00008 on) grant todo_task_svc
	// more, which todo_app never had: compare with the grants the split
	// made.
	if err := schema.DownTo(ctx, db.OwnerURL, schema.Task(), 7); err != nil {
		t.Fatal(err)
	}
	before := map[string][]string{}
	for _, r := range roles {
		before[r] = privileges(t, db.Owner, r)
	}
	// The migrations that split the role: task 00007, user 00006.
	for _, d := range []struct {
		set *schema.Set
		to  int64
	}{{schema.Task(), 6}, {schema.User(), 5}} {
		if err := schema.DownTo(ctx, db.OwnerURL, d.set, d.to); err != nil {
			t.Fatal(err)
		}
	}
	shared := privileges(t, db.Owner, schema.AppRole)
	for _, r := range []string{schema.UserRole, schema.TaskRole} {
		if got := privileges(t, db.Owner, r); len(got) != 0 {
			t.Errorf("after the split was undone, %s still has %q", r, got)
		}
	}
	// Together the two groups had what todo_app has again, except on the
	// objects made after the split (which the way down dropped).
	union := slices.DeleteFunc(slices.Concat(before[schema.UserRole], before[schema.TaskRole]), func(p string) bool {
		return len(onObjects([]string{p}, afterSplitObjects...)) > 0
	})
	slices.Sort(union)
	union = slices.Compact(union)
	if !slices.Equal(shared, union) {
		t.Errorf("after the split was undone, %s has\n%q\nwant what the two groups had:\n%q", schema.AppRole, shared, union)
	}
	for _, s := range []*schema.Set{schema.User(), schema.Task()} {
		if err := schema.Up(ctx, db.OwnerURL, s); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range roles {
		if got := privileges(t, db.Owner, r); !slices.Equal(got, latest[r]) {
			t.Errorf("after down to 5 and up, %s has\n%q\nwant\n%q", r, got, latest[r])
		}
	}
}
