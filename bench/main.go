// Command bench measures the todo platform end to end: it starts its own
// PostgreSQL, seeds a small and a large dataset with COPY, starts the user
// service, the task service and the gateway from release binaries, drives
// every benchmark case over gRPC and over REST at a fixed concurrency, runs
// pgbench with the same SQL for the physical limit, and writes the results
// table (docs/benchmarks.md) and prints it. `make bench` builds the
// binaries and runs it from the repository root; see config for the knobs.
//
// It exits with status 1 when any row failed (the table still says which).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/caarlos0/env/v11"
)

// config is the benchmark's configuration, from the environment.
type config struct {
	// Users is the number of seeded users (both datasets).
	Users int64 `env:"BENCH_USERS" envDefault:"10000"`
	// Tasks is the number of tasks of the large dataset.
	Tasks int64 `env:"BENCH_TASKS" envDefault:"1000000"`
	// SmallTasks is the number of tasks of the small dataset.
	SmallTasks int64 `env:"BENCH_SMALL_TASKS" envDefault:"10000"`
	// Duration is how long each case is measured.
	Duration time.Duration `env:"BENCH_DURATION" envDefault:"10s"`
	// Warmup is how long each case runs before it is measured.
	Warmup time.Duration `env:"BENCH_WARMUP" envDefault:"2s"`
	// Concurrency is the number of workers (and pgbench clients).
	Concurrency int `env:"BENCH_CONCURRENCY" envDefault:"16"`
	// PageSize is the page size of both ListTasks cases.
	PageSize int `env:"BENCH_PAGE_SIZE" envDefault:"5"`
	// LoginUsers is how many regular users the driver signs in and acts as.
	LoginUsers int `env:"BENCH_LOGIN_USERS" envDefault:"100"`
	// SharedBuffers is PostgreSQL's shared_buffers.
	SharedBuffers string `env:"BENCH_SHARED_BUFFERS" envDefault:"1GB"`
	// Bin is the directory holding user-service, task-service and gateway.
	Bin string `env:"BENCH_BIN" envDefault:"bin"`
	// Out is the markdown file to write; "-" writes none.
	Out string `env:"BENCH_OUT" envDefault:"docs/benchmarks.md"`
	// Cases, when set, runs only these cases (comma-separated names such as
	// "GetTask,Login"); for development and profiling.
	Cases []string `env:"BENCH_CASES" envSeparator:","`
	// Profile, when set, is a directory where a system-wide perf profile of
	// each case's measured window is written and summarised.
	Profile string `env:"BENCH_PROFILE"`
	// Keep keeps the work directory (service logs, key, scripts) at the end.
	Keep bool `env:"BENCH_KEEP"`
}

func (c config) validate() error {
	switch {
	case c.Users < 2:
		return errors.New("BENCH_USERS must be at least 2")
	case c.Tasks < 1 || c.SmallTasks < 1:
		return errors.New("BENCH_TASKS and BENCH_SMALL_TASKS must be positive")
	case c.Duration <= 0 || c.Warmup < 0:
		return errors.New("BENCH_DURATION must be positive and BENCH_WARMUP not negative")
	case c.Concurrency < 1:
		return errors.New("BENCH_CONCURRENCY must be positive")
	case c.PageSize < 1 || c.PageSize > 1000:
		return errors.New("BENCH_PAGE_SIZE must be 1 to 1000")
	case c.LoginUsers < 1:
		return errors.New("BENCH_LOGIN_USERS must be positive")
	}
	return nil
}

// sizes returns the task counts of the datasets, smallest first.
func (c config) sizes() []int64 {
	if c.SmallTasks >= c.Tasks {
		return []int64{c.Tasks}
	}
	return []int64{c.SmallTasks, c.Tasks}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	cfg, err := env.ParseAs[config]()
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	b, err := newBench(ctx, cfg)
	if err != nil {
		return err
	}
	defer b.close()
	return b.run(ctx)
}
