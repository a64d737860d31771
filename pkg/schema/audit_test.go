package schema_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/pkg/schema"
)

var auditTables = []string{"user_audit_event", "task_audit_event"}

// appFor returns the pool of the login role of the service that writes
// table: the user service's for user_audit_event, the task service's else.
func appFor(db *pgtest.DB, table string) *pgdb.DB {
	if table == "user_audit_event" {
		return db.UserApp
	}
	return db.TaskApp
}

// partitionName is the name audit_partition_create gives the partition of
// table for the UTC month of at.
func partitionName(table string, at time.Time) string {
	at = at.UTC()
	return fmt.Sprintf("%s_y%04dm%02d", table, at.Year(), int(at.Month()))
}

// monthStart returns the first instant of the UTC month of t moved by months.
func monthStart(t time.Time, months int) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month()+time.Month(months), 1, 0, 0, 0, 0, time.UTC)
}

// partitions returns the partition names of table, sorted.
func partitions(t *testing.T, pool *pgxpool.Pool, table string) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(),
		`SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY 1`, table)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestAudit_MigrateMakesThisAndNextMonthsPartitions(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	now := time.Now()
	for _, table := range auditTables {
		got := partitions(t, db.Owner, table)
		for _, m := range []int{0, 1} {
			if want := partitionName(table, monthStart(now, m)); !slices.Contains(got, want) {
				t.Errorf("%s has partitions %q, lacks %s", table, got, want)
			}
		}
	}
}

func TestAudit_MonthBoundaryMicroseconds(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	next := monthStart(time.Now(), 1)
	last := next.Add(-time.Microsecond)
	for _, table := range auditTables {
		for _, tt := range []struct {
			at   time.Time
			want string
		}{
			{last, partitionName(table, last)},
			{next, partitionName(table, next)},
		} {
			var got string
			err := db.Owner.QueryRow(ctx, fmt.Sprintf(
				`INSERT INTO %s (created_at, actor_kind, action, target_kind) VALUES ($1, 'system', 'test.boundary', 'test')
				 RETURNING tableoid::regclass::text`, table), tt.at).Scan(&got)
			if err != nil {
				t.Fatalf("insert into %s at %s: %v", table, tt.at.Format(time.RFC3339Nano), err)
			}
			if got != tt.want {
				t.Errorf("row of %s at %s went to %s, want %s", table, tt.at.Format(time.RFC3339Nano), got, tt.want)
			}
		}
	}
}

func TestAudit_RetentionDropsOldPartitionsOnly(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	now := time.Now()
	for _, table := range auditTables {
		old14, old12 := monthStart(now, -14), monthStart(now, -12)
		for _, at := range []time.Time{old14, old12} {
			// The building block is the owner's; the runtime role cannot call it.
			if _, err := db.Owner.Exec(ctx, `SELECT audit_partition_create($1::regclass, $2)`, table, at); err != nil {
				t.Fatal(err)
			}
		}
		// The periodic job's call, as the runtime role, with the default retention.
		var dropped []string
		err := appFor(db, table).Send(ctx, pgdb.RetrySafe, nil, func(b *pgx.Batch) {
			b.Queue(`SELECT array(SELECT audit_maintain($1::regclass, 3, 13))`, table)
		}, func(br pgx.BatchResults) error { return br.QueryRow().Scan(&dropped) })
		if err != nil {
			t.Fatalf("audit_maintain(%s) as the runtime role: %v", table, err)
		}
		if want := []string{partitionName(table, old14)}; !slices.Equal(dropped, want) {
			t.Errorf("audit_maintain(%s) dropped %q, want %q", table, dropped, want)
		}
		got := partitions(t, db.Owner, table)
		if slices.Contains(got, partitionName(table, old14)) {
			t.Errorf("%s still has the 14-month-old partition: %q", table, got)
		}
		for _, m := range []int{-12, 0, 1, 2, 3} {
			if want := partitionName(table, monthStart(now, m)); !slices.Contains(got, want) {
				t.Errorf("%s lacks %s after maintenance: %q", table, want, got)
			}
		}
	}
}

func TestAudit_MaintainRefusesShortRetentionAndOtherTables(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	for _, q := range []string{
		`SELECT audit_maintain('user_audit_event', 3, 1)`,
		`SELECT audit_maintain('task', 3, 13)`,
		`SELECT audit_partitions_drop('user_audit_event', 0, now())`,
		`SELECT audit_partition_create('user_audit_event', now())`,
	} {
		err := db.UserApp.Send(ctx, pgdb.RetrySafe, nil, func(b *pgx.Batch) { b.Queue(q) }, func(br pgx.BatchResults) error {
			_, err := br.Exec()
			return err
		})
		if err == nil {
			t.Errorf("%s as the runtime role succeeded, want an error", q)
		}
	}
}

func TestAudit_RuntimeRoleMayInsertButNeverChangeRows(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	run := func(table, q string) error {
		return appFor(db, table).Send(ctx, pgdb.RetryIfNotSent, nil, func(b *pgx.Batch) { b.Queue(q) }, func(br pgx.BatchResults) error {
			_, err := br.Exec()
			return err
		})
	}
	for _, table := range auditTables {
		if err := run(table, `INSERT INTO `+table+` (actor_kind, action, target_kind) VALUES ('system', 'test.insert', 'test')`); err != nil {
			t.Fatalf("INSERT into %s as the runtime role: %v", table, err)
		}
		for _, q := range []string{
			`UPDATE ` + table + ` SET action = 'forged'`,
			`DELETE FROM ` + table,
			`TRUNCATE ` + table,
			// Not through a partition either.
			`UPDATE ` + partitionName(table, time.Now()) + ` SET action = 'forged'`,
			`DELETE FROM ` + partitionName(table, time.Now()),
			`TRUNCATE ` + partitionName(table, time.Now()),
		} {
			err := run(table, q)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != pgerrcode.InsufficientPrivilege {
				t.Errorf("%s as the runtime role: %v, want insufficient_privilege", q, err)
			}
		}
		var n int
		if err := db.Owner.QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE action = 'test.insert'`).Scan(&n); err != nil || n != 1 {
			t.Errorf("%s has %d test rows (%v), want 1", table, n, err)
		}
	}
}

// auditRow is a task_audit_event row as the trigger writes it.
type auditRow struct {
	ActorKind string
	ActorID   *int64
	Action    string
	TargetID  int64
	RequestID *string
	Change    map[string]map[string]any
}

func taskAuditRows(t *testing.T, pool *pgxpool.Pool, taskID int64) []auditRow {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
SELECT actor_kind, actor_id, action, target_id, request_id, change FROM task_audit_event
 WHERE target_kind = 'task' AND target_id = $1 ORDER BY created_at, id`, taskID)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (auditRow, error) {
		var a auditRow
		var raw []byte
		err := r.Scan(&a.ActorKind, &a.ActorID, &a.Action, &a.TargetID, &a.RequestID, &raw)
		if err == nil {
			err = json.Unmarshal(raw, &a.Change)
		}
		return a, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAudit_TaskTriggerRecordsEachChange(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	a, b := insertUser(t, db.Owner, "a"), insertUser(t, db.Owner, "b")
	settings := append(asUser(a), pgdb.Setting{Name: schema.SettingRequestID, Value: "req-1"})
	exec := func(q string, args ...any) int64 {
		t.Helper()
		var id int64
		err := db.TaskApp.Send(ctx, pgdb.RetryIfNotSent, settings, func(bt *pgx.Batch) { bt.Queue(q, args...) }, func(br pgx.BatchResults) error {
			return br.QueryRow().Scan(&id)
		})
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return id
	}
	id := exec(`INSERT INTO task (title, created_by) VALUES ('first', $1) RETURNING id`, a)
	exec(`UPDATE task SET title = 'second' WHERE id = $1 RETURNING id`, id)
	exec(`UPDATE task SET assigned_to = $2 WHERE id = $1 RETURNING id`, id, b)
	exec(`UPDATE task SET status = 'completed', completed_at = now() WHERE id = $1 RETURNING id`, id)
	exec(`DELETE FROM task WHERE id = $1 RETURNING id`, id)

	got := taskAuditRows(t, db.Owner, id)
	wantActions := []string{"task.create", "task.update", "task.assign", "task.status_change", "task.delete"}
	var actions []string
	for _, r := range got {
		actions = append(actions, r.Action)
		if r.ActorKind != "user" || r.ActorID == nil || *r.ActorID != a || r.RequestID == nil || *r.RequestID != "req-1" {
			t.Errorf("%s: actor %s/%v, request id %v; want user %d, req-1", r.Action, r.ActorKind, r.ActorID, r.RequestID, a)
		}
	}
	if !slices.Equal(actions, wantActions) {
		t.Fatalf("actions %q, want %q", actions, wantActions)
	}
	if c := got[0].Change["title"]; c["new"] != "first" || c["old"] != nil {
		t.Errorf("create change of title = %v", c)
	}
	if c := got[1].Change; len(c) != 1 || c["title"]["old"] != "first" || c["title"]["new"] != "second" {
		t.Errorf("update change = %v, want title first → second only", c)
	}
	if c := got[2].Change["assigned_to"]; c["old"] != nil || c["new"] != float64(b) {
		t.Errorf("assign change = %v, want nil → %d", c, b)
	}
	if c := got[3].Change["status"]; c["old"] != "pending" || c["new"] != "completed" {
		t.Errorf("status change = %v", got[3].Change)
	}
	if c := got[4].Change["title"]; c["old"] != "second" || c["new"] != nil {
		t.Errorf("delete change of title = %v", c)
	}

	// SQL run outside the services is recorded too, as the operator's.
	if _, err := db.Owner.Exec(ctx, `INSERT INTO task (title, created_by) VALUES ('by hand', $1)`, a); err != nil {
		t.Fatal(err)
	}
	var kind, dbUser string
	if err := db.Owner.QueryRow(ctx, `SELECT actor_kind, db_user FROM task_audit_event WHERE change->'title'->>'new' = 'by hand'`).Scan(&kind, &dbUser); err != nil {
		t.Fatal(err)
	}
	if kind != "operator" || dbUser == "" {
		t.Errorf("change by hand recorded as %s by %q, want operator and the database role", kind, dbUser)
	}
}

func TestAudit_RolledBackChangeLeavesNoRow(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	a := insertUser(t, db.Owner, "a")
	sentinel := errors.New("give up")
	err := db.TaskApp.InTx(ctx, pgdb.RetryIfNotSent, asUser(a), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO task (title, created_by) VALUES ('never', $1)`, a); err != nil {
			return err
		}
		return sentinel
	})
	if !errors.Is(err, sentinel) {
		t.Fatalf("InTx = %v, want the sentinel", err)
	}
	var n int
	if err := db.Owner.QueryRow(ctx, `SELECT count(*) FROM task_audit_event`).Scan(&n); err != nil || n != 0 {
		t.Errorf("after a rolled-back create, %d audit rows (%v), want 0", n, err)
	}
}

func TestAudit_FailedAuditInsertFailsTheChange(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	a := insertUser(t, db.Owner, "a")
	if _, err := db.Owner.Exec(ctx, `DROP TABLE `+partitionName("task_audit_event", time.Now())); err != nil {
		t.Fatal(err)
	}
	err := db.TaskApp.Send(ctx, pgdb.RetryIfNotSent, asUser(a), func(b *pgx.Batch) {
		b.Queue(`INSERT INTO task (title, created_by) VALUES ('unaudited', $1)`, a)
	}, func(br pgx.BatchResults) error {
		_, err := br.Exec()
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "no partition") {
		t.Fatalf("create without an audit partition: %v, want the partition error", err)
	}
	var n int
	if err := db.Owner.QueryRow(ctx, `SELECT count(*) FROM task WHERE title = 'unaudited'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("the unaudited task was kept (%d rows, %v)", n, err)
	}
}
