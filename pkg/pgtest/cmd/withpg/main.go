// Command withpg runs a command against a throwaway PostgreSQL cluster:
//
//	withpg -- go test ./pkg/...
//
// It starts a cluster (see pgcluster.Start), runs the command with
// TODO_TEST_PG_URL set to the cluster's superuser URL, stops the cluster and
// exits with the command's exit status. SIGINT and SIGTERM are passed on to
// the command; the cluster is stopped after the command ends.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/todo-platform/todo/pkg/pgcluster"
	"github.com/todo-platform/todo/pkg/pgtest"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: withpg -- command [args…]")
		return 2
	}
	// Take the signals before starting anything, so an early Ctrl-C still
	// stops the cluster; they are forwarded to the command once it runs.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-ctx.Done():
		}
	}()
	c, err := pgcluster.Start(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "withpg: start PostgreSQL: %v\n", err)
		return 1
	}
	defer func() {
		if err := c.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "withpg: stop PostgreSQL: %v\n", err)
		}
	}()
	if ctx.Err() != nil {
		return 130
	}
	cancel() // the watcher goroutine stops; signals now go to the command

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), pgtest.EnvURL+"="+c.URL())
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "withpg: %v\n", err)
		return 127
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case sig := <-sigs:
			_ = cmd.Process.Signal(sig)
		case err := <-done:
			var exit *exec.ExitError
			switch {
			case err == nil:
				return 0
			case errors.As(err, &exit):
				if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					return 128 + int(ws.Signal())
				}
				return exit.ExitCode()
			default:
				fmt.Fprintf(os.Stderr, "withpg: %v\n", err)
				return 1
			}
		}
	}
}
