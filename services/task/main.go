// Command task-service runs the todo platform's task service: tasks, their
// assignment, listing and dashboard statistics over gRPC
// (todo.task.v1.TaskService), on PostgreSQL under row-level security. It
// verifies access tokens with the keys the user service publishes and asks
// the user service whether an assignee is an active user.
//
// Usage:
//
//	task-service [serve]                  serve gRPC on GRPC_ADDR (the default)
//	task-service migrate up|down|status   apply, undo one, or list the task migrations
//
// Configuration comes from the environment; see config. serve refuses to
// start when DATABASE_URL names a role that could bypass row-level security
// (superuser, BYPASSRLS, an owner) or is not a member of todo_task_svc, the
// task service's group (schema.TaskRole).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/admin"
	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/auth/grpcauth"
	"github.com/todo-platform/todo/pkg/cli"
	"github.com/todo-platform/todo/pkg/envcfg"
	"github.com/todo-platform/todo/pkg/grpcclient"
	"github.com/todo-platform/todo/pkg/grpcserver"
	"github.com/todo-platform/todo/pkg/jobs"
	"github.com/todo-platform/todo/pkg/pat"
	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/pkg/revocation"
	"github.com/todo-platform/todo/pkg/schema"
	"github.com/todo-platform/todo/pkg/telemetry"
	"github.com/todo-platform/todo/services/task/internal/task"
	"github.com/todo-platform/todo/services/task/internal/taskapi"
	"github.com/todo-platform/todo/services/task/internal/taskstore"
	"github.com/todo-platform/todo/services/task/internal/userclient"
	"github.com/todo-platform/todo/services/task/internal/webhook"
)

func main() { cli.Main("task-service", run) }

const usage = `usage: task-service [serve | migrate up|down|status]`

// run dispatches the subcommand named by args (serve when empty).
func run(ctx context.Context, log *slog.Logger, args []string) error {
	cmd, values, err := cli.Parse(args, usage, "serve", "migrate ACTION")
	if err != nil {
		return err
	}
	cfg, err := envcfg.Load[config]()
	if err != nil {
		return err
	}
	log.InfoContext(ctx, "task-service", slog.String("command", cmd), slog.Any("args", values), slog.Any("config", envcfg.LogValue(cfg)))
	if cmd == "migrate ACTION" {
		if err := schema.Run(ctx, log, cfg.MigrateURL(), schema.Task(), values[0], os.Stdout); err != nil {
			return fmt.Errorf("migrate %s: %w", values[0], err)
		}
		return nil
	}
	return serve(ctx, log, cfg)
}

// The task service's periodic work.
const (
	// auditMonthsAhead is how many months after the current one always have
	// an audit partition.
	auditMonthsAhead = 3
	// auditMaintenanceInterval is how often audit partitions are made and
	// dropped.
	auditMaintenanceInterval = 6 * time.Hour
	// requestSweepInterval is how often expired request ids are deleted.
	requestSweepInterval = time.Hour
	// purgeInterval is how often the tasks deleted longer than
	// DELETED_TASK_RETENTION ago are purged.
	purgeInterval = time.Hour
	// webhookWorkers is how many webhook deliveries a process makes at
	// once.
	webhookWorkers = 4
	// feedSweepInterval is how often change feed rows past their
	// retention are deleted.
	feedSweepInterval = time.Hour
)

// periodicJobs are the task service's periodic jobs, run once per period
// across the replicas (package jobs).
func periodicJobs(log *slog.Logger, store *taskstore.Store, cfg config) []jobs.Job {
	return []jobs.Job{
		{Name: "task.request_sweep", Every: requestSweepInterval, Run: func(ctx context.Context) error {
			_, err := store.SweepRequests(ctx, task.RequestIDTTL)
			return err
		}},
		{Name: "task.purge", Every: purgeInterval, Run: func(ctx context.Context) error {
			n, err := store.PurgeDeleted(ctx, cfg.DeletedTaskRetention)
			if n > 0 {
				log.InfoContext(ctx, "deleted tasks purged", slog.Int64("tasks", n), slog.Duration("retention", cfg.DeletedTaskRetention))
			}
			return err
		}},
		{Name: "task.feed_sweep", Every: feedSweepInterval, Run: func(ctx context.Context) error {
			_, err := store.SweepChanges(ctx, cfg.ChangeFeedRetention+task.FeedSweepMargin)
			return err
		}},
		{Name: "task.audit_partitions", Every: auditMaintenanceInterval, Run: func(ctx context.Context) error {
			dropped, err := store.MaintainAudit(ctx, auditMonthsAhead, cfg.AuditRetentionMonths)
			for _, name := range dropped {
				log.InfoContext(ctx, "audit partition dropped (retention)", slog.String("partition", name))
			}
			return err
		}},
	}
}

// readyInterval is how often the database is pinged for the gRPC health
// status (the gateway's readiness).
const readyInterval = 2 * time.Second

// keyWarmupTimeout bounds the fetch of the verification keys at start.
const keyWarmupTimeout = 5 * time.Second

// serve runs the gRPC server and the admin port until ctx ends
// (SIGINT/SIGTERM), then stops gracefully.
func serve(ctx context.Context, log *slog.Logger, cfg config) (err error) {
	tel, err := telemetry.New(ctx, "task-service")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, tel.Shutdown(context.WithoutCancel(ctx))) }()
	db, err := pgdb.OpenRuntime(ctx, cfg.DatabaseURL, schema.TaskRole, pgdb.WithTracer(tel.PgxTracer()), pgdb.WithAllowInsecure(cfg.DatabaseAllowInsecure))
	if err != nil {
		return err
	}
	defer db.Close()

	// One connection to the user service for the life of the process; it
	// connects lazily and reconnects by itself.
	upstreamTLS, err := cfg.UpstreamTLS.Config()
	if err != nil {
		return err
	}
	serverTLS, err := cfg.ServerTLS.Config()
	if err != nil {
		return err
	}
	conn, err := userclient.Dial(cfg.UserServiceAddr, append(tel.DialOptions(), grpcclient.WithTLS(upstreamTLS))...)
	if err != nil {
		return fmt.Errorf("USER_SERVICE_ADDR: %w", err)
	}
	defer conn.Close()
	users := userv1.NewUserServiceClient(conn)

	keys := auth.NewRemoteKeys(userclient.FetchKeys(users), cfg.TokenKeysMinRefresh)
	warm, cancel := context.WithTimeout(ctx, keyWarmupTimeout)
	if err := keys.Refresh(warm); err != nil {
		// Not fatal: the services may start in any order, and the keys are
		// fetched again when the first token arrives.
		log.WarnContext(ctx, "token verification keys not fetched at start; will retry on the first request",
			slog.String("user_service", cfg.UserServiceAddr), slog.Any("error", err))
	}
	cancel()

	store := taskstore.New(db, taskstore.WithSearchConfig(cfg.SearchConfig))
	if indexed, err := store.CheckSearch(ctx); err != nil {
		return fmt.Errorf("TASK_SEARCH_CONFIG: %w", err)
	} else if !indexed {
		log.WarnContext(ctx, "no search index for TASK_SEARCH_CONFIG: searches read every task they may see (docs/search.md)", slog.String("config", cfg.SearchConfig))
	}
	svc := task.NewService(store, userclient.NewDirectory(users))
	// Personal access tokens are checked with personal_access_token_check,
	// which answers for one token hash only (user set, migration 00010).
	verifier := auth.NewVerifier(keys, cfg.TokenIssuer, cfg.TokenAudience, auth.WithPATs(pat.NewSource(db.Pool)))
	// Token revocations: from user_token_revocation, the one object of the
	// user set this service may read (see docs/security.md).
	revoked, err := revocation.Start(ctx, log, verifier, revocation.Config{
		Pool: db.Pool, ListenDSN: cfg.ListenURL(cfg.DatabaseURL), PollInterval: cfg.TokenRevocationPollInterval,
	})
	if err != nil {
		return err
	}
	defer revoked.Stop()
	created := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "task_tasks_created_total",
		Help: "Tasks created (a repeat with the same request_id included).",
	})
	svc.SetMetrics(task.Metrics{TasksCreated: created})
	svc.SetDeletedRetention(cfg.DeletedTaskRetention)
	svc.SetFeedRetention(cfg.ChangeFeedRetention)
	svc.SetWebhookGuard(webhook.Guard(cfg.WebhookAllowPrivate))
	deliveries := webhook.NewWorker(store, webhook.Config{AllowPrivate: cfg.WebhookAllowPrivate, Timeout: cfg.WebhookTimeout,
		RetryBase: cfg.WebhookRetryBase, DisableAfter: cfg.WebhookDisableAfter})
	if err := tel.Register(append(telemetry.VerifierMetrics(verifier), created, telemetry.NewPoolCollector(db.Pool))...); err != nil {
		return err
	}
	listener, err := taskstore.NewListener(log, cfg.ListenURL(cfg.DatabaseURL), cfg.DatabaseAllowInsecure)
	if err != nil {
		return err
	}
	svc.SetWatch(task.WatchConfig{Notifier: listener, Heartbeat: cfg.WatchHeartbeat, MaxPerUser: cfg.WatchMaxPerUser, Max: cfg.WatchMax, Stop: ctx.Done()})
	srv := grpcserver.New(log,
		grpcserver.Config{Addr: cfg.GRPCAddr, ShutdownTimeout: cfg.ShutdownTimeout, TLS: serverTLS, Options: tel.ServerOptions(),
			StreamInterceptors: []grpc.StreamServerInterceptor{grpcauth.StreamServerInterceptor(verifier)}},
		grpcauth.UnaryServerInterceptor(verifier),
	)
	api := taskapi.New(log, svc)
	api.SetWatchSendTimeout(cfg.WatchSendTimeout)
	api.Register(srv.GRPC())
	tel.InitServerMetrics(srv.GRPC())

	adm := admin.Config{Addr: cfg.AdminAddr, Gatherer: tel.Registry, Checks: map[string]admin.Check{
		"database":     db.Ping,
		"user_service": admin.GRPCHealth(conn, userv1.UserService_ServiceDesc.ServiceName),
	}}
	return admin.Run(ctx, log, adm, cfg.ShutdownTimeout, func(ctx context.Context) error {
		// The periodic jobs stop when the server does, also when it fails to start.
		// The periodic jobs and the webhook deliveries (the outbox the
		// database fills with every change).
		runner, err := jobs.Start(ctx, log, db.Pool, jobs.Config{Schema: schema.Task().RiverSchema, Registerer: tel.Registry, Jobs: periodicJobs(log, store, cfg),
			Register: deliveries.Register, Queues: map[string]int{webhook.Queue: webhookWorkers}})
		if err != nil {
			return err
		}
		// The gRPC health follows the database (the gateway's readiness).
		watch, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { admin.Watch(watch, log, readyInterval, admin.DefaultCheckTimeout, db.Ping, srv.SetServing) })
		// WatchTasks' wake-ups; the streams end (UNAVAILABLE) when ctx does.
		wg.Go(func() { _ = listener.Run(watch) })
		err = srv.ListenAndServe(ctx)
		stop()
		wg.Wait()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		defer cancel()
		return errors.Join(err, runner.Stop(sctx))
	})
}
