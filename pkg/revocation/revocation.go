// Package revocation keeps an auth.Verifier's revocations in step with the
// user service's user_token_revocation table (user set, migration 00007):
// one row per user whose tokens were revoked, holding the user's current
// token generation. Access tokens carry the generation they were issued in
// (claim "gen"); a token below the user's current generation is void.
//
// A Watcher learns new rows in two ways, either of which suffices: a
// LISTEN on Channel, to which a trigger on the table sends "user_id:generation"
// when a row changes (delivered on commit, so within milliseconds), and a poll
// of the rows changed recently, every PollInterval, which also covers a
// connection that cannot LISTEN (a transaction-mode pooler) or a
// notification lost while the listening connection was down. Both deliver
// to Verifier.Revoke, which keeps the highest generation per user, so a row
// seen twice or out of order changes nothing.
package revocation

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/pgdb"
)

// Channel is the NOTIFY channel of user_token_revocation's trigger.
const Channel = "todo_token_revocation"

// DefaultPollInterval is how often a Watcher polls unless told otherwise.
const DefaultPollInterval = 2 * time.Second

// pollOverlap is how far before the previous poll each poll looks again: a
// row's revoked_at is its transaction's start, which may precede the
// previous poll although it committed after it.
const pollOverlap = 30 * time.Second

// queryTimeout bounds one poll.
const queryTimeout = 5 * time.Second

// Config says where a Watcher reads revocations.
type Config struct {
	// Pool is the service's pool (it may be behind a pooler); polls use it.
	Pool *pgxpool.Pool
	// ListenDSN is a direct (session) connection's DSN for LISTEN; empty:
	// polling only.
	ListenDSN string
	// PollInterval is the time between two polls (DefaultPollInterval when 0).
	PollInterval time.Duration
}

// Watcher feeds a Verifier the revocations of the database.
type Watcher struct {
	log  *slog.Logger
	v    *auth.Verifier
	cfg  Config
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// pollSQL returns the revocations newer than @seconds ago.
const pollSQL = `SELECT user_id, generation FROM user_token_revocation WHERE revoked_at > now() - @seconds::float8 * interval '1 second'`

// Start loads the revocations of the last auth.RevocationRetention into v,
// failing when it cannot (the service must not accept tokens it cannot
// check), then listens and polls in the background until Stop.
func Start(ctx context.Context, log *slog.Logger, v *auth.Verifier, cfg Config) (*Watcher, error) {
	cfg.PollInterval = cmp.Or(cfg.PollInterval, DefaultPollInterval)
	w := &Watcher{log: log, v: v, cfg: cfg}
	if err := w.poll(ctx, auth.RevocationRetention); err != nil {
		return nil, fmt.Errorf("token revocations: %w", err)
	}
	var listen *pgx.ConnConfig
	if cfg.ListenDSN != "" {
		pc, err := pgdb.ParseConfig(cfg.ListenDSN)
		if err != nil {
			return nil, fmt.Errorf("token revocations: listen: %w", err)
		}
		listen = pc.Pool.ConnConfig
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	w.stop = stop
	w.wg.Go(func() { w.pollLoop(bg) })
	if listen != nil {
		w.wg.Go(func() { w.listenLoop(bg, listen) })
	}
	return w, nil
}

// Stop stops listening and polling and waits for both to end.
func (w *Watcher) Stop() {
	w.stop()
	w.wg.Wait()
}

// poll applies the revocations of the last window.
func (w *Watcher) poll(ctx context.Context, window time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	rows, err := w.cfg.Pool.Query(ctx, pollSQL, pgx.NamedArgs{"seconds": window.Seconds()})
	if err != nil {
		return fmt.Errorf("poll: %w", err)
	}
	type rev struct{ user, gen int64 }
	revs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (rev, error) {
		var x rev
		err := r.Scan(&x.user, &x.gen)
		return x, err
	})
	if err != nil {
		return fmt.Errorf("poll: %w", err)
	}
	for _, r := range revs {
		w.v.Revoke(r.user, r.gen)
	}
	return nil
}

// pollLoop polls every PollInterval, looking back over the time since the
// last successful poll plus pollOverlap, and prunes the Verifier's list.
func (w *Watcher) pollLoop(ctx context.Context) {
	t := time.NewTicker(w.cfg.PollInterval)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		window := min(time.Since(last)+pollOverlap, auth.RevocationRetention)
		if err := w.poll(ctx, window); err != nil {
			if ctx.Err() == nil {
				w.log.WarnContext(ctx, "token revocations: poll failed; retrying", slog.Any("error", err))
			}
			continue
		}
		last = time.Now()
		w.v.PruneRevocations()
	}
}

// listenLoop keeps a connection listening on Channel, reconnecting with
// backoff; after each (re)connection it polls the whole retention window,
// for what was missed while it was down.
func (w *Watcher) listenLoop(ctx context.Context, cfg *pgx.ConnConfig) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := w.listen(ctx, cfg, func() { backoff = 100 * time.Millisecond })
		if ctx.Err() != nil {
			return
		}
		w.log.WarnContext(ctx, "token revocations: listening connection lost; polling meanwhile", slog.Any("error", err), slog.Duration("retry_in", backoff))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// listen connects, LISTENs and applies notifications until the connection
// fails or ctx ends; connected is called once it listens.
func (w *Watcher) listen(ctx context.Context, cfg *pgx.ConnConfig, connected func()) error {
	conn, err := pgx.ConnectConfig(ctx, cfg.Copy())
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{Channel}.Sanitize()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	connected()
	if err := w.poll(ctx, auth.RevocationRetention); err != nil {
		return err
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("wait for notification: %w", err)
		}
		user, gen, err := parsePayload(n.Payload)
		if err != nil {
			w.log.WarnContext(ctx, "token revocations: ignoring a malformed notification", slog.String("payload", n.Payload), slog.Any("error", err))
			continue
		}
		w.v.Revoke(user, gen)
	}
}

// parsePayload reads "user_id:generation".
func parsePayload(s string) (user, gen int64, err error) {
	u, g, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, errors.New("no ':'")
	}
	if user, err = strconv.ParseInt(u, 10, 64); err != nil {
		return 0, 0, err
	}
	if gen, err = strconv.ParseInt(g, 10, 64); err != nil {
		return 0, 0, err
	}
	return user, gen, nil
}
