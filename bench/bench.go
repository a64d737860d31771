package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/procfs"

	"github.com/todo-platform/todo/bench/internal/cases"
	"github.com/todo-platform/todo/bench/internal/cpu"
	"github.com/todo-platform/todo/bench/internal/dataset"
	"github.com/todo-platform/todo/bench/internal/load"
	"github.com/todo-platform/todo/bench/internal/pgbench"
	"github.com/todo-platform/todo/bench/internal/profile"
	"github.com/todo-platform/todo/bench/internal/report"
	"github.com/todo-platform/todo/pkg/auth/keyfile"
	"github.com/todo-platform/todo/pkg/keyring"
	"github.com/todo-platform/todo/pkg/pgcluster"
)

// password is every seeded user's password.
const password = "bench-password-0123"

// userAppRole and taskAppRole are the LOGIN roles the user and the task
// service connect as, members of their service's group (todo_user_svc,
// todo_task_svc); pgbench runs the task service's queries as taskAppRole.
const (
	userAppRole = "bench_user"
	taskAppRole = "bench_task"
)

// processes are the service processes, in start order.
var processes = []string{"user-service", "task-service", "gateway"}

// sqlCases maps the cases with a pgbench equivalent to its script.
var sqlCases = map[string]pgbench.Script{
	cases.GetTask:    pgbench.GetTask,
	cases.CreateTask: pgbench.CreateTask,
	cases.ListFirst:  pgbench.ListFirstPage,
}

// bench is one run: its configuration, work directory and cluster.
type bench struct {
	cfg     config
	work    string
	keyFile string
	// keyringFile is the user service's DATA_KEYRING_FILE.
	keyringFile string
	hash        string
	pgbin       string
	cluster     *pgcluster.Cluster
	machine     report.Machine
}

func newBench(ctx context.Context, cfg config) (_ *bench, err error) {
	b := &bench{cfg: cfg}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	for _, s := range cfg.sizes() {
		if _, err := dataset.NewLayout(cfg.Users, s, cfg.PageSize, cases.ListPages); err != nil {
			return nil, err
		}
	}
	for _, p := range processes {
		if _, err := os.Stat(filepath.Join(cfg.Bin, p)); err != nil {
			return nil, fmt.Errorf("binary %s: %w (build with make bench, or set BENCH_BIN)", p, err)
		}
	}
	if b.pgbin, err = pgcluster.BinDir(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(b.pgbin, "pgbench")); err != nil {
		return nil, fmt.Errorf("pgbench: %w", err)
	}
	if b.work, err = os.MkdirTemp("", "todo-bench-"); err != nil {
		return nil, fmt.Errorf("work directory: %w", err)
	}
	b.keyFile = filepath.Join(b.work, "token.pem")
	if err := keyfile.WritePrivate(b.keyFile); err != nil {
		return nil, err
	}
	b.keyringFile = filepath.Join(b.work, "keyring.json")
	if _, err := keyring.Create(b.keyringFile); err != nil {
		return nil, err
	}
	if b.hash, err = dataset.PasswordHash(password); err != nil {
		return nil, err
	}
	say("starting PostgreSQL (shared_buffers=%s, fsync off)", cfg.SharedBuffers)
	b.cluster, err = pgcluster.Start(ctx,
		"shared_buffers="+cfg.SharedBuffers,
		"max_wal_size=8GB",
		"checkpoint_timeout=30min",
		"maintenance_work_mem=256MB",
		"effective_cache_size=4GB",
		"max_parallel_maintenance_workers=2",
	)
	if err != nil {
		return nil, err
	}
	b.machine, err = machine(ctx, b.cluster.URL(), filepath.Join(b.pgbin, "pgbench"))
	if err != nil {
		return nil, err
	}
	return b, nil
}

func (b *bench) close() {
	if b.cluster != nil {
		if err := b.cluster.Stop(); err != nil {
			say("stop PostgreSQL: %v", err)
		}
	}
	if b.work != "" {
		if b.cfg.Keep {
			say("kept the work directory %s", b.work)
		} else {
			os.RemoveAll(b.work)
		}
	}
}

func (b *bench) run(ctx context.Context) error {
	started := time.Now()
	rep := report.Report{
		When:    started,
		Machine: b.machine,
		Cases: []string{cases.GetTask, cases.ListFirst, cases.ListDeep, cases.Search, cases.GetTaskStats, cases.UpdateTask,
			cases.Login, cases.CreateTask, cases.BatchCreate},
		SQL:           map[string]bool{},
		Processes:     processes,
		Server:        map[string]string{cases.Login: "user-service"},
		DefaultServer: "task-service",
		ListFirst:     cases.ListFirst,
		ListDeep:      cases.ListDeep,
		Batch:         report.Batch{Case: cases.BatchCreate, Single: cases.CreateTask, Size: cases.BatchSize},
	}
	for c := range sqlCases {
		rep.SQL[c] = true
	}
	if len(b.cfg.Cases) > 0 {
		rep.Cases = slices.DeleteFunc(rep.Cases, func(c string) bool { return !slices.Contains(b.cfg.Cases, c) })
	}
	for _, n := range b.cfg.sizes() {
		s, err := b.runSize(ctx, n, rep.Cases)
		if err != nil {
			return fmt.Errorf("%s tasks: %w", report.Count(n), err)
		}
		rep.Sizes = append(rep.Sizes, s)
	}
	l, _ := dataset.NewLayout(b.cfg.Users, b.cfg.Tasks, b.cfg.PageSize, cases.ListPages)
	rep.Settings = []string{
		fmt.Sprintf("%d users; datasets of %s", b.cfg.Users, strings.Join(mapSlice(b.cfg.sizes(), report.Count), " and ")+" tasks"),
		fmt.Sprintf("%d workers (pgbench: -c %d -j 2)", b.cfg.Concurrency, b.cfg.Concurrency),
		fmt.Sprintf("each case %v after a %v warm-up", b.cfg.Duration, b.cfg.Warmup),
		fmt.Sprintf("ListTasks page size %d; %d heavy users (at %s tasks) of %d tasks each", b.cfg.PageSize, l.Heavy, report.Count(b.cfg.Tasks), l.HeavyPerUser),
		fmt.Sprintf("%d signed-in regular users", b.cfg.LoginUsers),
		fmt.Sprintf("PostgreSQL shared_buffers=%s, fsync=off, synchronous_commit=off, full_page_writes=off (commits do not wait for the disk)", b.cfg.SharedBuffers),
		fmt.Sprintf("total run %v", time.Since(started).Round(time.Second)),
	}

	md := rep.Markdown()
	fmt.Println()
	fmt.Print(rep.Table())
	for _, s := range rep.Sizes {
		fmt.Println()
		fmt.Print(rep.CPUTable(s))
	}
	fmt.Println()
	if t := rep.BatchTable(); t != "" {
		fmt.Print(t)
		fmt.Println()
	}
	fmt.Print(rep.RSSTable())
	if b.cfg.Out != "-" {
		if err := os.MkdirAll(filepath.Dir(b.cfg.Out), 0o755); err != nil {
			return fmt.Errorf("write %s: %w", b.cfg.Out, err)
		}
		if err := os.WriteFile(b.cfg.Out, []byte(md), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", b.cfg.Out, err)
		}
		say("wrote %s", b.cfg.Out)
	}
	if f := rep.Failures(); len(f) > 0 {
		return fmt.Errorf("%d rows failed:\n  %s", len(f), strings.Join(f, "\n  "))
	}
	return nil
}

// runSize seeds a dataset of n tasks in a database of its own and measures
// every case on it.
func (b *bench) runSize(ctx context.Context, n int64, names []string) (report.Size, error) {
	l, err := dataset.NewLayout(b.cfg.Users, n, b.cfg.PageSize, cases.ListPages)
	if err != nil {
		return report.Size{}, err
	}
	size := report.Size{Tasks: n, HeavyUsers: l.Heavy, Rows: map[report.Key]report.Measured{}, PeakRSS: map[string]int64{}}
	label := report.Count(n)
	dbName := "bench_" + strings.ToLower(label)
	ownerURL, userURL, taskURL, err := b.createDatabase(ctx, dbName)
	if err != nil {
		return size, err
	}
	say("%s: seeding %d users and %d tasks (%d heavy users of %d tasks)", label, l.Users, l.Tasks, l.Heavy, l.HeavyPerUser)
	start := time.Now()
	if err := dataset.Seed(ctx, ownerURL, l, b.hash, time.Now(), func(s string) { say("%s: %s", label, s) }); err != nil {
		return size, err
	}
	say("%s: seeded in %v", label, time.Since(start).Round(time.Millisecond))

	pgOpts := pgbench.Options{
		Bin: filepath.Join(b.pgbin, "pgbench"), URL: ownerURL,
		Clients: b.cfg.Concurrency, Threads: 2,
		Warmup: b.cfg.Warmup, Duration: b.cfg.Duration,
		Vars: l.PgbenchVars(), Dir: b.work,
	}
	pgOpts.Vars["limit"] = fmt.Sprint(b.cfg.PageSize + 1)
	if err := dataset.Verify(ctx, ownerURL, l, 1000); err != nil {
		return size, err
	}
	if err := pgbench.Check(ctx, pgOpts, pgbench.CheckCreator, 2000); err != nil {
		return size, fmt.Errorf("the pgbench scripts' creator formula disagrees with the seeded data: %w", err)
	}
	pgOpts.URL = taskURL

	svc, err := b.startServices(ctx, label, userURL, taskURL)
	if err != nil {
		return size, err
	}
	defer svc.stop()
	say("%s: signing in %d regular and %d heavy users, paging to page %d", label, b.cfg.LoginUsers, l.Heavy, cases.ListPages)
	pool, err := cases.Prepare(ctx, cases.Clients(svc.task, svc.user), l, password, b.cfg.PageSize, b.cfg.LoginUsers, uint64(n))
	if err != nil {
		return size, err
	}
	say("%s: %d users, %d of their tasks, %d heavy users ready", label, len(pool.Users), len(pool.Pairs), len(pool.Heavy))

	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return size, fmt.Errorf("read /proc: %w", err)
	}
	// PostgreSQL first: the pgbench rows measure it alone.
	groups := []cpu.Group{{Name: report.Postgres, PID: b.cluster.PID(), Children: true}, {Name: report.Driver, PID: os.Getpid()}}
	for _, p := range svc.procs {
		groups = append(groups, cpu.Group{Name: p.Name(), PID: p.PID()})
	}
	for i, c := range cases.All(svc.targets(), pool) {
		if !slices.Contains(names, c.Name) {
			continue
		}
		if err := svc.alive(); err != nil {
			return size, err
		}
		var rec *profile.Recording
		if b.cfg.Profile != "" {
			rec = profile.Start(ctx, b.cfg.Warmup, b.cfg.Duration, filepath.Join(b.cfg.Profile, profileName(label, c.Name, c.Via)))
		}
		win := cpu.NewWindow(fs, groups)
		opts := load.Options{
			Concurrency: b.cfg.Concurrency, Warmup: b.cfg.Warmup, Duration: b.cfg.Duration, Timeout: 30 * time.Second,
			Started: win.Start, Stopped: win.Stop,
		}
		res := load.Run(ctx, opts, uint64(i+1), c.Do)
		if ctx.Err() != nil {
			return size, ctx.Err()
		}
		spent, err := win.Spent()
		if err != nil {
			return size, err
		}
		size.Rows[report.Key{Case: c.Name, Via: c.Via}] = report.Measured{Result: res, CPU: spent}
		sayResult(label, c.Name, c.Via, res)
		if rec != nil {
			b.summarize(rec)
		}
	}
	for _, p := range svc.procs {
		rss, err := p.PeakRSS()
		if err != nil {
			return size, err
		}
		size.PeakRSS[p.Name()] = rss
	}
	if err := svc.stop(); err != nil {
		return size, err
	}

	for _, c := range names {
		script, ok := sqlCases[c]
		if !ok {
			continue
		}
		var rec *profile.Recording
		if b.cfg.Profile != "" {
			rec = profile.Start(ctx, time.Duration(0), b.cfg.Duration, filepath.Join(b.cfg.Profile, profileName(label, c, "pgbench")))
		}
		m := report.Measured{}
		win := cpu.NewWindow(fs, groups[:1]) // PostgreSQL only
		o := pgOpts
		o.Started, o.Stopped = win.Start, win.Stop
		m.Result, err = pgbench.Run(ctx, o, script)
		spent, cpuErr := win.Spent()
		if cpuErr != nil {
			return size, cpuErr
		}
		m.CPU = spent
		if err != nil {
			if ctx.Err() != nil {
				return size, ctx.Err()
			}
			m.Err = err.Error()
			say("%s: %s via pgbench: FAILED: %v", label, c, err)
		} else {
			sayResult(label, c, report.PgBench, m.Result)
		}
		size.Rows[report.Key{Case: c, Via: report.PgBench}] = m
		if rec != nil {
			b.summarize(rec)
		}
	}
	if err := dropDatabase(ctx, b.cluster.URL(), dbName); err != nil {
		say("%s: %v", label, err)
	}
	return size, nil
}

// createDatabase creates database name, migrates it with the services'
// own migrate commands as the superuser, and makes sure the services' login
// roles exist. It returns the superuser URL of the database and those of the
// user and the task service's login roles.
func (b *bench) createDatabase(ctx context.Context, name string) (ownerURL, userURL, taskURL string, err error) {
	conn, err := pgx.Connect(ctx, b.cluster.URL())
	if err != nil {
		return "", "", "", fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", "", "", fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(b.cluster.URL())
	if err != nil {
		return "", "", "", err
	}
	u.Path = "/" + name
	ownerURL = u.String()
	for _, svc := range []string{"user-service", "task-service"} {
		if err := migrate(ctx, filepath.Join(b.cfg.Bin, svc), ownerURL); err != nil {
			return "", "", "", err
		}
	}
	login := func(role, group string) (string, error) {
		if _, err := conn.Exec(ctx, `
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '`+role+`') THEN
        CREATE ROLE `+role+` LOGIN;
    END IF;
END
$$`); err != nil {
			return "", fmt.Errorf("create role %s: %w", role, err)
		}
		if _, err := conn.Exec(ctx, "GRANT "+group+" TO "+role); err != nil {
			return "", fmt.Errorf("grant %s to %s: %w", group, role, err)
		}
		lu := *u
		lu.User = url.User(role)
		return lu.String(), nil
	}
	if userURL, err = login(userAppRole, "todo_user_svc"); err != nil {
		return "", "", "", err
	}
	if taskURL, err = login(taskAppRole, "todo_task_svc"); err != nil {
		return "", "", "", err
	}
	return ownerURL, userURL, taskURL, nil
}

func dropDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

func (b *bench) summarize(rec *profile.Recording) {
	sum, err := rec.Wait()
	if err != nil {
		say("profile: %v", err)
		return
	}
	say("profile %s:\n%s", rec.Path(), sum)
}

func profileName(size, name, via string) string {
	r := strings.NewReplacer(" ", "_", "/", "_")
	return r.Replace(strings.ToLower(size + "-" + name + "-" + via))
}

func sayResult(size, name, via string, r load.Result) {
	errs := ""
	if r.Errors > 0 {
		errs = fmt.Sprintf(", %d ERRORS, e.g. %s", r.Errors, strings.Join(r.ErrorSamples, " | "))
	}
	say("%s: %-20s %-11s %9s req/s  p50 %7s ms  p99 %7s ms%s", size, name, via,
		report.Rate(r.Throughput()), report.Millis(r.P50), report.Millis(r.P99), errs)
}

// say prints a progress line to stderr.
func say(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func mapSlice[T, U any](s []T, f func(T) U) []U {
	out := make([]U, len(s))
	for i, v := range s {
		out[i] = f(v)
	}
	return out
}

// errStopped is returned when a service exits during the run.
var errStopped = errors.New("exited during the run")
