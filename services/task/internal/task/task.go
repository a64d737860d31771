// Package task is the task service's domain: the Task and its vocabulary,
// the rules for who may do what to a task, listing (filters, order, page
// tokens), and the Service that applies them on top of a Store and a
// UserDirectory, both declared here as the interfaces this layer needs.
//
// Nothing in this package speaks SQL or gRPC: the store (taskstore) and the
// transport (taskapi) depend on it, never the other way round.
package task

import (
	"crypto/sha256"
	"encoding/binary"
	"strconv"
	"strings"
	"time"
)

// Status is where a task stands. Its values are the ones the database's
// task_status_check accepts.
type Status string

// The statuses, in workflow order.
const (
	StatusPending    Status = "pending"
	StatusInProgress Status = "in_progress"
	StatusCompleted  Status = "completed"
)

// Statuses lists every status in workflow order.
func Statuses() []Status { return []Status{StatusPending, StatusInProgress, StatusCompleted} }

// Valid reports whether s is one of the defined statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusInProgress, StatusCompleted:
		return true
	}
	return false
}

// Priority is how urgent a task is. Its values are the ones the database's
// task_priority_check accepts; they sort by Rank, not alphabetically.
type Priority string

// The priorities, in rank order.
const (
	PriorityLow    Priority = "low"
	PriorityMedium Priority = "medium"
	PriorityHigh   Priority = "high"
	PriorityUrgent Priority = "urgent"
)

// Priorities lists every priority in rank order.
func Priorities() []Priority {
	return []Priority{PriorityLow, PriorityMedium, PriorityHigh, PriorityUrgent}
}

// Rank returns the priority's position in the order low (1) < medium (2) <
// high (3) < urgent (4), or 0 for an undefined priority.
func (p Priority) Rank() int {
	switch p {
	case PriorityLow:
		return 1
	case PriorityMedium:
		return 2
	case PriorityHigh:
		return 3
	case PriorityUrgent:
		return 4
	}
	return 0
}

// Valid reports whether p is one of the defined priorities.
func (p Priority) Valid() bool { return p.Rank() != 0 }

// Task is a unit of work. Times are UTC; DueDate and CompletedAt are nil when
// unset; AssignedTo is 0 when nobody is assigned.
type Task struct {
	ID          int64
	Title       string
	Description string
	Status      Status
	Priority    Priority
	DueDate     *time.Time
	CreatedBy   int64
	AssignedTo  int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
	CompletedAt *time.Time
	// Version starts at 1 and grows by one with every write of the row.
	Version int64
	// DeletedAt is when the task was deleted; nil for a live task. Only an
	// admin's listing with ShowDeleted and the change feed return deleted
	// tasks.
	DeletedAt *time.Time
	// Relevance is how well the task matches the search of a listing
	// ordered by relevance (higher is better); 0 in every other result.
	Relevance float32
}

// etagPrefix starts every etag; the rest is the task's version in base 10.
const etagPrefix = "v"

// Etag returns the task's entity tag: an opaque string that changes with
// every write of the task.
func (t Task) Etag() string { return etagPrefix + strconv.FormatInt(t.Version, 10) }

// Condition is the version a conditional write expects the task to have.
// The zero Condition means "unconditional".
type Condition struct {
	version int64 // 0: none; -1: an etag no task can have
	set     bool
}

// IfEtag returns the Condition for an etag sent by a client: the empty etag
// means unconditional; an etag that is not one this package issued can never
// match, so a write conditioned on it is refused as stale.
func IfEtag(etag string) Condition {
	if etag == "" {
		return Condition{}
	}
	digits, ok := strings.CutPrefix(etag, etagPrefix)
	if !ok {
		return Condition{version: -1, set: true}
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || v < 1 || strconv.FormatInt(v, 10) != digits {
		return Condition{version: -1, set: true}
	}
	return Condition{version: v, set: true}
}

// Version returns the version the write requires and whether there is a
// condition at all.
func (c Condition) Version() (int64, bool) { return c.version, c.set }

// Holds reports whether t satisfies the condition.
func (c Condition) Holds(t Task) bool { return !c.set || c.version == t.Version }

// NewTask is what a caller gives to create a task.
type NewTask struct {
	Title       string
	Description string
	// Status and Priority may be empty, meaning StatusPending and
	// PriorityMedium.
	Status   Status
	Priority Priority
	DueDate  *time.Time
}

// normalize applies the defaults, converts the due date to UTC and checks
// what the proto rules cannot say (a title must not be blank).
func (n NewTask) normalize() (NewTask, error) {
	if strings.TrimSpace(n.Title) == "" {
		return n, ErrTitleRequired
	}
	if n.Status == "" {
		n.Status = StatusPending
	}
	if n.Priority == "" {
		n.Priority = PriorityMedium
	}
	if !n.Status.Valid() {
		return n, ErrInvalidStatus
	}
	if !n.Priority.Valid() {
		return n, ErrInvalidPriority
	}
	n.DueDate = utc(n.DueDate)
	return n, nil
}

// fingerprint returns a SHA-256 over a canonical encoding of the normalized
// n: two creates with the same request_id must carry the same fingerprint.
func (n NewTask) fingerprint() []byte {
	h := sha256.New()
	writeString := func(s string) {
		var l [8]byte
		binary.BigEndian.PutUint64(l[:], uint64(len(s)))
		h.Write(l[:])
		h.Write([]byte(s))
	}
	writeString(n.Title)
	writeString(n.Description)
	writeString(string(n.Status))
	writeString(string(n.Priority))
	if n.DueDate != nil {
		writeString(strconv.FormatInt(n.DueDate.UnixMicro(), 10))
	} else {
		writeString("")
	}
	return h.Sum(nil)
}

// Field is one field an update may change.
type Field uint8

// The fields an update may change.
const (
	FieldTitle Field = 1 << iota
	FieldDescription
	FieldStatus
	FieldPriority
	FieldDueDate
)

// Fields is a set of Field values.
type Fields uint8

// Has reports whether f contains field.
func (f Fields) Has(field Field) bool { return uint8(f)&uint8(field) != 0 }

// With returns f with field added.
func (f Fields) With(field Field) Fields { return Fields(uint8(f) | uint8(field)) }

// FieldByPath returns the Field an update_mask path names (title,
// description, status, priority, due_date).
func FieldByPath(path string) (Field, bool) {
	switch path {
	case "title":
		return FieldTitle, true
	case "description":
		return FieldDescription, true
	case "status":
		return FieldStatus, true
	case "priority":
		return FieldPriority, true
	case "due_date":
		return FieldDueDate, true
	}
	return 0, false
}

// Patch is an update of some of a task's fields: only those in Fields are
// written, with the values given here.
type Patch struct {
	ID          int64
	Fields      Fields
	Title       string
	Description string
	Status      Status
	Priority    Priority
	DueDate     *time.Time // nil clears the due date when FieldDueDate is set
	If          Condition
}

// Changes returns the fields of p whose values differ from t's: the fields
// that writing p to t really changes. The store's conditional UPDATE applies
// the same rule in SQL, so that authorization and write are one statement.
func (p Patch) Changes(t Task) Fields {
	var f Fields
	if p.Fields.Has(FieldTitle) && p.Title != t.Title {
		f = f.With(FieldTitle)
	}
	if p.Fields.Has(FieldDescription) && p.Description != t.Description {
		f = f.With(FieldDescription)
	}
	if p.Fields.Has(FieldStatus) && p.Status != t.Status {
		f = f.With(FieldStatus)
	}
	if p.Fields.Has(FieldPriority) && p.Priority != t.Priority {
		f = f.With(FieldPriority)
	}
	if p.Fields.Has(FieldDueDate) && !sameTime(p.DueDate, t.DueDate) {
		f = f.With(FieldDueDate)
	}
	return f
}

// sameTime reports whether a and b are both unset or the same instant at
// the database's precision (microseconds).
func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Round(time.Microsecond).Equal(b.Round(time.Microsecond))
}

// normalize checks the values of the fields the patch writes.
func (p Patch) normalize() (Patch, error) {
	if p.Fields == 0 {
		return p, ErrNothingToUpdate
	}
	if p.Fields.Has(FieldTitle) && strings.TrimSpace(p.Title) == "" {
		return p, ErrTitleRequired
	}
	if p.Fields.Has(FieldStatus) && !p.Status.Valid() {
		return p, ErrInvalidStatus
	}
	if p.Fields.Has(FieldPriority) && !p.Priority.Valid() {
		return p, ErrInvalidPriority
	}
	p.DueDate = utc(p.DueDate)
	return p, nil
}

// Count is the number of tasks with one status and one priority.
type Count struct {
	Status   Status
	Priority Priority
	N        int64
}

// Stats summarises the tasks a user created.
type Stats struct {
	// Counts has one entry per status and priority with at least one task,
	// ordered by status then priority rank.
	Counts []Count
	// Total counts all the tasks; Overdue those past their due date and not
	// completed.
	Total, Overdue int64
}

// utc returns t in UTC (nil stays nil).
func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
