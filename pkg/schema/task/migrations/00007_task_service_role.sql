-- One least-privilege runtime role per service (issue 12, docs/security.md):
-- the NOLOGIN group todo_task_svc gets what the task service uses, and the
-- shared group todo_app loses it (the user set's 00006 took the rest).
--
-- The task service reads no column of "user", user_session or
-- login_throttle: it asks the user service over gRPC for assignees, and the
-- foreign keys task_created_by_fkey / task_assigned_to_fkey are checked by
-- PostgreSQL as the owner of "user", not as the caller. So todo_task_svc has
-- no privilege at all on the user set's tables.
--
-- todo_task_svc may:
--   task                    SELECT, INSERT, DELETE; UPDATE of the columns
--                           the store writes (never id, created_by, created_at)
--   task_request            SELECT, INSERT, DELETE; UPDATE (task_id)
--   task_audit_event        SELECT, INSERT (append-only, written by the
--                           trigger task_audit as the caller), its sequence USAGE
--   task_request_sweep(…)   EXECUTE
--   audit_maintain(…)       EXECUTE
--   schema river_task       what River's client needs
--
-- After this migration todo_app has no privilege left in the database; the
-- role itself is kept (roles are cluster-wide), and so is todo_task_svc on
-- the way down.

-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'todo_task_svc') THEN
        CREATE ROLE todo_task_svc NOLOGIN;
    END IF;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN
        NULL;
END
$$;
-- +goose StatementEnd

GRANT SELECT, INSERT, DELETE ON task TO todo_task_svc;
GRANT UPDATE (title, description, status, priority, due_date, assigned_to, updated_at, completed_at, version)
    ON task TO todo_task_svc;
GRANT SELECT, INSERT, DELETE ON task_request TO todo_task_svc;
GRANT UPDATE (task_id) ON task_request TO todo_task_svc;
GRANT SELECT, INSERT ON task_audit_event TO todo_task_svc;
GRANT USAGE ON SEQUENCE task_audit_event_id_seq TO todo_task_svc;
GRANT EXECUTE ON FUNCTION task_request_sweep(interval) TO todo_task_svc;
GRANT EXECUTE ON FUNCTION audit_maintain(regclass, integer, integer) TO todo_task_svc;
GRANT USAGE ON SCHEMA river_task TO todo_task_svc;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA river_task TO todo_task_svc;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA river_task TO todo_task_svc;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA river_task TO todo_task_svc;

-- REVOKE ALL on a table revokes its column privileges too.
REVOKE ALL ON task FROM todo_app;
REVOKE ALL ON task_request FROM todo_app;
REVOKE ALL ON task_audit_event FROM todo_app;
REVOKE ALL ON SEQUENCE task_audit_event_id_seq FROM todo_app;
REVOKE ALL ON FUNCTION task_request_sweep(interval) FROM todo_app;
REVOKE ALL ON FUNCTION audit_maintain(regclass, integer, integer) FROM todo_app;
REVOKE ALL ON ALL TABLES IN SCHEMA river_task FROM todo_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA river_task FROM todo_app;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA river_task FROM todo_app;
REVOKE ALL ON SCHEMA river_task FROM todo_app;

-- +goose Down
GRANT SELECT, INSERT, DELETE ON task TO todo_app;
GRANT UPDATE (title, description, status, priority, due_date, assigned_to, updated_at, completed_at, version)
    ON task TO todo_app;
GRANT SELECT, INSERT, DELETE ON task_request TO todo_app;
GRANT UPDATE (task_id) ON task_request TO todo_app;
GRANT SELECT, INSERT ON task_audit_event TO todo_app;
GRANT USAGE ON SEQUENCE task_audit_event_id_seq TO todo_app;
GRANT EXECUTE ON FUNCTION task_request_sweep(interval) TO todo_app;
GRANT EXECUTE ON FUNCTION audit_maintain(regclass, integer, integer) TO todo_app;
GRANT USAGE ON SCHEMA river_task TO todo_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA river_task TO todo_app;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA river_task TO todo_app;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA river_task TO todo_app;

REVOKE ALL ON task FROM todo_task_svc;
REVOKE ALL ON task_request FROM todo_task_svc;
REVOKE ALL ON task_audit_event FROM todo_task_svc;
REVOKE ALL ON SEQUENCE task_audit_event_id_seq FROM todo_task_svc;
REVOKE ALL ON FUNCTION task_request_sweep(interval) FROM todo_task_svc;
REVOKE ALL ON FUNCTION audit_maintain(regclass, integer, integer) FROM todo_task_svc;
REVOKE ALL ON ALL TABLES IN SCHEMA river_task FROM todo_task_svc;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA river_task FROM todo_task_svc;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA river_task FROM todo_task_svc;
REVOKE ALL ON SCHEMA river_task FROM todo_task_svc;
