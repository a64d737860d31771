-- Full-text search over tasks (ListTasks' q) and batch creates
-- (BatchCreateTasks).
--
-- 1. task_document(config, title, description): the words of a task, the
--    title's with weight A, the description's with weight B, in a text
--    search configuration. Each text is cut at 100,000 characters, far
--    above what the service accepts, so that to_tsvector can never fail on
--    a row (its limit is 1 MB of words). It is PL/pgSQL, which PostgreSQL
--    never inlines, so queries and the index see this one function (whose
--    leakproofness, below, is what lets the index serve searches); every
--    name in it is schema-qualified, so no search_path can change it.
--
-- 2. idx_tasks_search: a GIN expression index on task_document('simple',
--    title, description). 'simple' lower-cases words and neither stems nor
--    drops stop words: right for every language, if not the best for any.
--    The task store writes the same expression with the configuration
--    TASK_SEARCH_CONFIG names; another configuration needs its own index
--    of the same shape, which docs/search.md gives.
--
-- 3. task_document and ts_match_vq (tsvector @@ tsquery) LEAKPROOF. Under
--    row-level security PostgreSQL evaluates a query's own conditions after
--    the policies' and uses one for an index scan only when every function
--    in it is marked leakproof: it cannot reveal anything about the rows it
--    sees but through its result. PostgreSQL marks neither, so without this
--    a search as the task service's role could never use idx_tasks_search
--    and would read every row the policies let through. Neither raises an
--    error that depends on a row's content (task_document cuts its input
--    for that reason), so neither leaks. Marking a function leakproof takes
--    a superuser; run by a role that is not one (a managed service's owner
--    role), the step is skipped with a warning and searches are answered
--    without the index (correct, slower). pg_dump keeps the mark of
--    task_document but not that of ts_match_vq, a built-in: after a restore
--    into a new cluster run the ALTER FUNCTION below again as a superuser
--    (docs/search.md).
--
-- 4. USAGE on the task id sequence for todo_task_svc: a batch create draws
--    its tasks' ids first (nextval) to return them in request order.

-- +goose Up
-- +goose StatementBegin
-- Applied before migrations were linted (squawk); new migrations set lock_timeout and statement_timeout first (docs/migrations.md).
-- squawk-ignore require-lock-timeout, require-statement-timeout
CREATE FUNCTION task_document(config regconfig, title text, description text) RETURNS tsvector
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN pg_catalog.setweight(pg_catalog.to_tsvector(config, pg_catalog.left(title, 100000)), 'A')
        OPERATOR(pg_catalog.||)
        pg_catalog.setweight(pg_catalog.to_tsvector(config, pg_catalog.left(coalesce(description, ''), 100000)), 'B');
END
$$;
-- +goose StatementEnd
GRANT EXECUTE ON FUNCTION task_document(regconfig, text, text) TO todo_task_svc;

-- Applied before migrations were linted; on a live table use CONCURRENTLY in a NO TRANSACTION migration (docs/migrations.md).
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX idx_tasks_search ON task USING gin (task_document('simple', title, description));

-- +goose StatementBegin
DO $$
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        ALTER FUNCTION task_document(regconfig, text, text) LEAKPROOF;
        ALTER FUNCTION pg_catalog.ts_match_vq(tsvector, tsquery) LEAKPROOF;
    ELSE
        RAISE WARNING 'not a superuser: task_document and ts_match_vq are not marked LEAKPROOF, so searches under row-level security cannot use idx_tasks_search (see docs/search.md)';
    END IF;
END
$$;
-- +goose StatementEnd

GRANT USAGE ON SEQUENCE task_id_seq TO todo_task_svc;

-- +goose Down
REVOKE USAGE ON SEQUENCE task_id_seq FROM todo_task_svc;

-- +goose StatementBegin
DO $$
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        ALTER FUNCTION pg_catalog.ts_match_vq(tsvector, tsquery) NOT LEAKPROOF;
    END IF;
END
$$;
-- +goose StatementEnd

-- Down step: drops the index this migration's up step created.
-- squawk-ignore require-concurrent-index-deletion
DROP INDEX idx_tasks_search;
DROP FUNCTION task_document(regconfig, text, text);
