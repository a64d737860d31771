-- One least-privilege runtime role per service (issue 12, docs/security.md):
-- the NOLOGIN group todo_user_svc gets what the user service uses, and the
-- shared group todo_app loses it. The user service's login role is a member
-- of todo_user_svc only; it has nothing on the task set's tables.
--
-- todo_user_svc may:
--   "user"                  SELECT, INSERT, UPDATE (no DELETE: users are deactivated)
--   user_id_seq             USAGE (nextval before the insert, see 00005)
--   user_session            SELECT, INSERT, UPDATE, DELETE
--   login_throttle          SELECT, INSERT, UPDATE, DELETE
--   user_audit_event        SELECT, INSERT (append-only), its sequence USAGE
--   audit_maintain(…)       EXECUTE
--   schema river_user       what River's client needs (as River's migration gave todo_app)
--
-- todo_app keeps its EXECUTE on audit_maintain until the task set's 00007,
-- which moves the task service off it; the task set migrates after this one.
-- Roles are cluster-wide: todo_user_svc is created only when missing and
-- kept by the down step (as todo_app is by 00001).

-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'todo_user_svc') THEN
        CREATE ROLE todo_user_svc NOLOGIN;
    END IF;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN
        NULL;
END
$$;
-- +goose StatementEnd

GRANT SELECT, INSERT, UPDATE ON "user" TO todo_user_svc;
GRANT USAGE ON SEQUENCE user_id_seq TO todo_user_svc;
GRANT SELECT, INSERT, UPDATE, DELETE ON user_session TO todo_user_svc;
GRANT SELECT, INSERT, UPDATE, DELETE ON login_throttle TO todo_user_svc;
GRANT SELECT, INSERT ON user_audit_event TO todo_user_svc;
GRANT USAGE ON SEQUENCE user_audit_event_id_seq TO todo_user_svc;
GRANT EXECUTE ON FUNCTION audit_maintain(regclass, integer, integer) TO todo_user_svc;
GRANT USAGE ON SCHEMA river_user TO todo_user_svc;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA river_user TO todo_user_svc;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA river_user TO todo_user_svc;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA river_user TO todo_user_svc;

REVOKE ALL ON "user" FROM todo_app;
REVOKE ALL ON SEQUENCE user_id_seq FROM todo_app;
REVOKE ALL ON user_session FROM todo_app;
REVOKE ALL ON login_throttle FROM todo_app;
REVOKE ALL ON user_audit_event FROM todo_app;
REVOKE ALL ON SEQUENCE user_audit_event_id_seq FROM todo_app;
REVOKE ALL ON ALL TABLES IN SCHEMA river_user FROM todo_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA river_user FROM todo_app;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA river_user FROM todo_app;
REVOKE ALL ON SCHEMA river_user FROM todo_app;

-- +goose Down
GRANT SELECT, INSERT, UPDATE ON "user" TO todo_app;
GRANT USAGE ON SEQUENCE user_id_seq TO todo_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON user_session TO todo_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON login_throttle TO todo_app;
GRANT SELECT, INSERT ON user_audit_event TO todo_app;
GRANT USAGE ON SEQUENCE user_audit_event_id_seq TO todo_app;
GRANT USAGE ON SCHEMA river_user TO todo_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA river_user TO todo_app;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA river_user TO todo_app;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA river_user TO todo_app;

REVOKE ALL ON "user" FROM todo_user_svc;
REVOKE ALL ON SEQUENCE user_id_seq FROM todo_user_svc;
REVOKE ALL ON user_session FROM todo_user_svc;
REVOKE ALL ON login_throttle FROM todo_user_svc;
REVOKE ALL ON user_audit_event FROM todo_user_svc;
REVOKE ALL ON SEQUENCE user_audit_event_id_seq FROM todo_user_svc;
REVOKE ALL ON FUNCTION audit_maintain(regclass, integer, integer) FROM todo_user_svc;
REVOKE ALL ON ALL TABLES IN SCHEMA river_user FROM todo_user_svc;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA river_user FROM todo_user_svc;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA river_user FROM todo_user_svc;
REVOKE ALL ON SCHEMA river_user FROM todo_user_svc;
