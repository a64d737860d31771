-- The audit log of the user service, partitioned by month, and the partition
-- functions both services' audit tables use (see docs/audit.md).
--
-- user_audit_event: one row per sensitive operation on accounts (sign-up,
-- sign-in success and failure, refresh-token reuse, logout, password and
-- profile changes, activation, admin creation), inserted by the user store
-- in the same transaction as the change it records. The services' runtime
-- role may INSERT and SELECT, never UPDATE, DELETE or TRUNCATE.
--
-- Partitions are named <table>_yYYYYmMM and cover one calendar month in UTC,
-- [first instant of the month, first instant of the next). There is no
-- default partition: a row for a month without a partition fails, and so
-- does the change it belongs to. audit_maintain creates the current month's
-- and the next ones, and detaches and drops the months older than the
-- retention; it is SECURITY DEFINER (the runtime role owns nothing and
-- cannot create tables), works only on the audit tables, uses now(), and
-- refuses a retention under 12 months, so a runtime role cannot erase
-- recent history through it.

-- +goose Up

-- audit_partition_create creates the partition of parent for the UTC month
-- of at, unless it exists, and returns its name.
-- +goose StatementBegin
-- Applied before migrations were linted (squawk); new migrations set lock_timeout and statement_timeout first (docs/migrations.md).
-- squawk-ignore require-lock-timeout, require-statement-timeout
CREATE FUNCTION audit_partition_create(parent regclass, at timestamptz) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    lo   timestamp := date_trunc('month', at AT TIME ZONE 'UTC');
    hi   timestamp := lo + interval '1 month';
    nsp  text;
    rel  text;
    name text;
BEGIN
    SELECT n.nspname, c.relname INTO nsp, rel
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = parent;
    name := rel || '_y' || to_char(lo, 'YYYY') || 'm' || to_char(lo, 'MM');
    IF to_regclass(format('%I.%I', nsp, name)) IS NULL THEN
        BEGIN
            EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                           nsp, name, parent, to_char(lo, 'YYYY-MM-DD') || ' 00:00:00+00',
                           to_char(hi, 'YYYY-MM-DD') || ' 00:00:00+00');
        EXCEPTION WHEN duplicate_table OR unique_violation THEN
            NULL; -- made by a concurrent call
        END;
    END IF;
    RETURN name;
END
$$;
-- +goose StatementEnd

-- audit_partitions_drop detaches and drops the partitions of parent whose
-- whole month ended keep_months or more before at, and returns their names.
-- +goose StatementBegin
CREATE FUNCTION audit_partitions_drop(parent regclass, keep_months integer, at timestamptz) RETURNS SETOF text
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    cutoff timestamp := (at AT TIME ZONE 'UTC') - make_interval(months => keep_months);
    part   record;
    hi     timestamp;
BEGIN
    FOR part IN
        SELECT c.oid::regclass AS rel, c.relname,
               substring(c.relname FROM '_y([0-9]{4})m[0-9]{2}$')::integer AS y,
               substring(c.relname FROM '_y[0-9]{4}m([0-9]{2})$')::integer AS m
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = parent AND c.relname ~ '_y[0-9]{4}m[0-9]{2}$'
         ORDER BY c.relname
    LOOP
        hi := make_timestamp(part.y, part.m, 1, 0, 0, 0) + interval '1 month';
        IF hi <= cutoff THEN
            EXECUTE format('ALTER TABLE %s DETACH PARTITION %s', parent, part.rel);
            EXECUTE format('DROP TABLE %s', part.rel);
            RETURN NEXT part.relname;
        END IF;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- audit_maintain is what the services' periodic job and migrate call: it
-- makes the partitions of parent for this month and the next months_ahead
-- ones, then drops those older than keep_months (at least 12). It returns
-- the names of the partitions it dropped.
-- +goose StatementBegin
CREATE FUNCTION audit_maintain(parent regclass, months_ahead integer, keep_months integer) RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    IF parent IS DISTINCT FROM to_regclass('public.user_audit_event')
       AND parent IS DISTINCT FROM to_regclass('public.task_audit_event') THEN
        RAISE EXCEPTION 'audit_maintain: % is not an audit table', parent USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF keep_months IS NULL OR keep_months < 12 THEN
        RAISE EXCEPTION 'audit_maintain: keep_months must be at least 12, got %', keep_months USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF months_ahead IS NULL OR months_ahead < 1 OR months_ahead > 24 THEN
        RAISE EXCEPTION 'audit_maintain: months_ahead must be within 1..24, got %', months_ahead USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR i IN 0..months_ahead LOOP
        PERFORM audit_partition_create(parent, now() + make_interval(months => i));
    END LOOP;
    RETURN QUERY SELECT audit_partitions_drop(parent, keep_months, now());
END
$$;
-- +goose StatementEnd

-- Functions are executable by PUBLIC unless revoked: only the owner may call
-- the two building blocks, todo_app only the checked entry point.
REVOKE ALL ON FUNCTION audit_partition_create(regclass, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION audit_partitions_drop(regclass, integer, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION audit_maintain(regclass, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_maintain(regclass, integer, integer) TO todo_app;

-- actor_kind: 'user' (actor_id is the user), 'operator' (a person at the
-- command line: admin create, or SQL run outside the services) or 'system'
-- (the services' own jobs). db_user is the database role that wrote the row.
CREATE SEQUENCE user_audit_event_id_seq AS bigint;
CREATE TABLE user_audit_event (
    id          bigint      NOT NULL DEFAULT nextval('user_audit_event_id_seq'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    actor_kind  text        NOT NULL,
    actor_id    bigint,
    action      text        NOT NULL,
    target_kind text        NOT NULL,
    target_id   bigint,
    request_id  text,
    client_addr text,
    db_user     text        NOT NULL DEFAULT session_user,
    change      jsonb       NOT NULL DEFAULT '{}',
    CONSTRAINT user_audit_event_pkey PRIMARY KEY (created_at, id),
    CONSTRAINT user_audit_event_actor_kind_check CHECK (actor_kind IN ('user', 'operator', 'system'))
) PARTITION BY RANGE (created_at);
ALTER SEQUENCE user_audit_event_id_seq OWNED BY user_audit_event.id;

-- A target's history and an actor's, newest first.
CREATE INDEX idx_user_audit_event_target ON user_audit_event (target_kind, target_id, created_at, id);
CREATE INDEX idx_user_audit_event_actor ON user_audit_event (actor_id, created_at, id) WHERE actor_id IS NOT NULL;

-- Append-only for the services: no UPDATE, DELETE or TRUNCATE. Issue 12
-- splits todo_app into one role per service; these grants then move to the
-- user service's role.
GRANT SELECT, INSERT ON user_audit_event TO todo_app;
GRANT USAGE ON SEQUENCE user_audit_event_id_seq TO todo_app;

SELECT audit_maintain('user_audit_event', 3, 13);

-- +goose Down
-- Down step: drops the table this migration's up step created.
-- squawk-ignore ban-drop-table
DROP TABLE user_audit_event;
DROP FUNCTION audit_maintain(regclass, integer, integer);
DROP FUNCTION audit_partitions_drop(regclass, integer, timestamptz);
DROP FUNCTION audit_partition_create(regclass, timestamptz);
