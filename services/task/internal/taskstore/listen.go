package taskstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/services/task/internal/task"
)

// FeedChannel is the LISTEN/NOTIFY channel of the change feed: the trigger
// task_feed (task set 00011) notifies it with "<user id>:<xid>" for each
// user a committed change concerns.
const FeedChannel = "task_change"

// Listener is a task.Notifier over LISTEN on one dedicated, direct
// connection (DATABASE_LISTEN_URL: a pooler in transaction mode cannot
// LISTEN). It reconnects with backoff when the connection fails, and wakes
// every subscriber when it reconnects, since it may have missed
// notifications meanwhile.
type Listener struct {
	log *slog.Logger
	cfg *pgx.ConnConfig

	mu   sync.Mutex
	subs map[int64]map[*subscription]struct{}
	up   bool
}

// subscription is one watcher's task.Subscription.
type subscription struct {
	l       *Listener
	user    int64
	ch      chan struct{}
	pending atomic.Uint64
}

func (s *subscription) Wake() <-chan struct{} { return s.ch }
func (s *subscription) Pending() uint64       { return s.pending.Load() }

func (s *subscription) Close() {
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	delete(s.l.subs[s.user], s)
	if len(s.l.subs[s.user]) == 0 {
		delete(s.l.subs, s.user)
	}
}

// notify records xid (when not 0) and wakes s.
func (s *subscription) notify(xid uint64) {
	for {
		old := s.pending.Load()
		if xid <= old || s.pending.CompareAndSwap(old, xid) {
			break
		}
	}
	select {
	case s.ch <- struct{}{}:
	default: // already woken
	}
}

var _ task.Notifier = (*Listener)(nil)

// NewListener returns a Listener on dsn; Run starts it.
// The DSN is parsed as the pools parse theirs (pgdb.ParseConfig: pgxpool's
// and pgdb's keys are not sent to the server as run-time parameters), and
// its transport checked, once, so that a bad DSN fails the start.
func NewListener(log *slog.Logger, dsn string, allowInsecure bool) (*Listener, error) {
	pc, err := pgdb.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("change feed listener: DATABASE_LISTEN_URL: %w", err)
	}
	cfg := pc.Pool.ConnConfig
	if err := pgdb.CheckTransport(&cfg.Config, allowInsecure); err != nil {
		return nil, fmt.Errorf("change feed listener: %w", err)
	}
	return &Listener{log: log, cfg: cfg, subs: map[int64]map[*subscription]struct{}{}}, nil
}

// Subscribe returns a subscription woken after each notification for
// user.
func (l *Listener) Subscribe(user int64) task.Subscription {
	s := &subscription{l: l, user: user, ch: make(chan struct{}, 1)}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.subs[user] == nil {
		l.subs[user] = map[*subscription]struct{}{}
	}
	l.subs[user][s] = struct{}{}
	return s
}

// Listening reports whether the listener's connection is up.
func (l *Listener) Listening() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.up
}

func (l *Listener) wake(user int64, xid uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for s := range l.subs[user] {
		s.notify(xid)
	}
}

func (l *Listener) wakeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, set := range l.subs {
		for s := range set {
			s.notify(0)
		}
	}
}

// Backoff of Run's reconnects.
const (
	listenMinBackoff = 100 * time.Millisecond
	listenMaxBackoff = 10 * time.Second
)

// Run listens until ctx ends, reconnecting after failures; it returns nil
// when ctx ends.
func (l *Listener) Run(ctx context.Context) error {
	backoff := listenMinBackoff
	for {
		err := l.listen(ctx, func() { backoff = listenMinBackoff })
		l.setUp(false)
		if ctx.Err() != nil {
			return nil
		}
		l.log.WarnContext(ctx, "change feed LISTEN connection lost; watchers poll until it is back",
			slog.Any("error", err), slog.Duration("retry_in", backoff))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, listenMaxBackoff)
	}
}

func (l *Listener) setUp(up bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.up = up
}

// listen runs one connection: LISTEN, wake everyone (notifications may
// have been missed while it was down), then dispatch until it fails;
// connected is called once it listens.
func (l *Listener) listen(ctx context.Context, connected func()) error {
	conn, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		return fmt.Errorf("listen: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{FeedChannel}.Sanitize()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	l.setUp(true)
	connected()
	l.wakeAll()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			return fmt.Errorf("listen: wait: %w", err)
		}
		u, x, _ := strings.Cut(n.Payload, ":")
		user, err := strconv.ParseInt(u, 10, 64)
		if err != nil {
			l.wakeAll()
			continue
		}
		xid, _ := strconv.ParseUint(x, 10, 64) // 0 when absent
		l.wake(user, xid)
	}
}
