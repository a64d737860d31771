package task

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/todo-platform/todo/pkg/pagetoken"
)

// Page sizes of ListTasks.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// Filter selects tasks; every field set must match. The zero Filter matches
// every task (that the caller can see).
type Filter struct {
	// Statuses and Priorities match any of their values; empty matches all.
	Statuses   []Status
	Priorities []Priority
	// AssignedTo matches the tasks assigned to that user; a pointer to 0
	// matches the unassigned tasks.
	AssignedTo *int64
	// CreatedBy matches the tasks that user created.
	CreatedBy *int64
	// DueBefore matches due_date < *DueBefore, DueAfter due_date >=
	// *DueAfter (tasks without a due date match neither), UpdatedAfter
	// updated_at > *UpdatedAfter.
	DueBefore, DueAfter, UpdatedAfter *time.Time
	// ShowDeleted includes the deleted tasks not purged yet; admins only
	// (ErrShowDeletedAdminOnly).
	ShowDeleted bool
	// Search, when not nil, matches the tasks whose words it finds.
	Search *Search
}

// normalize sorts and deduplicates the sets and converts times to UTC, so
// that equal filters look equal.
func (f Filter) normalize() (Filter, error) {
	for _, s := range f.Statuses {
		if !s.Valid() {
			return f, ErrInvalidStatus
		}
	}
	for _, p := range f.Priorities {
		if !p.Valid() {
			return f, ErrInvalidPriority
		}
	}
	f.Statuses = slices.Clone(f.Statuses)
	slices.SortFunc(f.Statuses, func(a, b Status) int { return statusIndex(a) - statusIndex(b) })
	f.Statuses = slices.Compact(f.Statuses)
	f.Priorities = slices.Clone(f.Priorities)
	slices.SortFunc(f.Priorities, func(a, b Priority) int { return a.Rank() - b.Rank() })
	f.Priorities = slices.Compact(f.Priorities)
	f.DueBefore, f.DueAfter, f.UpdatedAfter = utc(f.DueBefore), utc(f.DueAfter), utc(f.UpdatedAfter)
	return f, nil
}

func statusIndex(s Status) int { return slices.Index(Statuses(), s) }

// SortKey is what tasks are listed by; ties are always broken by id.
type SortKey uint8

// The sort keys of ListTasks' order_by.
const (
	SortCreatedAt SortKey = iota + 1
	SortUpdatedAt
	SortDueDate  // tasks without a due date come last in both directions
	SortPriority // by Rank
	// SortRelevance orders by how well a task matches Filter.Search, best
	// first; only with a search, only descending.
	SortRelevance
)

// Order is a sort key and direction.
type Order struct {
	Key  SortKey
	Desc bool
}

// DefaultOrder is the order of an empty order_by: newest first.
var DefaultOrder = Order{Key: SortCreatedAt, Desc: true}

// ParseOrder parses an order_by: one of created_at, updated_at, due_date,
// priority, optionally followed by " asc" or " desc" (ascending when
// omitted), or relevance, optionally followed by " desc" (best first). The
// empty string is DefaultOrder. Anything else is ErrInvalidOrder.
func ParseOrder(s string) (Order, error) {
	parts := strings.Fields(s)
	if len(parts) == 0 {
		return DefaultOrder, nil
	}
	if len(parts) > 2 {
		return Order{}, ErrInvalidOrder
	}
	var o Order
	switch parts[0] {
	case "created_at":
		o.Key = SortCreatedAt
	case "updated_at":
		o.Key = SortUpdatedAt
	case "due_date":
		o.Key = SortDueDate
	case "priority":
		o.Key = SortPriority
	case "relevance":
		if len(parts) == 2 && !strings.EqualFold(parts[1], "desc") {
			return Order{}, ErrInvalidOrder
		}
		return Order{Key: SortRelevance, Desc: true}, nil
	default:
		return Order{}, ErrInvalidOrder
	}
	if len(parts) == 2 {
		switch strings.ToLower(parts[1]) {
		case "asc":
		case "desc":
			o.Desc = true
		default:
			return Order{}, ErrInvalidOrder
		}
	}
	return o, nil
}

// Cursor is the position of the last task of a page in its Order: the
// next page starts after it.
type Cursor struct {
	ID int64
	// Time is the created_at, updated_at or due_date of the task for those
	// keys; NoDue says the task had no due date.
	Time  time.Time
	NoDue bool
	// Rank is the priority rank for SortPriority.
	Rank int
	// Score is the task's Relevance for SortRelevance.
	Score float32
}

// CursorOf returns the position of t in order o.
func CursorOf(t Task, o Order) Cursor {
	c := Cursor{ID: t.ID}
	switch o.Key {
	case SortCreatedAt:
		c.Time = t.CreatedAt
	case SortUpdatedAt:
		c.Time = t.UpdatedAt
	case SortDueDate:
		if t.DueDate == nil {
			c.NoDue = true
		} else {
			c.Time = *t.DueDate
		}
	case SortPriority:
		c.Rank = t.Priority.Rank()
	case SortRelevance:
		c.Score = t.Relevance
	}
	return c
}

// Query is a page request as the Store sees it: the tasks matching Filter,
// in Order, strictly after After (when not nil), at most Limit of them.
type Query struct {
	Filter Filter
	Order  Order
	After  *Cursor
	Limit  int
}

// ListRequest is what a caller asks ListTasks.
type ListRequest struct {
	// Filter is the listing's filter; its Search is set from Search.
	Filter Filter
	// Search, when not nil, is the search query (see ParseSearch).
	Search    *string
	OrderBy   string
	PageSize  int // 0 means DefaultPageSize; more than MaxPageSize is MaxPageSize
	PageToken string
}

// Page is one page of tasks and the token of the next one ("" on the last
// page).
type Page struct {
	Tasks         []Task
	NextPageToken string
}

// pageTokens makes the page tokens of ListTasks (see package pagetoken):
// the position is the sort value of the page's last task (Unix
// microseconds, or the priority rank; a flag for a task without due date)
// and its id; the binding is the order and the normalized filter, so a token
// is refused by a listing with other filters or another order.
var pageTokens = pagetoken.New("todo.task.v1.ListTasks")

// EncodePageToken returns the token for the page after c, valid only for f
// (normalized) and o.
func EncodePageToken(f Filter, o Order, c Cursor) string {
	pos := pagetoken.Fields{}.Byte(orderByte(o))
	switch {
	case o.Key == SortPriority:
		pos = pos.Bool(false).Int64(int64(c.Rank))
	case o.Key == SortRelevance:
		pos = pos.Bool(false).Int64(int64(math.Float32bits(c.Score)))
	case c.NoDue:
		pos = pos.Bool(true).Int64(0)
	default:
		pos = pos.Bool(false).Time(c.Time)
	}
	return pageTokens.Encode(tokenBinding(f, o), pos.Int64(c.ID))
}

// DecodePageToken returns the cursor of a token from EncodePageToken, or
// ErrInvalidPageToken when the token is malformed, altered, or was issued
// for a filter or order other than f (normalized) and o.
func DecodePageToken(token string, f Filter, o Order) (Cursor, error) {
	r, err := pageTokens.Decode(token, tokenBinding(f, o))
	if err != nil {
		return Cursor{}, ErrInvalidPageToken
	}
	ob, noDue, v, id := r.Byte(), r.Bool(), r.Int64(), r.Int64()
	if r.Done() != nil || ob != orderByte(o) {
		return Cursor{}, ErrInvalidPageToken
	}
	c := Cursor{ID: id}
	switch {
	case o.Key == SortPriority:
		if noDue || v < 1 || v > 4 {
			return Cursor{}, ErrInvalidPageToken
		}
		c.Rank = int(v)
	case o.Key == SortRelevance:
		if noDue || v < 0 || v > math.MaxUint32 {
			return Cursor{}, ErrInvalidPageToken
		}
		c.Score = math.Float32frombits(uint32(v))
	case noDue:
		if o.Key != SortDueDate {
			return Cursor{}, ErrInvalidPageToken
		}
		c.NoDue = true
	default:
		c.Time = time.UnixMicro(v).UTC()
	}
	return c, nil
}

func orderByte(o Order) byte {
	b := byte(o.Key)
	if o.Desc {
		b |= 0x80
	}
	return b
}

// tokenBinding is a canonical encoding of o and f.
func tokenBinding(f Filter, o Order) pagetoken.Fields {
	var statuses, priorities byte
	for _, s := range f.Statuses {
		statuses |= 1 << statusIndex(s)
	}
	for _, p := range f.Priorities {
		priorities |= 1 << p.Rank()
	}
	b := pagetoken.Fields{}.Byte(orderByte(o)).Byte(statuses).Byte(priorities).
		OptInt64(f.AssignedTo).OptInt64(f.CreatedBy).
		OptTime(f.DueBefore).OptTime(f.DueAfter).OptTime(f.UpdatedAfter)
	if f.Search != nil {
		// Only a search adds to the binding, so the tokens of listings
		// without one are what they were before searches existed.
		b = append(b.Int64(int64(len(f.Search.Query))), f.Search.Query...)
	}
	if f.ShowDeleted {
		// Likewise show_deleted.
		b = b.Byte(0xde)
	}
	return b
}
