// Package schema holds the database migrations of the todo platform and runs
// them with goose.
//
// There are two migration sets, each with its own goose version table and its
// own advisory lock, so the user and task services migrate independently:
// [User] (owned by the user service) and [Task] (owned by the task service).
// The task set depends on the user set's first migration, so the user set is
// applied first. Migrations are SQL files embedded in the binary from
// user/migrations and task/migrations; a new file there (00002_….sql and up)
// is picked up without code changes. Every migration has a down step.
//
// Each set also carries its service's River schema (river_user, river_task):
// one goose migration of the set (a Go migration, see river.go) creates the
// schema, applies River's own migrations in it up to a pinned version and
// grants todo_app what River needs, and its down step removes it, so that
// `migrate up|down` moves the job tables with the rest of the set.
//
// Each service runs as a member of its own NOLOGIN group ([Set.Role]:
// todo_user_svc, todo_task_svc), which the set's 00006 migration creates and
// grants only what that service uses, River schema included; the same
// migration revokes those grants from the shared group todo_app of the
// earlier migrations (see docs/security.md).
//
// Migrations need a session (direct) connection: the goose advisory lock is
// session-level, which a pooler in transaction mode (PgBouncer, Neon's pooled
// endpoint) does not keep. They run as whoever the DSN names, which must be
// allowed to create tables, functions and (on first use) the roles todo_app,
// todo_user_svc and todo_task_svc.
package schema

import (
	"context"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"text/tabwriter"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
	"github.com/pressly/goose/v3/lock"

	"github.com/todo-platform/todo/pkg/pgdb"
)

const (
	// AppRole is the NOLOGIN role the first migrations create and grant both
	// services' privileges to; each set's 00006 migration moves them to the
	// set's own group ([UserRole], [TaskRole]), after which it has none.
	AppRole = "todo_app"
	// UserRole is the NOLOGIN group of the user service: its login role is a
	// member of it (and of no other service's group).
	UserRole = "todo_user_svc"
	// TaskRole is the NOLOGIN group of the task service.
	TaskRole = "todo_task_svc"
	// SettingUserID is the per-transaction setting naming the acting user's id
	// for the row-level security policies on task.
	SettingUserID = "app.user_id"
	// SettingIsAdmin is the per-transaction setting ("true" or "false") that
	// makes every task row visible when "true".
	SettingIsAdmin = "app.is_admin"
	// SettingRequestID is the per-transaction setting naming the request id
	// of the call, which the audit rows written in the transaction record.
	SettingRequestID = "app.request_id"
)

//go:embed user/migrations/*.sql task/migrations/*.sql
var migrationFiles embed.FS

// Set is one migration set: its SQL files, goose version table and advisory
// lock id. Get one from [User] or [Task].
type Set struct {
	// Name is the set's short name ("user" or "task").
	Name string
	// VersionTable is the goose version table of this set.
	VersionTable string

	// RiverSchema is the schema of the service's River job tables.
	RiverSchema string
	// Role is the NOLOGIN group of the service that owns the set ([UserRole]
	// or [TaskRole]): the set's migrations grant it what the service uses.
	Role string

	dir          string
	lockID       int64
	riverVersion int64 // the goose version of the River migration
}

// User returns the user service's migration set ("user" table, the shared
// trigger function, the roles todo_app and todo_user_svc). It is applied before [Task].
func User() *Set {
	return &Set{Name: "user", VersionTable: "goose_user_version", RiverSchema: "river_user", Role: UserRole,
		dir: "user/migrations", lockID: 0x746f646f5f757372, riverVersion: 4}
}

// Task returns the task service's migration set (the task table and its
// row-level security). It requires the [User] set to be applied first.
func Task() *Set {
	return &Set{Name: "task", VersionTable: "goose_task_version", RiverSchema: "river_task", Role: TaskRole,
		dir: "task/migrations", lockID: 0x746f646f5f746b73, riverVersion: 5}
}

// FS returns the set's migration files (NNNNN_name.sql at the root).
func (s *Set) FS() fs.FS {
	sub, err := fs.Sub(migrationFiles, s.dir)
	if err != nil {
		// fs.Sub fails only for an invalid path, and dir is a constant.
		panic(fmt.Sprintf("schema: set %q: %v", s.Name, err))
	}
	return sub
}

// Up applies every pending migration of s to the database named by dsn.
func Up(ctx context.Context, dsn string, s *Set) error {
	return withProvider(ctx, dsn, s, func(p *goose.Provider) error {
		if _, err := p.Up(ctx); err != nil {
			return fmt.Errorf("migrate %s up: %w", s.Name, err)
		}
		return nil
	})
}

// DownTo rolls s back, one migration at a time, until version is the latest
// applied one; version 0 undoes every migration of the set.
func DownTo(ctx context.Context, dsn string, s *Set, version int64) error {
	return withProvider(ctx, dsn, s, func(p *goose.Provider) error {
		if _, err := p.DownTo(ctx, version); err != nil {
			return fmt.Errorf("migrate %s down to %d: %w", s.Name, version, err)
		}
		return nil
	})
}

// Down rolls back the latest applied migration of s.
func Down(ctx context.Context, dsn string, s *Set) error {
	return withProvider(ctx, dsn, s, func(p *goose.Provider) error {
		if _, err := p.Down(ctx); err != nil {
			return fmt.Errorf("migrate %s down: %w", s.Name, err)
		}
		return nil
	})
}

// Version returns the latest applied migration version of s (0 when none).
func Version(ctx context.Context, dsn string, s *Set) (int64, error) {
	var v int64
	err := withProvider(ctx, dsn, s, func(p *goose.Provider) error {
		var err error
		v, err = p.GetDBVersion(ctx)
		if err != nil {
			return fmt.Errorf("migration %s version: %w", s.Name, err)
		}
		return nil
	})
	return v, err
}

// Status writes one line per migration of s to w: whether it is applied and when.
func Status(ctx context.Context, dsn string, s *Set, w io.Writer) error {
	return withProvider(ctx, dsn, s, func(p *goose.Provider) error {
		st, err := p.Status(ctx)
		if err != nil {
			return fmt.Errorf("migration %s status: %w", s.Name, err)
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "SET\tMIGRATION\tSTATE\tAPPLIED AT\n")
		for _, m := range st {
			applied := "-"
			if m.State == goose.StateApplied {
				applied = m.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, m.Source.Path, m.State, applied)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("migration %s status: %w", s.Name, err)
		}
		return nil
	})
}

// Run carries out a service's `migrate ACTION` subcommand on s: "up"
// applies every pending migration, "down" rolls back the latest one, and
// "status" writes the state of each migration to w. Up and down are logged.
func Run(ctx context.Context, log *slog.Logger, dsn string, s *Set, action string, w io.Writer) error {
	switch action {
	case "up":
		if err := Up(ctx, dsn, s); err != nil {
			return err
		}
		log.InfoContext(ctx, "migrations applied", slog.String("set", s.Name))
		return nil
	case "down":
		if err := Down(ctx, dsn, s); err != nil {
			return err
		}
		log.InfoContext(ctx, "latest migration rolled back", slog.String("set", s.Name))
		return nil
	case "status":
		return Status(ctx, dsn, s, w)
	default:
		return fmt.Errorf("unknown migrate action %q (want up, down or status)", action)
	}
}

// withProvider opens a database/sql handle on dsn, builds a goose provider for
// s on it, runs fn and closes both.
func withProvider(ctx context.Context, dsn string, s *Set, fn func(*goose.Provider) error) error {
	cfg, err := pgdb.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", s.Name, err)
	}
	// The pool's statement_timeout is for service queries; a migration may run
	// longer, and ParseConfig already keeps it out of the startup parameters.
	db := stdlib.OpenDB(*cfg.Pool.ConnConfig)
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("migrate %s: connect: %w", s.Name, err)
	}

	store, err := database.NewStore(database.DialectPostgres, s.VersionTable)
	if err != nil {
		return fmt.Errorf("migrate %s: version store: %w", s.Name, err)
	}
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(s.lockID), lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("migrate %s: locker: %w", s.Name, err)
	}
	p, err := goose.NewProvider(goose.DialectCustom, db, s.FS(),
		goose.WithStore(store),
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
		goose.WithGoMigrations(riverMigration(s.riverVersion, s.RiverSchema)),
	)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", s.Name, err)
	}
	defer p.Close()
	return fn(p)
}
