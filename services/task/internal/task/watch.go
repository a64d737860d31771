package task

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Defaults of WatchConfig.
const (
	DefaultWatchHeartbeat  = 15 * time.Second
	DefaultWatchMaxPerUser = 16
	DefaultWatchMax        = 10_000
	// watchPageSize is how many changes a watcher reads at a time.
	watchPageSize = 100
	// watchRetryMin and watchRetryMax bound the backoff of a watcher
	// waiting for a notified change to become readable.
	watchRetryMin = 20 * time.Millisecond
	watchRetryMax = time.Second
)

// Errors of Watch.
var (
	// ErrTooManyWatches: the caller has WatchConfig.MaxPerUser watches open.
	ErrTooManyWatches = errors.New("too many watches open for this user")
	// ErrTooManyWatchers: the process has WatchConfig.Max watches open.
	ErrTooManyWatchers = errors.New("too many watches open on this server")
	// ErrSlowConsumer: the watcher did not take what was sent in time; it
	// may resume from the last token it received.
	ErrSlowConsumer = errors.New("the watcher did not read what was sent in time")
	// ErrStopping: the server is stopping; the watcher may resume from the
	// last token it received, on another replica or later.
	ErrStopping = errors.New("the server is stopping")
)

// Notifier wakes watchers when a user's feed may have grown.
type Notifier interface {
	// Subscribe returns a Subscription to the changes concerning user.
	Subscribe(user int64) Subscription
}

// Subscription is one watcher's wake-ups.
type Subscription interface {
	// Wake receives a value after a change concerning the user commits
	// (wake-ups coalesce: it holds at most one), and whenever the notifier
	// may have missed one (after it reconnects).
	Wake() <-chan struct{}
	// Pending returns the highest transaction id notified so far (0:
	// none): until the feed's position passes it, a change is known to be
	// committed but not yet readable (an older transaction holds the
	// feed's horizon back), and the watcher reads again soon.
	Pending() uint64
	// Close releases the subscription.
	Close()
}

// WatchConfig bounds and paces Watch. Zero fields take the defaults.
type WatchConfig struct {
	// Notifier wakes watchers; nil: they poll at every Heartbeat only.
	Notifier Notifier
	// Heartbeat is how long a watcher stays silent before it sends a
	// heartbeat; it also reads the feed then, whatever the notifier said.
	Heartbeat time.Duration
	// MaxPerUser and Max bound the watches open per user and per process.
	MaxPerUser, Max int
	// Stop, when closed, ends every watch with ErrStopping.
	Stop <-chan struct{}
}

// watchers counts the open watches.
type watchers struct {
	cfg     WatchConfig
	mu      sync.Mutex
	perUser map[int64]int
	total   int
}

// SetWatch configures Watch. Call it before s serves.
func (s *Service) SetWatch(cfg WatchConfig) {
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultWatchHeartbeat
	}
	if cfg.MaxPerUser <= 0 {
		cfg.MaxPerUser = DefaultWatchMaxPerUser
	}
	if cfg.Max <= 0 {
		cfg.Max = DefaultWatchMax
	}
	s.watch = &watchers{cfg: cfg, perUser: map[int64]int{}}
}

// acquire opens a watch for user, or says why not.
func (w *watchers) acquire(user int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.total >= w.cfg.Max:
		return ErrTooManyWatchers
	case w.perUser[user] >= w.cfg.MaxPerUser:
		return ErrTooManyWatches
	}
	w.total++
	w.perUser[user]++
	return nil
}

func (w *watchers) release(user int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.total--
	if w.perUser[user]--; w.perUser[user] == 0 {
		delete(w.perUser, user)
	}
}

// OpenWatches returns the number of watches open.
func (s *Service) OpenWatches() int {
	s.watch.mu.Lock()
	defer s.watch.mu.Unlock()
	return s.watch.total
}

// WatchEvent is what a watch sends: a change, or a heartbeat (Change
// nil), with the token to resume after it.
type WatchEvent struct {
	Change *TaskChange
	Token  string
}

// Watch sends c's change feed from token (empty: from now) to send as it
// grows, until ctx ends, the server stops (ErrStopping) or send fails
// (its error, such as ErrSlowConsumer). The first event is a heartbeat
// carrying the starting token; each change comes with the token after it,
// so a watcher resuming from the last token it received gets no change
// twice and misses none. Watches are bounded per user and per process
// (ErrTooManyWatches, ErrTooManyWatchers); a token is checked as for
// Changes (ErrInvalidFeedToken, ErrResync).
func (s *Service) Watch(ctx context.Context, c Caller, token string, send func(WatchEvent) error) error {
	w := s.watch
	if err := w.acquire(c.UserID); err != nil {
		return err
	}
	defer w.release(c.UserID)
	var (
		wake    <-chan struct{}
		pending = func() uint64 { return 0 }
	)
	if w.cfg.Notifier != nil {
		sub := w.cfg.Notifier.Subscribe(c.UserID)
		defer sub.Close()
		wake, pending = sub.Wake(), sub.Pending
	}
	// catchUp is where the first reads must get to: past every change
	// committed before the watch began, which an older transaction may
	// keep unreadable for a moment (and no notification will announce).
	var catchUp uint64
	if token == "" {
		p, err := s.Changes(ctx, c, "", 0)
		if err != nil {
			return err
		}
		token = p.Token
	} else if _, _, err := DecodeFeedToken(c.UserID, token); err != nil {
		return err
	}
	if err := send(WatchEvent{Token: token}); err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	heartbeat := time.NewTicker(w.cfg.Heartbeat)
	defer heartbeat.Stop()
	retry := time.NewTimer(0)
	<-retry.C
	backoff := watchRetryMin
	sent := false // since the last heartbeat
	for {
		var pos FeedPosition
		for {
			p, err := s.Changes(ctx, c, token, watchPageSize)
			if err != nil {
				return err
			}
			pos = p.Position
			if catchUp == 0 {
				catchUp = p.Next
			}
			for i := range p.Changes {
				ch := &p.Changes[i]
				if err := send(WatchEvent{Change: ch, Token: EncodeFeedToken(c.UserID, ch.Position, p.Issued)}); err != nil {
					return fmt.Errorf("watch: %w", err)
				}
				sent = true
			}
			token = p.Token
			if !p.More {
				break
			}
		}
		if (pending() >= pos.XID && pending() != 0) || pos.XID < catchUp {
			// A notified change is not readable yet: look again soon.
			retry.Reset(backoff)
			backoff = min(2*backoff, watchRetryMax)
		} else {
			backoff = watchRetryMin
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.cfg.Stop:
			return ErrStopping
		case <-wake:
		case <-retry.C:
		case <-heartbeat.C:
			if !sent {
				if err := send(WatchEvent{Token: token}); err != nil {
					return fmt.Errorf("watch: %w", err)
				}
			}
			sent = false
		}
	}
}
