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

func TestSubcommand_DefaultsWhenEmpty(t *testing.T) {
	if cmd, rest := Subcommand(nil, "serve"); cmd != "serve" || len(rest) != 0 {
		t.Errorf("Subcommand(nil) = %q, %q", cmd, rest)
	}
	if cmd, rest := Subcommand([]string{"migrate", "up"}, "serve"); cmd != "migrate" || strings.Join(rest, " ") != "up" {
		t.Errorf("Subcommand(migrate up) = %q, %q", cmd, rest)
	}
}
