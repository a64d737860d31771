// Package jobs runs a service's periodic work on River
// (github.com/riverqueue/river), in the service's own River schema (see
// package schema: river_user, river_task), so that any number of replicas
// run each job once per period: only River's elected leader enqueues
// periodic jobs, and each enqueue is unique for its job and period, so a
// leader that changes mid-period does not enqueue it twice.
//
// The client runs in poll-only mode (no LISTEN), so it works on a pool
// behind a transaction-mode pooler such as Neon's. A job that fails is
// logged with its cause and retried by River with backoff, up to its
// attempts; completions and failures are counted by job name
// (todo_job_runs_total) on the registry given.
package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// Job is one periodic job.
type Job struct {
	// Name identifies the job, in logs and metrics; unique per service.
	Name string
	// Every is the period.
	Every time.Duration
	// Run does the work; an error makes River retry it.
	Run func(ctx context.Context) error
}

// Config says where and what a Runner runs.
type Config struct {
	// Schema is the service's River schema.
	Schema string
	// Jobs are the periodic jobs; each also runs once when a leader starts.
	Jobs []Job
	// Registerer, when not nil, gets the job run counter.
	Registerer prometheus.Registerer
	// PollInterval is how often the client looks for jobs to run
	// (default: one second).
	PollInterval time.Duration
	// ID names the client (default: River's, host name and time).
	ID string
	// Register, when not nil, adds the service's other workers (such as
	// the mail outbox's, package mail, or the task service's webhook
	// deliveries) to the client.
	Register func(*river.Workers) error
	// Queues are the queues those workers take jobs from besides River's
	// default one (where the periodic jobs and the mail go), with the most
	// jobs each runs at once.
	Queues map[string]int
	// RescueStuckJobsAfter is how long a job may stay running before
	// River runs it again, as after a crash of the process that ran it
	// (default: River's, one hour). It must exceed every worker's timeout.
	RescueStuckJobsAfter time.Duration
}

// Runner is a started River client running Config's jobs.
type Runner struct {
	client *river.Client[pgx.Tx]
	log    *slog.Logger
}

// args are the arguments of every periodic job: the Job's name.
type args struct {
	Name string `json:"name"`
}

// Kind is River's job kind of every periodic job.
func (args) Kind() string { return "periodic" }

// worker runs the Job that args name.
type worker struct {
	river.WorkerDefaults[args]
	jobs map[string]Job
	log  *slog.Logger
	runs *prometheus.CounterVec
}

// Work runs the job, logs a failure with its cause and counts the outcome.
func (w *worker) Work(ctx context.Context, j *river.Job[args]) error {
	job, ok := w.jobs[j.Args.Name]
	if !ok {
		// Enqueued by a replica that runs a newer set of jobs: done here.
		w.log.WarnContext(ctx, "unknown periodic job", slog.String("job", j.Args.Name))
		return river.JobCancel(fmt.Errorf("unknown periodic job %q", j.Args.Name))
	}
	err := job.Run(ctx)
	outcome := "completed"
	if err != nil {
		outcome = "failed"
		w.log.WarnContext(ctx, "periodic job failed; River retries it", slog.String("job", job.Name),
			slog.Int("attempt", j.Attempt), slog.Int("max_attempts", j.MaxAttempts), slog.Any("error", err))
	}
	w.runs.WithLabelValues(job.Name, outcome).Inc()
	if err != nil {
		return fmt.Errorf("job %s: %w", job.Name, err)
	}
	return nil
}

// Start starts a River client on pool running cfg's jobs; stop it with
// Stop. pool's role needs the grants the migrations give the service's
// group (todo_user_svc, todo_task_svc) on its River schema.
func Start(ctx context.Context, log *slog.Logger, pool *pgxpool.Pool, cfg Config) (*Runner, error) {
	runs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "todo_job_runs_total",
		Help: "Runs of periodic jobs by job name and outcome (completed, failed).",
	}, []string{"job", "outcome"})
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(runs); err != nil {
			return nil, fmt.Errorf("jobs: register metrics: %w", err)
		}
	}
	w := &worker{jobs: map[string]Job{}, log: log, runs: runs}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, river.Worker[args](w)); err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	if cfg.Register != nil {
		if err := cfg.Register(workers); err != nil {
			return nil, fmt.Errorf("jobs: %w", err)
		}
	}
	queues := map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 2}}
	for name, n := range cfg.Queues {
		queues[name] = river.QueueConfig{MaxWorkers: n}
	}
	var periodic []*river.PeriodicJob
	for _, j := range cfg.Jobs {
		if j.Name == "" || j.Every <= 0 || j.Run == nil {
			return nil, fmt.Errorf("jobs: job %q needs a name, a positive period and a function", j.Name)
		}
		if _, dup := w.jobs[j.Name]; dup {
			return nil, fmt.Errorf("jobs: two jobs named %q", j.Name)
		}
		w.jobs[j.Name] = j
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(j.Every), func() (river.JobArgs, *river.InsertOpts) {
			return args{Name: j.Name}, &river.InsertOpts{
				MaxAttempts: 5,
				UniqueOpts:  river.UniqueOpts{ByArgs: true, ByPeriod: j.Every},
			}
		}, &river.PeriodicJobOpts{ID: j.Name, RunOnStart: true}))
	}
	// River logs each retry itself at warn level; its info lines are noise.
	riverLog := slog.New(levelFloor{log.Handler(), slog.LevelWarn})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		ID:                   cfg.ID,
		Schema:               cfg.Schema,
		PollOnly:             true,
		FetchPollInterval:    cmp.Or(cfg.PollInterval, time.Second),
		Logger:               riverLog,
		Queues:               queues,
		Workers:              workers,
		PeriodicJobs:         periodic,
		RescueStuckJobsAfter: cfg.RescueStuckJobsAfter,
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: river client: %w", err)
	}
	if err := client.Start(ctx); err != nil {
		return nil, fmt.Errorf("jobs: start river client in schema %s: %w", cfg.Schema, err)
	}
	return &Runner{client: client, log: log}, nil
}

// Stop stops the client, waiting within ctx for running jobs to finish;
// when ctx ends first, the jobs are cancelled.
func (r *Runner) Stop(ctx context.Context) error {
	err := r.client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		err = r.client.StopAndCancel(cctx)
	}
	if err != nil {
		return fmt.Errorf("jobs: stop: %w", err)
	}
	return nil
}

// levelFloor is a slog.Handler that drops records below min.
type levelFloor struct {
	slog.Handler
	min slog.Level
}

func (h levelFloor) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelFloor) WithAttrs(as []slog.Attr) slog.Handler {
	return levelFloor{h.Handler.WithAttrs(as), h.min}
}

func (h levelFloor) WithGroup(name string) slog.Handler {
	return levelFloor{h.Handler.WithGroup(name), h.min}
}
