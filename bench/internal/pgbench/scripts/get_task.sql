-- GetTask's SQL as the task store sends it: one pipelined round trip, one
-- implicit transaction: the per-transaction settings (statement timeout and
-- row-level security user), then the primary-key SELECT. The task is a
-- random seeded one and the user its creator (dataset.Layout.Creator).
{{creator}}
\startpipeline
SELECT set_config(s.name, s.value, true) FROM unnest('{statement_timeout,app.user_id,app.is_admin}'::text[], ARRAY['60000', :uid::text, 'false']) AS s(name, value);
SELECT id, title, coalesce(description, ''), status, priority, due_date, created_by,
	coalesce(assigned_to, 0), created_at, updated_at, completed_at, version FROM task WHERE id = :id;
\endpipeline
