package cli

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func stderrFile(t *testing.T) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func contents(t *testing.T, f *os.File) string {
	t.Helper()
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMain_ExitStatusAndFailureLog(t *testing.T) {
	f := stderrFile(t)
	var got []string
	code := main("thing", func(_ context.Context, _ *slog.Logger, args []string) error {
		got = args
		return nil
	}, []string{"serve", "x"}, f)
	if code != 0 || strings.Join(got, " ") != "serve x" {
		t.Errorf("success: code %d, args %q", code, got)
	}
	code = main("thing", func(context.Context, *slog.Logger, []string) error { return errors.New("boom") }, nil, f)
	if out := contents(t, f); code != 1 || !strings.Contains(out, `"msg":"thing failed"`) || !strings.Contains(out, "boom") {
		t.Errorf("failure: code %d, log %s", code, out)
	}
}

func TestMain_SIGTERMEndsTheContext(t *testing.T) {
	f := stderrFile(t)
	code := main("thing", func(ctx context.Context, _ *slog.Logger, _ []string) error {
		if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Minute):
			return errors.New("SIGTERM did not end the context")
		}
	}, nil, f)
	if code != 0 {
		t.Errorf("code %d, log %s", code, contents(t, f))
	}
}

func TestParse_MatchesPatternsBeforeAnythingRuns(t *testing.T) {
	const usage = "usage: thing [serve | migrate up|down|status | admin create]"
	patterns := []string{"serve", "migrate ACTION", "admin create"}
	for _, tt := range []struct {
		args    []string
		pattern string
		values  string
		err     string
	}{
		{args: nil, pattern: "serve"},
		{args: []string{"serve"}, pattern: "serve"},
		{args: []string{"migrate", "up"}, pattern: "migrate ACTION", values: "up"},
		{args: []string{"admin", "create"}, pattern: "admin create"},
		{args: []string{"serve", "now"}, err: `wrong arguments ["serve" "now"]; ` + usage},
		{args: []string{"migrate"}, err: `wrong arguments ["migrate"]; ` + usage},
		{args: []string{"admin", "delete"}, err: `wrong arguments ["admin" "delete"]; ` + usage},
		{args: []string{"--help"}, err: `unknown command "--help"; ` + usage},
	} {
		p, v, err := Parse(tt.args, usage, patterns...)
		switch {
		case tt.err != "":
			if err == nil || err.Error() != tt.err {
				t.Errorf("Parse(%q) error = %v, want %q", tt.args, err, tt.err)
			}
		case err != nil || p != tt.pattern || strings.Join(v, " ") != tt.values:
			t.Errorf("Parse(%q) = %q, %q, %v; want %q, %q", tt.args, p, v, err, tt.pattern, tt.values)
		}
	}
}
