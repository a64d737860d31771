package dataset

import (
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/crypto/argon2"
	"golang.org/x/sync/errgroup"
)

// The user service's default argon2id parameters (OWASP's minimum): a hash
// made with them is verified at full cost and never rehashed on login.
const (
	argonMemoryKiB = 19456
	argonTime      = 2
	argonThreads   = 1
	argonKeyLen    = 32
	argonSaltLen   = 16
)

// PasswordHash returns the argon2id PHC string of password that the user
// service stores ($argon2id$v=19$m=19456,t=2,p=1$salt$key) with a random salt.
func PasswordHash(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := crand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemoryKiB, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// Username returns the username of user id; the email is Username(id) +
// "@bench.example".
func Username(id int64) string { return fmt.Sprintf("user%d", id) }

// Seed fills the freshly migrated, empty database at ownerURL (a superuser
// DSN) with l's users, all with password hash passwordHash, and tasks, the
// newest created just before now. It loads with COPY while foreign-key
// triggers are off (session_replication_role = replica: the rows are valid
// by construction), builds the task table's secondary indexes afterwards,
// moves the id sequences past the seeded ids, and VACUUMs and ANALYZEs both
// tables. progress is called with a line after each step.
func Seed(ctx context.Context, ownerURL string, l Layout, passwordHash string, now time.Time, progress func(string)) error {
	cfg, err := pgxpool.ParseConfig(ownerURL)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	cfg.MaxConns = 2
	cfg.ConnConfig.RuntimeParams["session_replication_role"] = "replica"
	cfg.ConnConfig.RuntimeParams["maintenance_work_mem"] = "256MB"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	defer pool.Close()

	var existing int64
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM "user") + (SELECT count(*) FROM task)`).Scan(&existing); err != nil {
		return fmt.Errorf("seed: count rows: %w", err)
	}
	if existing != 0 {
		return fmt.Errorf("seed: the database already has %d users and tasks; seed a fresh one", existing)
	}

	// Secondary indexes (not those behind constraints) are dropped during the
	// load and rebuilt from their own definitions: a sort per index is much
	// cheaper than a million index insertions each.
	rows, err := pool.Query(ctx, `
SELECT i.indexname, i.indexdef FROM pg_indexes i
WHERE i.schemaname = current_schema() AND i.tablename = 'task'
  AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conrelid = 'task'::regclass AND c.conname = i.indexname)
ORDER BY i.indexname`)
	if err != nil {
		return fmt.Errorf("seed: list task indexes: %w", err)
	}
	type index struct{ name, def string }
	indexes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (index, error) {
		var i index
		return i, r.Scan(&i.name, &i.def)
	})
	if err != nil {
		return fmt.Errorf("seed: list task indexes: %w", err)
	}
	for _, i := range indexes {
		if _, err := pool.Exec(ctx, "DROP INDEX "+pgx.Identifier{i.name}.Sanitize()); err != nil {
			return fmt.Errorf("seed: drop index %s: %w", i.name, err)
		}
	}

	start := time.Now()
	n, err := pool.CopyFrom(ctx, pgx.Identifier{"user"}, userColumns, newUserSource(l, passwordHash, now))
	if err != nil {
		return fmt.Errorf("seed: copy users: %w", err)
	}
	progress(fmt.Sprintf("copied %d users in %v", n, time.Since(start).Round(time.Millisecond)))

	start = time.Now()
	n, err = pool.CopyFrom(ctx, pgx.Identifier{"task"}, taskColumns, newTaskSource(l, now))
	if err != nil {
		return fmt.Errorf("seed: copy tasks: %w", err)
	}
	progress(fmt.Sprintf("copied %d tasks in %v", n, time.Since(start).Round(time.Millisecond)))

	start = time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2)
	for _, i := range indexes {
		g.Go(func() error {
			if _, err := pool.Exec(gctx, i.def); err != nil {
				return fmt.Errorf("seed: create index %s: %w", i.name, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	progress(fmt.Sprintf("built %d task indexes in %v", len(indexes), time.Since(start).Round(time.Millisecond)))

	start = time.Now()
	for _, q := range []string{
		`SELECT setval(pg_get_serial_sequence('"user"', 'id'), (SELECT max(id) FROM "user"))`,
		`SELECT setval(pg_get_serial_sequence('task', 'id'), (SELECT max(id) FROM task))`,
		`VACUUM (ANALYZE) "user"`,
		`VACUUM (ANALYZE) task`,
		`CHECKPOINT`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			return fmt.Errorf("seed: %s: %w", strings.Fields(q)[0], err)
		}
	}
	progress(fmt.Sprintf("vacuumed and analyzed in %v", time.Since(start).Round(time.Millisecond)))
	return nil
}

var userColumns = []string{"id", "email", "username", "password_hash", "full_name",
	"is_active", "is_verified", "is_admin", "created_at", "updated_at"}

// userSource yields l's users for COPY: every one active and verified,
// created over the year before now.
type userSource struct {
	l    Layout
	hash string
	now  time.Time
	id   int64
	vals []any
}

func newUserSource(l Layout, hash string, now time.Time) *userSource {
	return &userSource{l: l, hash: hash, now: now, vals: make([]any, len(userColumns))}
}

func (s *userSource) Next() bool { s.id++; return s.id <= s.l.Users }

func (s *userSource) Values() ([]any, error) {
	name := Username(s.id)
	created := s.now.Add(-365 * 24 * time.Hour).Add(time.Duration(s.id) * 365 * 24 * time.Hour / time.Duration(s.l.Users+1))
	v := s.vals
	v[0], v[1], v[2], v[3] = s.id, name+"@bench.example", name, s.hash
	v[4], v[5], v[6], v[7] = "Bench User "+name[4:], true, true, false
	v[8], v[9] = created, created
	return v, nil
}

func (s *userSource) Err() error { return nil }

var taskColumns = []string{"id", "title", "description", "status", "priority", "due_date",
	"created_by", "assigned_to", "created_at", "updated_at", "completed_at", "version"}

// taskSpan is how far back the oldest task was created.
const taskSpan = 2 * 365 * 24 * time.Hour

// taskSource yields l's tasks for COPY. Task ids grow with created_at, which
// spans the two years before now. The mix: 45% pending, 20% in progress,
// 35% completed; priority 25% low, 45% medium, 22% high, 8% urgent; 65%
// have a due date within 60 days of creation (so older open tasks are
// overdue); 20% are assigned to another user; 60% have a description.
type taskSource struct {
	l      Layout
	rng    *rand.Rand
	now    time.Time
	start  time.Time
	step   time.Duration
	id     int64
	vals   []any
	titles []string
	descs  []string
}

func newTaskSource(l Layout, now time.Time) *taskSource {
	rng := rand.New(rand.NewPCG(uint64(l.Tasks), 0x7461736b))
	return &taskSource{
		l: l, rng: rng, now: now,
		start:  now.Add(-taskSpan),
		step:   taskSpan / time.Duration(l.Tasks+1),
		vals:   make([]any, len(taskColumns)),
		titles: phrases(rng, 2048, 2, 7),
		descs:  phrases(rng, 2048, 8, 40),
	}
}

func (s *taskSource) Next() bool { s.id++; return s.id <= s.l.Tasks }

func (s *taskSource) Values() ([]any, error) {
	r := s.rng
	v := s.vals
	created := s.start.Add(time.Duration(s.id) * s.step).Add(time.Duration(r.Int64N(int64(s.step) + 1)))
	creator := s.l.Creator(s.id)

	var status string
	var completed any
	updated := created
	switch p := r.IntN(100); {
	case p < 45:
		status = "pending"
	case p < 65:
		status = "in_progress"
		updated = minTime(created.Add(time.Duration(r.Int64N(int64(7*24*time.Hour)))), s.now)
	default:
		status = "completed"
		c := minTime(created.Add(time.Duration(r.Int64N(int64(30*24*time.Hour)))), s.now)
		completed, updated = c, c
	}
	var priority string
	switch p := r.IntN(100); {
	case p < 25:
		priority = "low"
	case p < 70:
		priority = "medium"
	case p < 92:
		priority = "high"
	default:
		priority = "urgent"
	}
	var due any
	if r.IntN(100) < 65 {
		due = created.Add(time.Duration(1+r.Int64N(60)) * 24 * time.Hour).Truncate(time.Hour)
	}
	var assignee any
	if r.IntN(100) < 20 {
		a := 1 + r.Int64N(s.l.Users)
		if a == creator {
			a = a%s.l.Users + 1
		}
		assignee = a
	}
	var desc any
	if r.IntN(100) < 60 {
		desc = s.descs[r.IntN(len(s.descs))]
	}
	v[0], v[1], v[2], v[3], v[4], v[5] = s.id, s.titles[r.IntN(len(s.titles))], desc, status, priority, due
	v[6], v[7], v[8], v[9], v[10], v[11] = creator, assignee, created, updated, completed, int64(1)
	return v, nil
}

func (s *taskSource) Err() error { return nil }

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

var words = strings.Fields(`review update write fix plan call email draft prepare check send book
order clean test deploy refactor document design meet schedule archive merge release migrate
invoice budget report slides contract backlog sprint customer supplier team quarterly weekly
daily notes agenda roadmap feedback survey onboarding laptop server database backup dashboard
metrics alert incident ticket proposal estimate renewal license audit training workshop offsite
the a for with about before after and of to on new old final first next urgent small big`)

// phrases returns n random phrases of lo to hi words, the first capitalised.
func phrases(r *rand.Rand, n, lo, hi int) []string {
	out := make([]string, n)
	var b strings.Builder
	for i := range out {
		b.Reset()
		k := lo + r.IntN(hi-lo+1)
		for j := range k {
			w := words[r.IntN(len(words))]
			if j == 0 {
				w = strings.ToUpper(w[:1]) + w[1:]
			} else {
				b.WriteByte(' ')
			}
			b.WriteString(w)
		}
		out[i] = b.String()
	}
	return out
}

// Verify checks, on up to n tasks spread over the id range, that the
// database at url holds l's creators. It reads as whoever url names, so use
// a superuser (no row-level security).
func Verify(ctx context.Context, url string, l Layout, n int64) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("verify seed: %w", err)
	}
	defer conn.Close(ctx)
	step := max(1, l.Tasks/n)
	rows, err := conn.Query(ctx, `SELECT id, created_by FROM task WHERE id <= $1 AND id % $2 = 0 ORDER BY id`, l.Tasks, step)
	if err != nil {
		return fmt.Errorf("verify seed: %w", err)
	}
	var id, by int64
	var seen int64
	_, err = pgx.ForEachRow(rows, []any{&id, &by}, func() error {
		seen++
		if want := l.Creator(id); by != want {
			return fmt.Errorf("task %d was created by user %d, the layout says %d", id, by, want)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("verify seed: %w", err)
	}
	if want := l.Tasks / step; seen != want {
		return fmt.Errorf("verify seed: %d of %d sampled tasks found", seen, want)
	}
	return nil
}
