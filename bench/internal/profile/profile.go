// Package profile records a system-wide CPU profile with perf while a case
// is measured, and summarises where the time went: the share of each
// process (postgres, the services, the driver, pgbench) and each one's
// hottest functions. Go binaries need their symbol tables (build without
// -ldflags=-s) for function names.
package profile

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Recording is a perf recording in progress.
type Recording struct {
	path string
	done chan struct{}
	sum  string
	err  error
}

// Start waits delay, then records every CPU for d into path (a perf.data
// file), in the background.
func Start(ctx context.Context, delay, d time.Duration, path string) *Recording {
	r := &Recording{path: path, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			r.err = err
			return
		}
		select {
		case <-ctx.Done():
			r.err = ctx.Err()
			return
		case <-time.After(delay):
		}
		cmd := exec.CommandContext(ctx, "perf", "record", "-a", "-g", "-F", "499", "-o", path,
			"--", "sleep", strconv.FormatFloat(d.Seconds(), 'f', 3, 64))
		if out, err := cmd.CombinedOutput(); err != nil {
			r.err = fmt.Errorf("perf record: %w: %s", err, out)
			return
		}
		r.sum, r.err = summarize(ctx, path)
		if r.err == nil {
			r.err = os.WriteFile(path+".txt", []byte(r.sum), 0o644)
		}
	}()
	return r
}

// Path returns the perf.data file.
func (r *Recording) Path() string { return r.path }

// Wait waits for the recording and returns its summary.
func (r *Recording) Wait() (string, error) {
	<-r.done
	return r.sum, r.err
}

// summarize returns the CPU share per process and, for each process with at
// least 3% of the samples, its functions with at least 1.5% self time.
func summarize(ctx context.Context, path string) (string, error) {
	byComm, err := report(ctx, path, "--sort", "comm", "--percent-limit", "1")
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("CPU by process:\n")
	b.WriteString(byComm)
	for _, line := range strings.Split(byComm, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		pct, err := strconv.ParseFloat(strings.TrimSuffix(f[0], "%"), 64)
		if err != nil || pct < 3 {
			continue
		}
		comm := strings.Join(f[1:], " ")
		syms, err := report(ctx, path, "--comm", comm, "--sort", "dso,sym", "--percent-limit", "1.5")
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "\n%s (%.1f%% of all CPU), hottest functions (share of its samples):\n%s", comm, pct, head(syms, 12))
		if !goProcesses[comm] {
			continue
		}
		cum, err := report(ctx, path, "--children", "--comm", comm, "--sort", "sym", "--percent-limit", "2")
		if err != nil {
			return "", err
		}
		var keep []string
		for _, l := range strings.Split(cum, "\n") {
			if costRE.MatchString(l) {
				keep = append(keep, l)
			}
		}
		if len(keep) > 20 {
			keep = keep[:20]
		}
		fmt.Fprintf(&b, "%s, where the time goes (including callees):\n%s\n", comm, strings.Join(keep, "\n"))
	}
	return b.String(), nil
}

// goProcesses are the processes whose cumulative costs are listed.
var goProcesses = map[string]bool{"task-service": true, "user-service": true, "gateway": true}

// costRE picks the frames that name a cost: ours, token verification,
// password hashing, JSON, logging, the database round trip, gRPC client
// calls, garbage collection, allocation and system calls.
var costRE = regexp.MustCompile(`todo-platform|argon2\.IDKey|ed25519\.Verify|jwt/v5\.\(\*Parser\)\.ParseWithClaims|` +
	`protojson\.(Marshal|Unmarshal)Options\.(marshal|unmarshal)$|slog\.\(\*Logger\)\.log|logging\.UnaryServerInterceptor|` +
	`pgx/v5\.\(\*Conn\)\.SendBatch$|grpc\.\(\*ClientConn\)\.Invoke$|runtime\.gcBgMarkWorker$|runtime\.mallocgc$|syscall\.Syscall$`)

func report(ctx context.Context, path string, args ...string) (string, error) {
	all := []string{"report", "-i", path, "--stdio", "-g", "none", "-q", "--percentage", "relative"}
	if !slices.Contains(args, "--children") {
		all = append(all, "--no-children")
	}
	all = append(all, args...)
	cmd := exec.CommandContext(ctx, "perf", all...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("perf report: %w: %s", err, errb.String())
	}
	var lines []string
	for _, l := range strings.Split(out.String(), "\n") {
		if l = strings.TrimRight(l, " "); strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > 200 {
		lines = lines[:200]
	}
	return strings.Join(lines, "\n") + "\n", nil
}

// head returns the first n lines of s.
func head(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "")
}
