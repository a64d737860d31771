package proctest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/todo-platform/todo/pkg/proc"
	"github.com/todo-platform/todo/pkg/proctest"
)

// recorder is a testing.TB that collects cleanups, errors and logs instead
// of acting on them, so that a test can run NewServer's cleanup and look at
// what it reported.
type recorder struct {
	testing.TB
	cleanups []func()
	errors   []string
	logs     []string
}

func (r *recorder) Helper()          {}
func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Failed() bool     { return len(r.errors) > 0 }
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recorder) Logf(format string, args ...any) {
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

// end runs the cleanups, last registered first, as the testing package does.
func (r *recorder) end() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

// shell is a server Spec of a shell script that traps SIGTERM with
// onTERM, then writes its listen address to stderr and creates the file
// ready; Ready waits for that file.
func shell(ready, onTERM string) proc.Spec {
	script := `trap '` + onTERM + `' TERM; echo "listening on $GRPC_ADDR" >&2; : > "$READY"; while :; do sleep 0.05; done`
	return proc.Spec{
		Name: "sh", Path: "/bin/sh", Args: []string{"-c", script}, Env: []string{"READY=" + ready}, AddrEnv: "GRPC_ADDR",
		Ready: func(context.Context, string) error {
			_, err := os.Stat(ready)
			return err
		},
	}
}

func TestNewServer_CleanupStopsTheProcess(t *testing.T) {
	r := &recorder{TB: t}
	p := proctest.Serve(r, shell(filepath.Join(t.TempDir(), "ready"), "exit 0"))
	if !p.Running() {
		t.Fatalf("the script is not running:\n%s", p.Logs())
	}
	r.end()
	if p.Running() {
		t.Error("the process still runs after the test's cleanup")
	}
	if len(r.errors) != 0 || len(r.logs) != 0 {
		t.Errorf("a clean stop reported errors %q and logs %q", r.errors, r.logs)
	}
}

func TestNewServer_CleanupFailsOnANonZeroExitAndPrintsTheOutput(t *testing.T) {
	r := &recorder{TB: t}
	ready := filepath.Join(t.TempDir(), "ready")
	srv := proctest.NewServer(r, shell(ready, "exit 3"))
	srv.Start(r)
	_ = srv.Process().Stop(proctest.StopTimeout) // exits 3: expected here
	if err := os.Remove(ready); err != nil {
		t.Fatal(err)
	}
	srv.Start(r)
	r.end()
	if len(r.errors) != 1 || !strings.Contains(r.errors[0], "exit status 3") {
		t.Errorf("errors %q, want one naming exit status 3", r.errors)
	}
	if len(r.logs) != 2 || !strings.Contains(r.logs[0], "sh (start 1 of 2)") || !strings.Contains(r.logs[1], "sh (start 2 of 2)") ||
		!strings.Contains(r.logs[1], "listening on fd:3") {
		t.Errorf("logs %q, want the output of both starts", r.logs)
	}
}
