package schema

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivermigrate"
)

// RiverTargetVersion is the version of River's own migrations (line "main")
// that a set's River migration applies. A River upgrade that brings new
// migrations gets a new goose migration that moves to the new version.
const RiverTargetVersion = 8

// riverMigration is the goose migration, at version, that creates the River
// schema riverSchema and its tables (River's migrations up to
// RiverTargetVersion), and grants todo_app the use of them: River's client
// inserts, locks, updates and deletes its rows and calls its functions. The
// set's 00006 migration then moves these grants to the set's own group
// (Set.Role) and its down step moves them back; this migration keeps
// granting todo_app, as it did when it was first applied, so that a
// database migrated then and one migrated now go through the same states.
// A later River upgrade migration grants Set.Role directly. Its
// down step removes River's tables and the schema. It runs outside a
// transaction (River applies each of its migrations in one of its own: some
// add enum values that the next statements use), so each step is written to
// be run again after a failure part-way.
func riverMigration(version int64, riverSchema string) *goose.Migration {
	schemaID := pgx.Identifier{riverSchema}.Sanitize()
	migrator := func(db *sql.DB) (*rivermigrate.Migrator[*sql.Tx], error) {
		m, err := rivermigrate.New(riverdatabasesql.New(db), &rivermigrate.Config{
			Schema: riverSchema,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			return nil, fmt.Errorf("river migrator for %s: %w", riverSchema, err)
		}
		return m, nil
	}
	up := func(ctx context.Context, db *sql.DB) error {
		if _, err := db.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+schemaID); err != nil {
			return fmt.Errorf("create schema %s: %w", riverSchema, err)
		}
		m, err := migrator(db)
		if err != nil {
			return err
		}
		if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, &rivermigrate.MigrateOpts{TargetVersion: RiverTargetVersion}); err != nil {
			return fmt.Errorf("river migrations in %s: %w", riverSchema, err)
		}
		for _, q := range []string{
			"GRANT USAGE ON SCHEMA " + schemaID + " TO " + AppRole,
			"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA " + schemaID + " TO " + AppRole,
			"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA " + schemaID + " TO " + AppRole,
			"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA " + schemaID + " TO " + AppRole,
		} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("grant %s the use of %s: %w", AppRole, riverSchema, err)
			}
		}
		return nil
	}
	down := func(ctx context.Context, db *sql.DB) error {
		m, err := migrator(db)
		if err != nil {
			return err
		}
		if _, err := m.Migrate(ctx, rivermigrate.DirectionDown, &rivermigrate.MigrateOpts{TargetVersion: -1}); err != nil {
			return fmt.Errorf("river migrations down in %s: %w", riverSchema, err)
		}
		for _, q := range []string{
			"REVOKE ALL ON SCHEMA " + schemaID + " FROM " + AppRole,
			"DROP SCHEMA " + schemaID,
		} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("drop schema %s: %w", riverSchema, err)
			}
		}
		return nil
	}
	return goose.NewGoMigration(version, &goose.GoFunc{RunDB: up}, &goose.GoFunc{RunDB: down})
}
