package jobs_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/todo-platform/todo/pkg/jobs"
	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/pkg/testkit"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// waitFor polls cond until it holds or the test's deadline nears.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func start(t *testing.T, db *pgtest.DB, id string, reg prometheus.Registerer, js ...jobs.Job) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r, err := jobs.Start(testkit.Context(t), log, db.TaskApp.Pool, jobs.Config{
		Schema: "river_task", Jobs: js, Registerer: reg, PollInterval: 200 * time.Millisecond, ID: id,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
}

func TestJobs_TwoReplicasRunAPeriodicJobOncePerPeriod(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := testkit.Context(t)
	var runs [2]atomic.Int64
	for i := range 2 {
		// Each replica's job writes its side effect to the database.
		start(t, db, []string{"replica-a", "replica-b"}[i], nil, jobs.Job{Name: "tick", Every: time.Hour, Run: func(ctx context.Context) error {
			runs[i].Add(1)
			_, err := db.Owner.Exec(ctx, `INSERT INTO task_audit_event (actor_kind, action, target_kind) VALUES ('system', 'test.tick', 'test')`)
			return err
		}})
	}
	count := func() int {
		var n int
		if err := db.Owner.QueryRow(ctx, `SELECT count(*) FROM task_audit_event WHERE action = 'test.tick'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	waitFor(t, "the first run", func() bool { return count() >= 1 })
	// Both clients have polled many times over (every 200 ms) and seen the
	// leader's job; none runs it again within its hour.
	waitFor(t, "a leader and one enqueued run", func() bool {
		var leaders, enqueued int
		err := db.Owner.QueryRow(ctx, `SELECT (SELECT count(*) FROM river_task.river_leader), (SELECT count(*) FROM river_task.river_job WHERE kind = 'periodic')`).Scan(&leaders, &enqueued)
		return err == nil && leaders == 1 && enqueued == 1
	})
	time.Sleep(2 * time.Second)
	if got := count(); got != 1 {
		t.Errorf("the job ran %d times across two replicas within its period, want 1 (replica runs: %d, %d)", got, runs[0].Load(), runs[1].Load())
	}
}

func TestJobs_FailedJobIsRetriedAndCounted(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	reg := prometheus.NewRegistry()
	var attempts atomic.Int64
	start(t, db, "only", reg, jobs.Job{Name: "flaky", Every: time.Hour, Run: func(context.Context) error {
		if attempts.Add(1) == 1 {
			return errors.New("first attempt fails")
		}
		return nil
	}})
	waitFor(t, "the retry", func() bool { return attempts.Load() >= 2 })
	waitFor(t, "the counters", func() bool {
		n, err := testutil.GatherAndCount(reg, "todo_job_runs_total")
		return err == nil && n == 2
	})
	want := `
# HELP todo_job_runs_total Runs of periodic jobs by job name and outcome (completed, failed).
# TYPE todo_job_runs_total counter
todo_job_runs_total{job="flaky",outcome="completed"} 1
todo_job_runs_total{job="flaky",outcome="failed"} 1
`
	if err := testutil.GatherAndCompare(reg, stringsReader(want), "todo_job_runs_total"); err != nil {
		t.Error(err)
	}
}

func stringsReader(s string) io.Reader { return strings.NewReader(s) }
