-- ListTasks' SQL for the first page in the default order (created_at desc)
-- without filters, as the task store sends it for a user who is not an
-- admin: the settings, then the union of the tasks the user created and the
-- tasks the user is assigned, each index-ordered and limited; :limit is the
-- page size plus one. The user is a random heavy user, as in the driver's
-- ListTasks cases.
\set uid random(:heavy_first, :users)
\startpipeline
SELECT set_config(s.name, s.value, true) FROM unnest('{statement_timeout,app.user_id,app.is_admin}'::text[], ARRAY['60000', :uid::text, 'false']) AS s(name, value);
SELECT id, title, coalesce(description, ''), status, priority, due_date, created_by,
	coalesce(assigned_to, 0), created_at, updated_at, completed_at, version FROM (
    (SELECT * FROM task WHERE created_by = :uid::bigint AND TRUE ORDER BY created_at DESC, id DESC LIMIT :limit::bigint)
    UNION ALL
    (SELECT * FROM task WHERE assigned_to = :uid::bigint AND created_by <> :uid::bigint AND TRUE ORDER BY created_at DESC, id DESC LIMIT :limit::bigint)
) AS task
ORDER BY created_at DESC, id DESC LIMIT :limit::bigint;
\endpipeline
