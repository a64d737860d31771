-- idx_tasks_deleted_at (issue 17's soft delete, migration 00009): partial
-- on the deleted rows only, it serves the purge (task_purge) without
-- growing with the live tasks. Built CONCURRENTLY, outside a transaction,
-- so that writes to the task table go on while it is built
-- (docs/migrations.md). If a build fails halfway PostgreSQL leaves an
-- INVALID index: drop it (DROP INDEX CONCURRENTLY) and migrate again.

-- +goose NO TRANSACTION
-- +goose Up
SET lock_timeout = '5s';
SET statement_timeout = '0';
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_tasks_deleted_at ON task (deleted_at) WHERE deleted_at IS NOT NULL;

-- +goose Down
SET lock_timeout = '5s';
SET statement_timeout = '0';
DROP INDEX CONCURRENTLY IF EXISTS idx_tasks_deleted_at;
