// Package cli is the entry point every binary shares: the logger of package
// logging on stderr (LOG_LEVEL, LOG_FORMAT), a context that ends on SIGINT
// or SIGTERM, and the exit status.
package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/todo-platform/todo/pkg/logging"
)

// Run is a binary's body: it serves or runs the subcommand named by args
// (the command line without the program name) until it is done or ctx ends,
// and returns an error to fail.
type Run func(ctx context.Context, log *slog.Logger, args []string) error

// Main calls run with the process's arguments, the logger of package logging
// on stderr (JSON unless LOG_FORMAT says text; LOG_LEVEL) and a context that
// ends on SIGINT or SIGTERM, and exits with status 1 after logging "<name>
// failed" when run returns an error or the log settings are not valid
// (status 0 otherwise).
func Main(name string, run Run) {
	os.Exit(main(name, run, os.Args[1:], os.Stderr))
}

func main(name string, run Run, args []string, stderr *os.File) int {
	log, err := logging.FromEnv(stderr, os.Getenv)
	if err != nil {
		slog.New(slog.NewJSONHandler(stderr, nil)).Error(name+" failed", slog.Any("error", fmt.Errorf("configuration: %w", err)))
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, args); err != nil {
		log.Error(name+" failed", slog.Any("error", err))
		return 1
	}
	return 0
}

// Parse matches args, the command line without the program name, against
// a binary's subcommands and returns the one matched and the values of its
// placeholders, in order. Each pattern is words separated by spaces; a word
// in upper case stands for any one argument ("migrate ACTION"). The first
// pattern is the default when args is empty. Arguments that match no
// pattern give an error naming them, followed by usage, so a binary can
// refuse a mistyped command before it reads its configuration.
func Parse(args []string, usage string, patterns ...string) (string, []string, error) {
	if len(args) == 0 && len(patterns) > 0 {
		return patterns[0], nil, nil
	}
	known := false
	for _, p := range patterns {
		words := strings.Fields(p)
		if words[0] == args[0] {
			known = true
		}
		if len(words) != len(args) {
			continue
		}
		var values []string
		ok := true
		for i, w := range words {
			switch {
			case strings.ToUpper(w) == w:
				values = append(values, args[i])
			case w != args[i]:
				ok = false
			}
		}
		if ok {
			return p, values, nil
		}
	}
	if known {
		return "", nil, fmt.Errorf("wrong arguments %q; %s", args, usage)
	}
	return "", nil, fmt.Errorf("unknown command %q; %s", args[0], usage)
}
