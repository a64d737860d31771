// Package pgbench runs PostgreSQL's pgbench with the SQL the task service
// sends for a request, the physical limit the API cases are compared with.
//
// The scripts in scripts/ copy the task store's statements (taskstore's
// getSQL, insertSQL and listUserSQL, and pgdb's per-transaction settings
// query) and pipeline them the way the store's pgx batch does: one round
// trip, one implicit transaction. The user of each transaction is computed
// from the seeded layout (see dataset.Layout.Creator), as pgbench cannot
// look it up without another query.
package pgbench

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/todo-platform/todo/bench/internal/load"
)

//go:embed scripts
var scripts embed.FS

// Script names one of the embedded scripts.
type Script string

// The scripts: the SQL of GetTask, CreateTask and the first page of
// ListTasks, and a check that the scripts' creator formula matches the data.
const (
	GetTask       Script = "get_task"
	CreateTask    Script = "create_task"
	ListFirstPage Script = "list_first_page"
	CheckCreator  Script = "check_creator"
)

// Source returns the text of s as pgbench reads it.
func Source(s Script) (string, error) {
	body, err := scripts.ReadFile("scripts/" + string(s) + ".sql")
	if err != nil {
		return "", fmt.Errorf("pgbench script %s: %w", s, err)
	}
	inc, err := scripts.ReadFile("scripts/creator.inc")
	if err != nil {
		return "", fmt.Errorf("pgbench script %s: %w", s, err)
	}
	return strings.ReplaceAll(string(body), "{{creator}}", strings.TrimSpace(string(inc))), nil
}

// Options say where and how hard to run pgbench.
type Options struct {
	// Bin is the pgbench executable.
	Bin string
	// URL is the database to connect to (a libpq URL).
	URL string
	// Clients and Threads are pgbench's -c and -j.
	Clients, Threads int
	// Warmup and Duration are run one after the other; only the second is
	// measured. pgbench counts in whole seconds: both are rounded up.
	Warmup, Duration time.Duration
	// Vars are passed as -D name=value.
	Vars map[string]string
	// Dir is a scratch directory for scripts and transaction logs.
	Dir string
	// Started and Stopped, when set, are called just before and just after
	// the measured run (its connection setup included), e.g. to sample CPU
	// time.
	Started, Stopped func()
}

// Run runs script s with -M prepared for o.Warmup, then again for
// o.Duration logging every transaction, and returns the throughput pgbench
// reports (without connection time) with latency percentiles from its log.
// A failed transaction aborts the run: it is an error.
func Run(ctx context.Context, o Options, s Script) (load.Result, error) {
	src, err := Source(s)
	if err != nil {
		return load.Result{}, err
	}
	return runFile(ctx, o, string(s), src)
}

// runFile is Run for a script named s with source src.
func runFile(ctx context.Context, o Options, s, src string) (load.Result, error) {
	file := filepath.Join(o.Dir, s+".sql")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		return load.Result{}, fmt.Errorf("pgbench script %s: %w", s, err)
	}
	if o.Warmup > 0 {
		if _, err := run(ctx, o, file, "-T", seconds(o.Warmup)); err != nil {
			return load.Result{}, fmt.Errorf("pgbench %s warm-up: %w", s, err)
		}
	}
	logDir, err := os.MkdirTemp(o.Dir, s+"-log-")
	if err != nil {
		return load.Result{}, fmt.Errorf("pgbench %s: %w", s, err)
	}
	defer os.RemoveAll(logDir)
	if o.Started != nil {
		o.Started()
	}
	out, err := run(ctx, o, file, "-T", seconds(o.Duration), "-l", "--log-prefix="+filepath.Join(logDir, "tx"))
	if o.Stopped != nil {
		o.Stopped()
	}
	if err != nil {
		return load.Result{}, fmt.Errorf("pgbench %s: %w", s, err)
	}
	tps, err := parseTPS(out)
	if err != nil {
		return load.Result{}, fmt.Errorf("pgbench %s: %w", s, err)
	}
	lat, err := readLatencies(logDir)
	if err != nil {
		return load.Result{}, fmt.Errorf("pgbench %s: %w", s, err)
	}
	slices.Sort(lat)
	d := time.Duration(float64(len(lat)) / tps * float64(time.Second))
	return load.Result{
		Requests: int64(len(lat)),
		Duration: d,
		P50:      load.Percentile(lat, 0.50),
		P99:      load.Percentile(lat, 0.99),
	}, nil
}

// Check runs s for n transactions on one client and returns an error when
// any of them fails.
func Check(ctx context.Context, o Options, s Script, n int) error {
	file, err := writeScript(o.Dir, s)
	if err != nil {
		return err
	}
	o.Clients, o.Threads = 1, 1
	if _, err := run(ctx, o, file, "-t", strconv.Itoa(n)); err != nil {
		return fmt.Errorf("pgbench %s: %w", s, err)
	}
	return nil
}

func writeScript(dir string, s Script) (string, error) {
	src, err := Source(s)
	if err != nil {
		return "", err
	}
	file := filepath.Join(dir, string(s)+".sql")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		return "", fmt.Errorf("pgbench script %s: %w", s, err)
	}
	return file, nil
}

// seconds rounds d up to whole seconds, at least one.
func seconds(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

func run(ctx context.Context, o Options, file string, extra ...string) (string, error) {
	args := []string{"-n", "-M", "prepared", "-c", strconv.Itoa(o.Clients), "-j", strconv.Itoa(o.Threads), "-f", file}
	names := make([]string, 0, len(o.Vars))
	for k := range o.Vars {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		args = append(args, "-D", k+"="+o.Vars[k])
	}
	args = append(args, extra...)
	args = append(args, o.URL)
	cmd := exec.CommandContext(ctx, o.Bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w: %s", err, tail(stderr.String()+stdout.String(), 1500))
	}
	// pgbench 15 reports failed transactions and keeps going for some
	// errors (serialization, deadlock); any failure counts.
	if m := failedRE.FindStringSubmatch(stdout.String()); m != nil && m[1] != "0" {
		return "", fmt.Errorf("%s failed transactions: %s", m[1], tail(stderr.String(), 1500))
	}
	return stdout.String(), nil
}

var (
	tpsRE    = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \(without initial connection time\)`)
	failedRE = regexp.MustCompile(`(?m)^number of failed transactions: (\d+)`)
)

func parseTPS(out string) (float64, error) {
	m := tpsRE.FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no tps in pgbench output: %s", tail(out, 500))
	}
	tps, err := strconv.ParseFloat(m[1], 64)
	if err != nil || tps <= 0 {
		return 0, fmt.Errorf("bad tps %q in pgbench output", m[1])
	}
	return tps, nil
}

// readLatencies reads the per-transaction logs in dir (one file per
// thread). Each line is "client_id transaction_no time script_no
// time_epoch time_us", time being the latency in microseconds.
func readLatencies(dir string) ([]time.Duration, error) {
	files, err := filepath.Glob(filepath.Join(dir, "tx.*"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no transaction logs in %s", dir)
	}
	var lat []time.Duration
	for _, f := range files {
		l, err := parseLog(f)
		if err != nil {
			return nil, err
		}
		lat = append(lat, l...)
	}
	if len(lat) == 0 {
		return nil, errors.New("no transactions logged")
	}
	return lat, nil
}

func parseLog(path string) ([]time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lat []time.Duration
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 {
			return nil, fmt.Errorf("%s: short line %q", path, sc.Text())
		}
		us, err := strconv.ParseInt(fields[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: latency %q: %w", path, fields[2], err)
		}
		lat = append(lat, time.Duration(us)*time.Microsecond)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return lat, nil
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}
