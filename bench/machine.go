package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/todo-platform/todo/bench/internal/report"
)

// machine describes this machine: the CPU model and core count from
// /proc/cpuinfo, the kernel, the Go toolchain that built this binary (make
// bench builds the services with the same one), and the versions of the
// PostgreSQL server at adminURL and of pgbench.
func machine(ctx context.Context, adminURL, pgbenchBin string) (report.Machine, error) {
	m := report.Machine{CPU: "unknown CPU", GoVersion: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			switch k = strings.TrimSpace(k); {
			case !ok:
			case k == "processor":
				m.Cores++
			case k == "model name" && m.CPU == "unknown CPU":
				m.CPU = strings.TrimSpace(v)
			}
		}
		f.Close()
	}
	if m.Cores == 0 {
		m.Cores = runtime.NumCPU()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return m, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&m.PostgresVersion); err != nil {
		return m, fmt.Errorf("PostgreSQL version: %w", err)
	}
	out, err := exec.CommandContext(ctx, pgbenchBin, "--version").Output()
	if err != nil {
		return m, fmt.Errorf("pgbench --version: %w", err)
	}
	m.PgbenchVersion = strings.TrimPrefix(strings.TrimSpace(string(out)), "pgbench (PostgreSQL) ")
	return m, nil
}
