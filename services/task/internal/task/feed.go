package task

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/todo-platform/todo/pkg/pagetoken"
)

// DefaultFeedRetention is how long the change feed keeps its rows, and so
// how old a feed token may be, unless SetFeedRetention says otherwise.
const DefaultFeedRetention = 30 * 24 * time.Hour

// FeedSweepMargin is how much longer than the retention the feed's rows
// are kept: a token just younger than the retention still finds every row
// after its position, even those of a transaction that started before the
// token was issued.
const FeedSweepMargin = 24 * time.Hour

// ChangeKind is what a change did to a task.
type ChangeKind string

// The kinds of change, as the feed (task set 00010) records them.
const (
	ChangeCreated    ChangeKind = "created"
	ChangeUpdated    ChangeKind = "updated"
	ChangeAssigned   ChangeKind = "assigned"
	ChangeUnassigned ChangeKind = "unassigned"
	ChangeDeleted    ChangeKind = "deleted"
	ChangeUndeleted  ChangeKind = "undeleted"
)

// TombstoneReason says why a task the reader saw is no longer visible to
// them.
type TombstoneReason string

// The reasons for a tombstone.
const (
	TombstoneDeleted    TombstoneReason = "deleted"
	TombstoneUnassigned TombstoneReason = "unassigned"
)

// FeedPosition is a place in one user's change feed: every change at or
// before it has been read. Changes are ordered by (XID, ID): the writing
// transaction's id, then the feed row's.
type FeedPosition struct {
	XID uint64
	ID  int64
}

// TaskChange is one change of a task, as one reader sees it.
type TaskChange struct {
	Kind   ChangeKind
	TaskID int64
	// Task is the task as the change left it, when the reader sees it
	// after the change; nil for a tombstone.
	Task *Task
	// Tombstone says why the reader no longer sees the task; empty when
	// Task is set.
	Tombstone TombstoneReason
	// Time is when the change was made (its transaction's start).
	Time time.Time
	// Position is the change's place in the reader's feed.
	Position FeedPosition
}

// FeedRead is what the Store read of a feed: the changes after a position,
// at most a limit, and the horizon of the read.
type FeedRead struct {
	Changes []TaskChange
	// Horizon is the least transaction id that may still write a change
	// (pg_snapshot_xmin): every change below it was committed, or rolled
	// back, before the read.
	Horizon uint64
	// Next is the first transaction id not yet assigned at the read
	// (pg_snapshot_xmax): every change committed before the read is below
	// it.
	Next uint64
	// Now is the database's time of the read.
	Now time.Time
}

// FeedPage is one page of a user's change feed.
type FeedPage struct {
	Changes []TaskChange
	// Token is where the next read starts: after the last change of the
	// page or, when the page is the end, at the horizon.
	Token string
	// More reports whether changes beyond this page can be read now.
	More bool
	// Issued is the time of the read, which the page's tokens carry.
	Issued time.Time
	// Position is Token's position.
	Position FeedPosition
	// Next is the read's FeedRead.Next: once a position reaches it, every
	// change committed before the read has been read.
	Next uint64
}

// ErrResync: a feed token older than the feed's retention, or from before
// rows it needs were swept. The client must reread the tasks (ListTasks)
// and start again without a token.
var ErrResync = errors.New("the change feed token is older than the feed's retention; resync")

// ErrInvalidFeedToken: a feed token that is malformed, was altered, or is
// another user's.
var ErrInvalidFeedToken = errors.New("invalid change feed token")

// feedTokens makes the tokens of ListTaskChanges and WatchTasks: the
// position, then when it was issued; bound to the reader.
var feedTokens = pagetoken.New("todo.task.v1.ListTaskChanges")

// EncodeFeedToken returns the token of pos for user, issued at issued.
func EncodeFeedToken(user int64, pos FeedPosition, issued time.Time) string {
	return feedTokens.Encode(pagetoken.Fields{}.Int64(user),
		pagetoken.Fields{}.Int64(int64(pos.XID)).Int64(pos.ID).Time(issued))
}

// DecodeFeedToken returns the position and issue time of a token of user.
func DecodeFeedToken(user int64, token string) (FeedPosition, time.Time, error) {
	r, err := feedTokens.Decode(token, pagetoken.Fields{}.Int64(user))
	if err != nil {
		return FeedPosition{}, time.Time{}, ErrInvalidFeedToken
	}
	pos := FeedPosition{XID: uint64(r.Int64()), ID: r.Int64()}
	issued := r.Time()
	if err := r.Done(); err != nil {
		return FeedPosition{}, time.Time{}, ErrInvalidFeedToken
	}
	return pos, issued, nil
}

// SetFeedRetention sets how long feed tokens stay valid. Call it before s
// serves.
func (s *Service) SetFeedRetention(d time.Duration) { s.feedRetention = d }

// FeedRetention returns how long feed tokens stay valid.
func (s *Service) FeedRetention() time.Duration {
	if s.feedRetention <= 0 {
		return DefaultFeedRetention
	}
	return s.feedRetention
}

// Changes returns up to pageSize (0: DefaultPageSize; at most MaxPageSize)
// of the changes to c's tasks after token, in commit-safe order: the
// creates, updates, assignments, deletes and undeletes of the tasks c
// created or is (or was) assigned, each with the task as it left it, or a
// tombstone where c lost sight of the task. Without a token it returns no
// change and the token of now. A token older than the retention is
// ErrResync. The feed is c's own: an admin gets the changes of the tasks
// they created or are assigned, like anyone else.
func (s *Service) Changes(ctx context.Context, c Caller, token string, pageSize int) (FeedPage, error) {
	switch {
	case pageSize <= 0:
		pageSize = DefaultPageSize
	case pageSize > MaxPageSize:
		pageSize = MaxPageSize
	}
	if token == "" {
		read, err := s.store.Changes(ctx, c, FeedPosition{}, 0)
		if err != nil {
			return FeedPage{}, fmt.Errorf("task changes: %w", err)
		}
		pos := FeedPosition{XID: read.Horizon}
		return FeedPage{Token: EncodeFeedToken(c.UserID, pos, read.Now), Issued: read.Now, Position: pos, Next: read.Next}, nil
	}
	pos, issued, err := DecodeFeedToken(c.UserID, token)
	if err != nil {
		return FeedPage{}, err
	}
	read, err := s.store.Changes(ctx, c, pos, pageSize+1)
	if err != nil {
		return FeedPage{}, fmt.Errorf("task changes: %w", err)
	}
	// The database's clock decides, as it stamps the rows the sweep
	// removes.
	if read.Now.Sub(issued) > s.FeedRetention() {
		return FeedPage{}, ErrResync
	}
	return page(c, pos, read, pageSize), nil
}

// page makes the page of read, which asked for size+1 changes after pos.
func page(c Caller, pos FeedPosition, read FeedRead, size int) FeedPage {
	p := FeedPage{Changes: read.Changes, Issued: read.Now, Next: read.Next}
	if len(p.Changes) > size {
		p.Changes, p.More = p.Changes[:size], true
	}
	switch {
	case p.More:
		pos = p.Changes[len(p.Changes)-1].Position
	case read.Horizon > pos.XID:
		// Every change below the horizon has been read: the next read
		// starts at it (changes of the horizon's own transaction have
		// ID > 0).
		pos = FeedPosition{XID: read.Horizon}
	case len(p.Changes) > 0:
		pos = p.Changes[len(p.Changes)-1].Position
	}
	p.Token, p.Position = EncodeFeedToken(c.UserID, pos, read.Now), pos
	return p
}
