// Package cli is the entry point every binary shares: a JSON logger on
// stderr, a context that ends on SIGINT or SIGTERM, and the exit status.
package cli

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// Run is a binary's body: it serves or runs the subcommand named by args
// (the command line without the program name) until it is done or ctx ends,
// and returns an error to fail.
type Run func(ctx context.Context, log *slog.Logger, args []string) error

// Main calls run with the process's arguments, a JSON logger on stderr and a
// context that ends on SIGINT or SIGTERM, and exits with status 1 after
// logging "<name> failed" when run returns an error (status 0 otherwise).
func Main(name string, run Run) {
	os.Exit(main(name, run, os.Args[1:], os.Stderr))
}

func main(name string, run Run, args []string, stderr *os.File) int {
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, args); err != nil {
		log.Error(name+" failed", slog.Any("error", err))
		return 1
	}
	return 0
}

// Subcommand splits args into the subcommand it names, def when args is
// empty, and the subcommand's own arguments.
func Subcommand(args []string, def string) (string, []string) {
	if len(args) == 0 {
		return def, nil
	}
	return args[0], args[1:]
}
