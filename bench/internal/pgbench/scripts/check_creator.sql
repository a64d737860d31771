-- Fails (division by zero) unless the creator these scripts compute is the
-- seeded one. Run as a superuser (no row-level security).
{{creator}}
SELECT 1 / count(*) FROM task WHERE id = :id AND created_by = :uid;
