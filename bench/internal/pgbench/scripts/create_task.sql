-- CreateTask's SQL (without a request_id) as the task store sends it: the
-- settings, then the INSERT … RETURNING, pipelined in one implicit
-- transaction, as the creator of a random seeded task.
{{creator}}
\startpipeline
SELECT set_config(s.name, s.value, true) FROM unnest('{statement_timeout,app.user_id,app.is_admin}'::text[], ARRAY['60000', :uid::text, 'false']) AS s(name, value);
INSERT INTO task (title, description, status, priority, due_date, created_by, completed_at)
VALUES ('Prepare the quarterly report'::text, nullif('Made by pgbench for the benchmark'::text, ''), 'pending'::text, 'high'::text,
        now() + interval '7 days', :uid::bigint, CASE WHEN 'pending'::text = 'completed' THEN now() END)
RETURNING id, title, coalesce(description, ''), status, priority, due_date, created_by,
	coalesce(assigned_to, 0), created_at, updated_at, completed_at, version;
\endpipeline
