package pgbench

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/todo-platform/todo/bench/internal/dataset"
	"github.com/todo-platform/todo/pkg/pgcluster"
)

// The creator formula in scripts/creator.inc must agree with
// dataset.Layout.Creator on every task, or the pgbench rows act as users
// who cannot see their task.
func TestCheckCreator_AgreesWithLayout(t *testing.T) {
	ctx := context.Background()
	bin, err := pgcluster.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	c, err := pgcluster.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE TABLE task (id bigint PRIMARY KEY, created_by bigint NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	l, err := dataset.NewLayout(10_000, 20_000, 5, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]any
	for id := int64(1); id <= l.Tasks; id++ {
		rows = append(rows, []any{id, l.Creator(id)})
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"task"}, []string{"id", "created_by"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	o := Options{Bin: filepath.Join(bin, "pgbench"), URL: c.URL(), Vars: l.PgbenchVars(), Dir: t.TempDir()}
	if err := Check(ctx, o, CheckCreator, 20_000); err != nil {
		t.Fatalf("Check: %v", err)
	}

	// And the check does fail when a creator is wrong.
	if _, err := conn.Exec(ctx, "UPDATE task SET created_by = created_by + 1"); err != nil {
		t.Fatal(err)
	}
	if err := Check(ctx, o, CheckCreator, 50); err == nil || !strings.Contains(err.Error(), "division by zero") {
		t.Fatalf("Check on wrong creators = %v, want a division by zero", err)
	}
}

func TestRun_ReportsThroughputAndLatencies(t *testing.T) {
	ctx := context.Background()
	bin, err := pgcluster.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	c, err := pgcluster.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })
	dir := t.TempDir()
	o := Options{Bin: filepath.Join(bin, "pgbench"), URL: c.URL(), Clients: 2, Threads: 1, Duration: time.Second, Dir: dir}
	// Each transaction sleeps 1 ms, so every logged latency is at least
	// that: the parser must read them, whatever the machine's speed.
	res, err := runFile(ctx, o, "sleep", "SELECT pg_sleep(0.001);\n")
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Throughput() <= 0 || res.P50 < time.Millisecond || res.P99 < res.P50 {
		t.Errorf("Run = %+v; want transactions, throughput and P99 ≥ P50 ≥ 1ms", res)
	}
}
