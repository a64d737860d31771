// Command user-service runs the todo platform's user service: accounts,
// sign-in, tokens, profiles and administration over gRPC
// (todo.user.v1.UserService), on PostgreSQL.
//
// Usage:
//
//	user-service [serve]                  serve gRPC on GRPC_ADDR (the default)
//	user-service migrate up|down|status   apply, undo one, or list the user migrations
//	user-service admin create             create or promote the first admin
//
// Configuration comes from the environment; see config. serve and admin
// create refuse to start when DATABASE_URL names a role that could bypass
// row-level security (superuser, BYPASSRLS, an owner) or is not a member of
// todo_user_svc, the user service's group (schema.UserRole).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/todo-platform/todo/pkg/admin"
	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/auth/grpcauth"
	"github.com/todo-platform/todo/pkg/auth/keyfile"
	"github.com/todo-platform/todo/pkg/cli"
	"github.com/todo-platform/todo/pkg/envcfg"
	"github.com/todo-platform/todo/pkg/grpcserver"
	"github.com/todo-platform/todo/pkg/jobs"
	"github.com/todo-platform/todo/pkg/mail"
	"github.com/todo-platform/todo/pkg/pat"
	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/pkg/revocation"
	"github.com/todo-platform/todo/pkg/schema"
	"github.com/todo-platform/todo/pkg/telemetry"
	"github.com/todo-platform/todo/services/user/internal/user"
	"github.com/todo-platform/todo/services/user/internal/userapi"
	"github.com/todo-platform/todo/services/user/internal/userstore"
)

func main() { cli.Main("user-service", run) }

const usage = `usage: user-service [serve | migrate up|down|status | admin create | keys rotate|reencrypt|decrypt|prune]`

// run dispatches the subcommand named by args (serve when empty).
func run(ctx context.Context, log *slog.Logger, args []string) error {
	cmd, values, err := cli.Parse(args, usage, "serve", "migrate ACTION", "admin create", "keys ACTION")
	if err != nil {
		return err
	}
	cfg, err := envcfg.Load[config]()
	if err != nil {
		return err
	}
	log.InfoContext(ctx, "user-service", slog.String("command", cmd), slog.Any("args", values), slog.Any("config", envcfg.LogValue(cfg)))
	switch cmd {
	case "migrate ACTION":
		if err := schema.Run(ctx, log, cfg.MigrateURL(), schema.User(), values[0], os.Stdout); err != nil {
			return fmt.Errorf("migrate %s: %w", values[0], err)
		}
		return nil
	case "admin create":
		return adminCreate(ctx, log, cfg)
	case "keys ACTION":
		return keys(ctx, log, cfg, values[0], os.Stdout)
	default:
		return serve(ctx, log, cfg)
	}
}

// open opens the runtime pool (see pgdb.OpenRuntime) and the Service on it;
// signer is nil for admin create, which issues no tokens, and so is the
// mail outbox (withMail false), which it sends nothing through. The
// caller closes the pool.
func open(ctx context.Context, log *slog.Logger, cfg config, signer *auth.Signer, hasher *user.Hasher, withMail bool, opts ...pgdb.Option) (*pgdb.DB, *user.Service, error) {
	db, store, err := openStore(ctx, cfg, withMail, opts...)
	if err != nil {
		return nil, nil, err
	}
	svc, err := user.NewService(ctx, log, store, hasher, signer, cfg.service())
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, svc, nil
}

// openStore opens the runtime pool and the store on it, with the keyring of
// DATA_KEYRING_FILE and, withMail, the mail outbox in River's schema. The
// caller closes the pool.
func openStore(ctx context.Context, cfg config, withMail bool, opts ...pgdb.Option) (*pgdb.DB, *userstore.Store, error) {
	ring, err := cfg.keyring()
	if err != nil {
		return nil, nil, err
	}
	db, err := pgdb.OpenRuntime(ctx, cfg.DatabaseURL, schema.UserRole, append([]pgdb.Option{pgdb.WithAllowInsecure(cfg.DatabaseAllowInsecure)}, opts...)...)
	if err != nil {
		return nil, nil, err
	}
	if !withMail {
		return db, userstore.New(db, ring), nil
	}
	outbox, err := mail.NewOutbox(db.Pool, schema.User().RiverSchema, ring)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, userstore.New(db, ring, userstore.WithOutbox(outbox)), nil
}

// serve runs the gRPC server, the admin port and the periodic clean-up
// until ctx ends (SIGINT/SIGTERM), then stops gracefully.
func serve(ctx context.Context, log *slog.Logger, cfg config) (err error) {
	signer, keys, err := cfg.tokenKeys()
	if err != nil {
		return err
	}
	proxies, err := cfg.trustedProxies()
	if err != nil {
		return err
	}
	tel, err := telemetry.New(ctx, "user-service")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, tel.Shutdown(context.WithoutCancel(ctx))) }()
	hasher := newHasher(cfg)
	sender, err := cfg.mailSender(log)
	if err != nil {
		return err
	}
	ring, err := cfg.keyring()
	if err != nil {
		return err
	}
	db, svc, err := open(ctx, log, cfg, signer, hasher, true, pgdb.WithTracer(tel.PgxTracer()))
	if err != nil {
		return err
	}
	defer db.Close()
	verifier := auth.NewVerifier(keyfile.Static(keys), cfg.TokenIssuer, cfg.TokenAudience, auth.WithPATs(pat.NewSource(db.Pool)))
	revoked, err := revocation.Start(ctx, log, verifier, cfg.revocation(db))
	if err != nil {
		return err
	}
	defer revoked.Stop()
	m, collectors := newMetrics(hasher)
	svc.SetMetrics(m)
	collectors = append(collectors, telemetry.NewPoolCollector(db.Pool))
	if err := tel.Register(append(collectors, telemetry.VerifierMetrics(verifier)...)...); err != nil {
		return err
	}
	serverTLS, err := cfg.ServerTLS.Config()
	if err != nil {
		return err
	}
	srv := grpcserver.New(log,
		grpcserver.Config{Addr: cfg.GRPCAddr, ShutdownTimeout: cfg.ShutdownTimeout, TLS: serverTLS, Options: tel.ServerOptions()},
		grpcauth.UnaryServerInterceptor(verifier, userapi.PublicMethods()...),
	)
	userapi.New(log, svc, keys, proxies).Register(srv.GRPC())
	tel.InitServerMetrics(srv.GRPC())

	adm := admin.Config{Addr: cfg.AdminAddr, Gatherer: tel.Registry, Checks: map[string]admin.Check{"database": db.Ping}}
	return admin.Run(ctx, log, adm, cfg.ShutdownTimeout, func(ctx context.Context) error {
		// The periodic jobs stop when the server does, also when it fails to start.
		runner, err := jobs.Start(ctx, log, db.Pool, jobs.Config{
			Schema: schema.User().RiverSchema, Registerer: tel.Registry, Jobs: periodicJobs(svc, cfg),
			Register:             mail.NewWorker(log, sender, ring, cfg.MailFrom).Register,
			RescueStuckJobsAfter: rescueStuckJobsAfter,
		})
		if err != nil {
			return err
		}
		watch, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { admin.Watch(watch, log, readyInterval, admin.DefaultCheckTimeout, db.Ping, srv.SetServing) })
		err = srv.ListenAndServe(ctx)
		stop()
		wg.Wait()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		defer cancel()
		return errors.Join(err, runner.Stop(sctx))
	})
}

// periodicJobs are the user service's periodic jobs, run once per period
// across the replicas (package jobs).
func periodicJobs(svc *user.Service, cfg config) []jobs.Job {
	return []jobs.Job{
		{Name: "user.cleanup", Every: user.CleanupInterval, Run: func(ctx context.Context) error {
			_, err := svc.Cleanup(ctx)
			return err
		}},
		{Name: "user.audit_partitions", Every: user.AuditMaintenanceInterval, Run: func(ctx context.Context) error {
			return svc.MaintainAudit(ctx, cfg.AuditRetentionMonths)
		}},
	}
}

// rescueStuckJobsAfter is how long a job may stay running before River
// runs it again (a replica died while it ran): well above the mail
// worker's timeout, so that a slow delivery is not started twice.
const rescueStuckJobsAfter = 2 * time.Minute

// readyInterval is how often the database is pinged for the gRPC health
// status (the gateway's readiness).
const readyInterval = 2 * time.Second

// newHasher returns the password hasher cfg describes.
func newHasher(cfg config) *user.Hasher {
	return user.NewHasher(user.NewParams(cfg.PasswordHashMemoryKiB, cfg.PasswordHashTime, cfg.PasswordHashThreads), cfg.PasswordHashConcurrency)
}

// adminCreate creates or promotes the first admin from ADMIN_EMAIL,
// ADMIN_USERNAME and ADMIN_PASSWORD; see user.Service.EnsureAdmin for what
// happens when the user exists. Running it again changes nothing.
func adminCreate(ctx context.Context, log *slog.Logger, cfg config) error {
	if cfg.AdminEmail == "" || cfg.AdminUsername == "" {
		return errors.New("configuration: admin create needs ADMIN_EMAIL and ADMIN_USERNAME (and ADMIN_PASSWORD to create the user)")
	}
	db, svc, err := open(ctx, log, cfg, nil, newHasher(cfg), false)
	if err != nil {
		return err
	}
	defer db.Close()
	u, created, err := svc.EnsureAdmin(ctx, cfg.AdminEmail, cfg.AdminUsername, cfg.AdminPassword)
	if err != nil {
		return cfg.adminError(err)
	}
	log.InfoContext(ctx, "admin ready", slog.Int64("user_id", u.ID), slog.String("username", u.Username),
		slog.String("email", u.Email), slog.Bool("created", created))
	return nil
}
