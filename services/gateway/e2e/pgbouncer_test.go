package e2e

import (
	"strings"
	"testing"

	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/pkg/proctest"
)

// TestQuickstart_ThroughPgBouncer runs the quickstart journey with both
// services connected through a real PgBouncer in transaction mode, the way
// they run on Neon's pooled endpoint, with the query exec mode the README
// gives for a pooler without protocol-level prepared statements
// (default_query_exec_mode=exec; Debian's PgBouncer is 1.18). Migrations take
// the direct URL from MIGRATE_DATABASE_URL and the revocation LISTEN the
// direct DATABASE_LISTEN_URL while DATABASE_URL is the pooled one, as a
// deployment on Neon sets them.
func TestQuickstart_ThroughPgBouncer(t *testing.T) {
	db := pgtest.New(t)
	pooled := pgtest.ViaPgBouncer(t, db)

	const module = "github.com/todo-platform/todo/services/"
	for _, svc := range []string{"user", "task"} {
		cmd := proctest.Command(t, proctest.Build(t, module+svc),
			[]string{"DATABASE_URL=" + pooled.TaskAppURL, "MIGRATE_DATABASE_URL=" + db.OwnerURL}, "migrate", "up")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s-service migrate up with MIGRATE_DATABASE_URL: %v\n%s", svc, err, out)
		}
		if !strings.Contains(string(out), "migrations applied") {
			t.Errorf("%s-service migrate up said:\n%s", svc, out)
		}
	}

	quickstart(t, startStackWith(t, db, stackConfig{
		userDatabaseURL: pooled.UserAppURL,
		taskDatabaseURL: pooled.TaskAppURL,
		userListenURL:   db.UserAppURL,
		taskListenURL:   db.TaskAppURL,
	}))
}
