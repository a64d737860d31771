package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// urlOfRun runs withpg on a shell script that gets the URL file as $1 and
// returns withpg's exit code and the URL the script saw.
func urlOfRun(t *testing.T, script string) (int, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "url")
	code := run([]string{"--", "sh", "-c", `printf %s "$TODO_TEST_PG_URL" > "$1"; ` + script, "sh", file})
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("the command did not run: %v", err)
	}
	return code, string(b)
}

func assertStopped(t *testing.T, url string) {
	t.Helper()
	if conn, err := pgx.Connect(context.Background(), url); err == nil {
		conn.Close(context.Background())
		t.Errorf("cluster %s still accepts connections after withpg returned", url)
	}
}

func TestRun_PassesURLAndExitStatus(t *testing.T) {
	code, url := urlOfRun(t, `psql "$TODO_TEST_PG_URL" -Atc 'SELECT 1' >/dev/null || exit 9; exit 3`)
	if code != 3 {
		t.Errorf("exit code = %d, want the command's 3 (9: could not query the cluster)", code)
	}
	if !strings.HasPrefix(url, "postgres://postgres@/postgres?host=") {
		t.Errorf("TODO_TEST_PG_URL = %q, want a superuser URL naming the cluster's socket directory", url)
	}
	assertStopped(t, url)
}

func TestRun_InterruptStopsCommandAndCluster(t *testing.T) {
	// The script interrupts withpg (this process), which must pass the
	// signal on to the command and then stop the cluster.
	code, url := urlOfRun(t, `kill -INT `+strconv.Itoa(os.Getpid())+`; exec sleep 60`)
	if code != 130 {
		t.Errorf("exit code = %d, want 130 (command ended by SIGINT)", code)
	}
	assertStopped(t, url)
}

func TestRun_Usage(t *testing.T) {
	if code := run([]string{"--"}); code != 2 {
		t.Errorf("run without a command = %d, want 2", code)
	}
}
