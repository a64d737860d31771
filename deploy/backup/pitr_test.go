package backup_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/todo-platform/todo/pkg/pgcluster"
	"github.com/todo-platform/todo/pkg/schema"
)

// TestPITR_RestoresExactlyTheTasksWrittenBeforeTheTarget follows
// README.md's self-hosted procedure on a real PostgreSQL with continuous
// WAL archiving (archive.conf's settings): a base backup with
// basebackup.sh, tasks written, the time recorded, more tasks written; then
// restore.sh into a new cluster at the recorded time, which must hold
// exactly the first tasks. basebackup.sh's retention drops a backup older
// than seven days and keeps the new one.
func TestPITR_RestoresExactlyTheTasksWrittenBeforeTheTarget(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	root, cred := ownedDir(t)
	archive, backups := filepath.Join(root, "wal-archive"), filepath.Join(root, "backups")
	for _, d := range []string{archive, backups, filepath.Join(backups, "20200101T000000Z")} {
		mkdirOwned(t, d, cred)
	}

	src, err := pgcluster.Start(ctx, "wal_level=replica", "archive_mode=on",
		fmt.Sprintf("archive_command=test ! -f %[1]s/%%f && cp %%p %[1]s/%%f", archive))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Stop() })
	for _, s := range []*schema.Set{schema.User(), schema.Task()} {
		if err := schema.Up(ctx, src.URL(), s); err != nil {
			t.Fatal(err)
		}
	}
	db := connect(t, src.URL())
	var owner int64
	if err := db.QueryRow(ctx, `INSERT INTO "user" (email, username, password_hash) VALUES ('ann@example.com', 'ann', 'x') RETURNING id`).Scan(&owner); err != nil {
		t.Fatal(err)
	}

	bin, err := pgcluster.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"BACKUP_DSN=" + src.URL(), "BACKUP_DIR=" + backups, "WAL_ARCHIVE_DIR=" + archive, "PG_BINDIR=" + bin}
	runScript(t, cred, env, "basebackup.sh")
	entries, err := os.ReadDir(backups)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() == "20200101T000000Z" {
		t.Fatalf("backups after basebackup.sh = %v, want only the new one (the 2020 one is past the 7-day retention)", entries)
	}
	backup := filepath.Join(backups, entries[0].Name())

	// Each insert commits on its own, so each has its own commit time.
	insert := func(titles ...string) {
		for _, title := range titles {
			if _, err := db.Exec(ctx, `INSERT INTO task (title, created_by) VALUES ($1, $2)`, title, owner); err != nil {
				t.Fatal(err)
			}
		}
	}
	before := []string{"before 1", "before 2", "before 3"}
	insert(before...)
	// The recorded time: after the last commit of the first set, before
	// the first of the second (its commits come later by this order).
	var target time.Time
	if err := db.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&target); err != nil {
		t.Fatal(err)
	}
	insert("after 1", "after 2")

	// Everything written so far reaches the archive.
	var last string
	if err := db.QueryRow(ctx, `SELECT pg_walfile_name(pg_switch_wal())`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		var archived *string
		if err := db.QueryRow(ctx, `SELECT last_archived_wal FROM pg_stat_archiver`).Scan(&archived); err != nil {
			t.Fatal(err)
		}
		if archived != nil && *archived >= last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("WAL segment %s not archived within a minute (last archived: %v)", last, archived)
		}
		time.Sleep(50 * time.Millisecond)
	}

	at := target.UTC().Format("2006-01-02 15:04:05.999999-07")
	restored, err := pgcluster.StartFrom(ctx, func(data string, cred *syscall.Credential) error {
		return script(cred, env, "restore.sh", backup, data, at).Run()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { restored.Stop() })
	rdb := connect(t, restored.URL())
	deadline = time.Now().Add(time.Minute)
	for {
		var recovering bool
		if err := rdb.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&recovering); err != nil {
			t.Fatal(err)
		}
		if !recovering {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the restored cluster was still recovering after a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
	rows, err := rdb.Query(ctx, `SELECT title FROM task ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, got); diff != "" {
		t.Errorf("tasks restored to %s (-want +got):\n%s", at, diff)
	}
	// The restored cluster is promoted: it takes writes.
	if _, err := rdb.Exec(ctx, `INSERT INTO task (title, created_by) VALUES ('after the restore', $1)`, owner); err != nil {
		t.Errorf("write to the restored cluster: %v", err)
	}
}

// ownedDir returns a temporary directory that the postgres OS user owns
// when the test runs as root (the scripts and PostgreSQL run as that user),
// and that credential (nil otherwise).
func ownedDir(t *testing.T) (string, *syscall.Credential) {
	t.Helper()
	dir, err := os.MkdirTemp("", "pitr-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cred := postgresCredential(t)
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	return dir, cred
}

func mkdirOwned(t *testing.T, dir string, cred *syscall.Credential) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
}

// postgresCredential is the postgres OS user's, when running as root.
func postgresCredential(t *testing.T) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	out, err := exec.Command("id", "-u", "postgres").Output()
	if err != nil {
		t.Fatalf("running as root, the scripts run as the postgres OS user: %v", err)
	}
	gout, err := exec.Command("id", "-g", "postgres").Output()
	if err != nil {
		t.Fatal(err)
	}
	var uid, gid uint32
	fmt.Sscan(string(out), &uid)
	fmt.Sscan(string(gout), &gid)
	return &syscall.Credential{Uid: uid, Gid: gid}
}

// script returns the command running this folder's script name with args,
// as cred's user, with env added to this process's environment.
func script(cred *syscall.Credential, env []string, name string, args ...string) *exec.Cmd {
	// The test runs in this folder; as another user, by absolute path.
	path, _ := filepath.Abs(name)
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = os.TempDir()
	return cmd
}

func runScript(t *testing.T, cred *syscall.Credential, env []string, name string, args ...string) {
	t.Helper()
	out, err := script(cred, env, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
	t.Logf("%s:\n%s", name, out)
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}
