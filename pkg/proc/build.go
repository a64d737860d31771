package proc

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// Build returns the path of the executable of the main package pkg (an
// import path such as github.com/todo-platform/todo/services/user), built
// if need be by `go tool -n pkg` run in the current directory.
//
// pkg must be declared with a tool directive in the go.mod of the module
// the current directory is in (or of a module of its workspace), so that
// the build resolves pkg and its dependencies there, with or without
// go.work. The go command keeps the executable in its build cache, keyed by
// everything it was built from: every test process of a run, and every later
// run with the same sources, gets the one build; concurrent builds are the
// go command's to coordinate.
func Build(ctx context.Context, pkg string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("proc: build %s: %w", pkg, err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, goBin, "tool", "-n", pkg)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("proc: build %s (go tool -n; is it a tool directive of go.mod?): %w\n%s", pkg, err, stderr.Bytes())
	}
	path := strings.TrimSpace(stdout.String())
	if path == "" || strings.Contains(path, "\n") {
		return "", fmt.Errorf("proc: build %s: go tool -n printed %q, want one path", pkg, stdout.String())
	}
	return path, nil
}
