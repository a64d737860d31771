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
// (superuser, BYPASSRLS, an owner) or is not a member of todo_app.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/auth/grpcauth"
	"github.com/todo-platform/todo/pkg/cli"
	"github.com/todo-platform/todo/pkg/envcfg"
	"github.com/todo-platform/todo/pkg/grpcserver"
	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/pkg/schema"
	"github.com/todo-platform/todo/services/task/internal/task"
	"github.com/todo-platform/todo/services/task/internal/taskapi"
	"github.com/todo-platform/todo/services/task/internal/taskstore"
	"github.com/todo-platform/todo/services/task/internal/userclient"
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
		if err := schema.Run(ctx, log, cfg.DatabaseURL, schema.Task(), values[0], os.Stdout); err != nil {
			return fmt.Errorf("migrate %s: %w", values[0], err)
		}
		return nil
	}
	return serve(ctx, log, cfg)
}

// keyWarmupTimeout bounds the fetch of the verification keys at start.
const keyWarmupTimeout = 5 * time.Second

// serve runs the gRPC server until ctx ends (SIGINT/SIGTERM), then stops
// gracefully.
func serve(ctx context.Context, log *slog.Logger, cfg config) error {
	db, err := pgdb.OpenRuntime(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()

	// One connection to the user service for the life of the process; it
	// connects lazily and reconnects by itself.
	conn, err := userclient.Dial(cfg.UserServiceAddr)
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

	svc := task.NewService(taskstore.New(db), userclient.NewDirectory(users))
	srv := grpcserver.New(log,
		grpcserver.Config{Addr: cfg.GRPCAddr, ShutdownTimeout: cfg.ShutdownTimeout},
		grpcauth.UnaryServerInterceptor(auth.NewVerifier(keys, cfg.TokenIssuer, cfg.TokenAudience)),
	)
	taskapi.New(log, svc).Register(srv.GRPC())
	return srv.ListenAndServe(ctx)
}
