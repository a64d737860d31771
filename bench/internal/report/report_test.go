package report

import (
	"strings"
	"testing"
	"time"

	"github.com/todo-platform/todo/bench/internal/load"
)

func TestFormats(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Count(10_000), "10k"}, {Count(1_000_000), "1M"}, {Count(10_000_000), "10M"},
		{Count(20_000), "20k"}, {Count(1_500_000), "1.5M"}, {Count(999), "999"}, {Count(12_345), "12345"},
		{Rate(1234567.4), "1,234,567"}, {Rate(999.6), "1,000"}, {Rate(12), "12"},
		{Millis(412 * time.Microsecond), "0.412"}, {Millis(4123 * time.Microsecond), "4.12"},
		{Millis(41234 * time.Microsecond), "41.2"}, {Millis(412345 * time.Microsecond), "412"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func result(reqs, errs int64, p50, p99 time.Duration) Measured {
	return Measured{Result: load.Result{Requests: reqs, Errors: errs, Duration: time.Second, P50: p50, P99: p99}}
}

func TestTable_RatiosAndFailedRows(t *testing.T) {
	ms := time.Millisecond
	r := Report{
		Cases:     []string{"Get", "List 1", "List 1000", "Login"},
		SQL:       map[string]bool{"Get": true},
		ListFirst: "List 1", ListDeep: "List 1000",
		Sizes: []Size{
			{Tasks: 10_000, Rows: map[Key]Measured{
				{"Get", GRPC}: result(1000, 0, ms, 2*ms), {"Get", REST}: result(500, 0, ms, 4*ms), {"Get", PgBench}: result(4000, 0, ms, ms),
				{"List 1", GRPC}: result(800, 0, ms, ms), {"List 1", REST}: result(400, 0, ms, ms),
				{"List 1000", GRPC}: result(800, 0, ms, ms), {"List 1000", REST}: result(400, 0, ms, ms),
				{"Login", GRPC}: result(50, 0, ms, ms), {"Login", REST}: result(50, 0, ms, ms),
			}},
			{Tasks: 1_000_000, Rows: map[Key]Measured{
				{"Get", GRPC}: result(900, 0, ms, 3*ms), {"Get", REST}: result(450, 0, ms, 4*ms), {"Get", PgBench}: result(3000, 0, ms, ms),
				{"List 1", GRPC}: result(800, 0, ms, ms), {"List 1", REST}: result(400, 0, ms, ms),
				{"List 1000", GRPC}: result(600, 0, ms, ms), {"List 1000", REST}: result(400, 0, ms, ms),
				{"Login", GRPC}: result(50, 3, ms, ms), {"Login", REST}: {Err: "pgbench: exit status 2"},
			}},
		},
	}
	table := r.Table()
	for _, want := range []string{
		"| Get | gRPC | 1,000 | 1.00 | 2.00 | 0 | 900 | 1.00 | 3.00 | 0 | 1.50 |  | 0.30 |  |",
		"| Get | REST | 500 | 1.00 | 4.00 | 0 | 450 | 1.00 | 4.00 | 0 | 1.00 | 0.50 | 0.15 |  |",
		"| Get | pgbench SQL | 4,000 | 1.00 | 1.00 | 0 | 3,000 | 1.00 | 1.00 | 0 | 1.00 |  |  |  |",
		"| List 1000 | gRPC | 800 | 1.00 | 1.00 | 0 | 600 | 1.00 | 1.00 | 0 | 1.00 |  |  | 0.75 |",
		"| Login | gRPC | 50 | 1.00 | 1.00 | 0 | 50 | 1.00 | 1.00 | **FAILED** (3) |  |  |  |  |",
		"| Login | REST | 50 | 1.00 | 1.00 | 0 | — | — | — | **FAILED** |  |  |  |  |",
	} {
		if !strings.Contains(table, want+"\n") {
			t.Errorf("table lacks row\n%s\ntable:\n%s", want, table)
		}
	}
	if f := r.Failures(); len(f) != 2 {
		t.Errorf("Failures() = %q, want the two Login rows", f)
	}
}

func TestBatchTable_ItemsPerSecondAgainstSingleCalls(t *testing.T) {
	ms := time.Millisecond
	r := Report{
		Cases: []string{"Create", "Create ×100"},
		Batch: Batch{Case: "Create ×100", Single: "Create", Size: 100},
		Sizes: []Size{{Tasks: 1_000_000, Rows: map[Key]Measured{
			{"Create", GRPC}: result(2000, 0, ms, ms), {"Create", REST}: result(1000, 0, ms, ms),
			{"Create ×100", GRPC}: result(50, 0, ms, ms), {"Create ×100", REST}: result(20, 1, ms, ms),
		}}},
	}
	table := r.BatchTable()
	for _, want := range []string{
		"| 1M | gRPC | 50 | 5,000 | 2,000 | 2.50 |",
		"| 1M | REST | — | — | 1,000 |  |",
	} {
		if !strings.Contains(table, want+"\n") {
			t.Errorf("table lacks row\n%s\ntable:\n%s", want, table)
		}
	}
	if got := (Report{Cases: []string{"Create"}}).BatchTable(); got != "" {
		t.Errorf("without a batch case: %q, want no table", got)
	}
}

func TestCPUTable_PerRequestAndRatios(t *testing.T) {
	ms := time.Millisecond
	withCPU := func(m Measured, cpu map[string]time.Duration) Measured { m.CPU = cpu; return m }
	r := Report{
		Cases:         []string{"Get", "Login"},
		SQL:           map[string]bool{"Get": true},
		Processes:     []string{"user-service", "task-service", "gateway"},
		Server:        map[string]string{"Login": "user-service"},
		DefaultServer: "task-service",
	}
	s := Size{Tasks: 10_000, Rows: map[Key]Measured{
		// 1,000 requests: 50 ms of task service is 50 µs each, 25 ms of
		// PostgreSQL 25 µs.
		{"Get", GRPC}: withCPU(result(1000, 0, ms, ms), map[string]time.Duration{
			"task-service": 50 * ms, Postgres: 25 * ms, Driver: 10 * ms, "gateway": 0, "user-service": 0}),
		{"Get", REST}: withCPU(result(500, 0, ms, ms), map[string]time.Duration{
			"task-service": 25 * ms, "gateway": 20 * ms, Postgres: 12500 * time.Microsecond, Driver: 5 * ms, "user-service": 0}),
		{"Get", PgBench}: withCPU(result(4000, 0, ms, ms), map[string]time.Duration{Postgres: 40 * ms}),
		{"Login", GRPC}: withCPU(result(10, 0, ms, ms), map[string]time.Duration{
			"user-service": 200 * ms, Postgres: 1 * ms, "task-service": 0, "gateway": 0, Driver: ms}),
		{"Login", REST}: {Err: "down"},
	}}
	table := r.CPUTable(s)
	for _, want := range []string{
		"| Get | gRPC | 0.00 | 50.0 | 0.00 | 25.0 | 10.0 | 2.00 |  |",
		"| Get | REST | 0.00 | 50.0 | 40.0 | 25.0 | 10.0 | 2.00 | 0.80 |",
		"| Get | pgbench SQL |  |  |  | 10.0 |  |  |  |",
		"| Login | gRPC | 20000 | 0.00 | 0.00 | 100 | 100 | 200.00 |  |",
		"| Login | REST |  |  |  |  |  |  |  |",
	} {
		if !strings.Contains(table, want+"\n") {
			t.Errorf("CPU table lacks row\n%s\ntable:\n%s", want, table)
		}
	}
}
