package user

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/todo-platform/todo/pkg/pagetoken"
)

// ErrInvalidAuditPageToken: a ListUserAuditEvents page token that is malformed,
// was altered, or was issued for other filters.
var ErrInvalidAuditPageToken = errors.New("not a page token of a listing of audit events with these filters")

// RecordedEvent is a row of the audit log as ListUserAuditEvents reads it.
type RecordedEvent struct {
	// ID orders events of the same Time; it is a position, not shown.
	ID int64
	// Time is when the operation was made (the start of its transaction).
	Time time.Time
	// ActorKind is who did it; ActorID the user's id, or 0.
	ActorKind ActorKind
	ActorID   int64
	// Action is one of the Action* constants.
	Action string
	// TargetID is the user concerned, or 0.
	TargetID int64
	// RequestID and ClientAddr are those of the call, or "".
	RequestID, ClientAddr string
	// Change is the change as recorded (see Event.Change).
	Change map[string]any
}

// AuditFilter selects audit events; every field set must match.
type AuditFilter struct {
	// ActorID and TargetID match events done by, or about, that user.
	ActorID, TargetID *int64
	// Action, when not empty, matches events with that action.
	Action string
	// Start matches events at or after it, End events before it.
	Start, End *time.Time
}

// AuditQuery is what the store reads: at most Limit events matching
// Filter, newest first, after After when it is not nil.
type AuditQuery struct {
	Filter AuditFilter
	After  *Cursor
	Limit  int
}

// auditTokens makes the page tokens of ListUserAuditEvents: the position is the
// (time, id) of the page's last event, the binding the filter.
var auditTokens = pagetoken.New("todo.user.v1.ListUserAuditEvents")

func auditBinding(f AuditFilter) pagetoken.Fields {
	b := pagetoken.Fields{}.OptInt64(f.ActorID).OptInt64(f.TargetID).OptTime(f.Start).OptTime(f.End).Int64(int64(len(f.Action)))
	return append(b, f.Action...)
}

// ListUserAuditEvents returns one page of the audit log matching f to an admin
// (ActionAdminister), newest first. pageSize 0 means DefaultPageSize;
// outside 0 to MaxPageSize it is ErrInvalidPageSize. pageToken continues
// from the previous page and must come from a call with the same filter
// (ErrInvalidAuditPageToken otherwise).
func (s *Service) ListUserAuditEvents(ctx context.Context, c Caller, f AuditFilter, pageSize int, pageToken string) ([]RecordedEvent, string, error) {
	if err := Authorize(c, 0, ActionAdminister); err != nil {
		return nil, "", fmt.Errorf("list audit events: %w", err)
	}
	switch {
	case pageSize == 0:
		pageSize = DefaultPageSize
	case pageSize < 0 || pageSize > MaxPageSize:
		return nil, "", ErrInvalidPageSize
	}
	q := AuditQuery{Filter: f, Limit: pageSize + 1}
	if pageToken != "" {
		r, err := auditTokens.Decode(pageToken, auditBinding(f))
		if err != nil {
			return nil, "", ErrInvalidAuditPageToken
		}
		cur := Cursor{CreatedAt: r.Time(), ID: r.Int64()}
		if r.Done() != nil {
			return nil, "", ErrInvalidAuditPageToken
		}
		q.After = &cur
	}
	events, err := s.store.AuditEvents(ctx, q)
	if err != nil {
		return nil, "", fmt.Errorf("list audit events: %w", err)
	}
	if len(events) <= pageSize {
		return events, "", nil
	}
	events = events[:pageSize]
	last := events[len(events)-1]
	return events, auditTokens.Encode(auditBinding(f), pagetoken.Fields{}.Time(last.Time).Int64(last.ID)), nil
}
