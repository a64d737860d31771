package task

import (
	"context"
	"fmt"
	"time"

	"github.com/todo-platform/todo/pkg/pagetoken"
)

// Actor kinds of an Event (the audit table's actor_kind).
const (
	ActorUser     = "user"
	ActorOperator = "operator"
	ActorSystem   = "system"
)

// Event is one row of the task service's audit log: a change of a task,
// recorded by the database in the change's transaction (task set 00004).
type Event struct {
	// ID orders events of the same Time; it is a position, not shown.
	ID int64
	// Time is when the change was made (the start of its transaction).
	Time time.Time
	// ActorKind is ActorUser, ActorOperator or ActorSystem; ActorID is the
	// user's id for ActorUser and 0 otherwise.
	ActorKind string
	ActorID   int64
	// Action is task.create, task.update, task.assign, task.unassign,
	// task.status_change or task.delete.
	Action string
	// TaskID is the task changed.
	TaskID int64
	// Changes are the changed fields, sorted by name.
	Changes []Change
	// RequestID is the request id of the call that made the change, or "".
	RequestID string
}

// Change is the change of one field: Old and New are JSON values (string,
// float64, bool), nil when the field had or has no value.
type Change struct {
	Field    string
	Old, New any
}

// EventCursor is the position of an event in newest-first order.
type EventCursor struct {
	Time time.Time
	ID   int64
}

// EventFilter selects audit events; every field set must match.
type EventFilter struct {
	// TaskID matches the events of that task.
	TaskID *int64
	// ActorID matches the events made by that user.
	ActorID *int64
	// Action, when not empty, matches events with that action.
	Action string
	// Start matches events at or after it, End events before it.
	Start, End *time.Time
}

// EventQuery is what the store reads: at most Limit events matching Filter,
// newest first, after After when it is set.
type EventQuery struct {
	Filter EventFilter
	After  *EventCursor
	Limit  int
}

// EventsRequest asks for one page of events.
type EventsRequest struct {
	Filter    EventFilter
	PageSize  int
	PageToken string
}

// EventPage is one page of events, newest first.
type EventPage struct {
	Events        []Event
	NextPageToken string
}

// The page tokens of ListTaskEvents and ListTaskAuditEvents (package
// pagetoken): the position is the last event's time and id; the binding is
// the task (ListTaskEvents) or the filter (ListTaskAuditEvents).
var (
	taskEventTokens  = pagetoken.New("todo.task.v1.ListTaskEvents")
	auditEventTokens = pagetoken.New("todo.task.v1.ListTaskAuditEvents")
)

func eventBinding(f EventFilter) pagetoken.Fields {
	b := pagetoken.Fields{}.OptInt64(f.TaskID).OptInt64(f.ActorID).OptTime(f.Start).OptTime(f.End).Int64(int64(len(f.Action)))
	return append(b, f.Action...)
}

// TaskEvents returns one page of the history of task id, newest first, when
// c can see the task now (its creator, its current assignee, an admin) or,
// once it is deleted, when c created it or is an admin; ErrNotFound
// otherwise, as Get.
func (s *Service) TaskEvents(ctx context.Context, c Caller, id int64, r EventsRequest) (EventPage, error) {
	r.Filter = EventFilter{TaskID: &id}
	p, err := pageEvents(r, taskEventTokens, func(q EventQuery) ([]Event, error) {
		return s.store.TaskEvents(ctx, c, q)
	})
	if err != nil {
		return EventPage{}, fmt.Errorf("events of task %d: %w", id, err)
	}
	return p, nil
}

// AuditEvents returns one page of the audit log matching r.Filter, newest
// first, deleted tasks' events included. Only admins may list it
// (ErrAdminOnly).
func (s *Service) AuditEvents(ctx context.Context, c Caller, r EventsRequest) (EventPage, error) {
	if !c.Admin {
		return EventPage{}, ErrAdminOnly
	}
	p, err := pageEvents(r, auditEventTokens, func(q EventQuery) ([]Event, error) {
		return s.store.AuditEvents(ctx, c, q)
	})
	if err != nil {
		return EventPage{}, fmt.Errorf("audit events: %w", err)
	}
	return p, nil
}

// pageEvents pages through read with r's size and token (of codec tokens).
func pageEvents(r EventsRequest, tokens pagetoken.Codec, read func(EventQuery) ([]Event, error)) (EventPage, error) {
	q := EventQuery{Filter: r.Filter, Limit: r.PageSize}
	switch {
	case q.Limit <= 0:
		q.Limit = DefaultPageSize
	case q.Limit > MaxPageSize:
		q.Limit = MaxPageSize
	}
	binding := eventBinding(r.Filter)
	if r.PageToken != "" {
		rd, err := tokens.Decode(r.PageToken, binding)
		if err != nil {
			return EventPage{}, ErrInvalidPageToken
		}
		cur := EventCursor{Time: rd.Time(), ID: rd.Int64()}
		if rd.Done() != nil {
			return EventPage{}, ErrInvalidPageToken
		}
		q.After = &cur
	}
	size := q.Limit
	q.Limit++ // one more tells whether there is a next page
	events, err := read(q)
	if err != nil {
		return EventPage{}, err
	}
	p := EventPage{Events: events}
	if len(events) > size {
		p.Events = events[:size]
		last := p.Events[size-1]
		p.NextPageToken = tokens.Encode(binding, pagetoken.Fields{}.Time(last.Time).Int64(last.ID))
	}
	return p, nil
}
