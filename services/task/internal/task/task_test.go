package task

import (
	"encoding/base64"
	"errors"
	"testing"
	"time"
)

func TestParseOrder(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Order
		err  bool
	}{
		{"", DefaultOrder, false},
		{"  ", DefaultOrder, false},
		{"created_at", Order{Key: SortCreatedAt}, false},
		{"created_at desc", Order{Key: SortCreatedAt, Desc: true}, false},
		{"updated_at asc", Order{Key: SortUpdatedAt}, false},
		{"due_date DESC", Order{Key: SortDueDate, Desc: true}, false},
		{" priority  desc ", Order{Key: SortPriority, Desc: true}, false},
		{"title", Order{}, true},
		{"priority down", Order{}, true},
		{"priority desc id", Order{}, true},
		{"created_at,priority", Order{}, true},
	} {
		got, err := ParseOrder(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseOrder(%q) = %+v, %v; want %+v, error %v", tc.in, got, err, tc.want, tc.err)
		}
		if err != nil && !errors.Is(err, ErrInvalidOrder) {
			t.Errorf("ParseOrder(%q) error %v is not ErrInvalidOrder", tc.in, err)
		}
	}
}

func TestPriorityRankOrder(t *testing.T) {
	ps := Priorities()
	for i := 1; i < len(ps); i++ {
		if ps[i-1].Rank() >= ps[i].Rank() {
			t.Errorf("%s ranks %d, not below %s (%d)", ps[i-1], ps[i-1].Rank(), ps[i], ps[i].Rank())
		}
	}
	if Priority("critical").Valid() {
		t.Error("an undefined priority is valid")
	}
}

func TestEtag(t *testing.T) {
	tk := Task{Version: 7}
	if !IfEtag(tk.Etag()).Holds(tk) {
		t.Errorf("IfEtag(%q) does not hold for its task", tk.Etag())
	}
	if IfEtag((Task{Version: 8}).Etag()).Holds(tk) {
		t.Error("another version's etag holds")
	}
	if !IfEtag("").Holds(tk) {
		t.Error("the empty etag is not unconditional")
	}
	for _, bad := range []string{"7", "v07", "v", "v-1", "v0", "W/\"7\"", "v7 ", "vx"} {
		c := IfEtag(bad)
		if _, set := c.Version(); !set || c.Holds(tk) {
			t.Errorf("malformed etag %q: %+v holds or is unconditional", bad, c)
		}
	}
}

func TestAuthorize(t *testing.T) {
	tk := Task{CreatedBy: 1, AssignedTo: 2}
	unassigned := Task{CreatedBy: 1}
	creator, assignee, stranger, admin := Caller{UserID: 1}, Caller{UserID: 2}, Caller{UserID: 3}, Caller{UserID: 4, Admin: true}
	actions := []Action{ActionRead, ActionSetStatus, ActionEdit, ActionAssign, ActionDelete}
	for _, a := range actions {
		for _, tc := range []struct {
			name string
			c    Caller
			t    Task
			want error
		}{
			{"creator", creator, tk, nil},
			{"admin", admin, tk, nil},
			{"stranger", stranger, tk, ErrNotFound},
			{"nobody on unassigned", Caller{}, unassigned, ErrNotFound},
			{"assignee", assignee, tk, map[bool]error{true: nil, false: ErrPermissionDenied}[a == ActionRead || a == ActionSetStatus]},
		} {
			if got := Authorize(tc.c, tc.t, a); !errors.Is(got, tc.want) || (got == nil) != (tc.want == nil) {
				t.Errorf("Authorize(%s, action %d) = %v, want %v", tc.name, a, got, tc.want)
			}
		}
	}
	if ActionFor(Fields(FieldStatus)) != ActionSetStatus || ActionFor(Fields(FieldStatus).With(FieldTitle)) != ActionEdit {
		t.Error("ActionFor: only a status-only update is ActionSetStatus")
	}
}

func TestPatchChanges(t *testing.T) {
	due := time.Date(2030, 2, 1, 0, 0, 0, 0, time.UTC)
	later := due.Add(time.Hour)
	tk := Task{Title: "t", Description: "d", Status: StatusPending, Priority: PriorityHigh, DueDate: &due}
	all := Fields(FieldTitle).With(FieldDescription).With(FieldStatus).With(FieldPriority).With(FieldDueDate)
	same := Patch{Fields: all, Title: "t", Description: "d", Status: StatusPending, Priority: PriorityHigh, DueDate: new(due.Add(400 * time.Nanosecond))}
	if got := same.Changes(tk); got != 0 {
		t.Errorf("the task's own values: changes %b, want none", got)
	}
	statusOnly := same
	statusOnly.Status = StatusCompleted
	if got := statusOnly.Changes(tk); got != Fields(FieldStatus) || ActionFor(got) != ActionSetStatus {
		t.Errorf("new status with the rest unchanged: changes %b", got)
	}
	for name, p := range map[string]Patch{
		"title":       {Fields: Fields(FieldTitle), Title: "u"},
		"description": {Fields: Fields(FieldDescription)},
		"priority":    {Fields: Fields(FieldPriority), Priority: PriorityLow},
		"due date":    {Fields: Fields(FieldDueDate), DueDate: &later},
		"no due date": {Fields: Fields(FieldDueDate)},
	} {
		if got := p.Changes(tk); got != p.Fields || ActionFor(got) != ActionEdit {
			t.Errorf("%s: changes %b, want %b (an edit)", name, got, p.Fields)
		}
	}
	// A value outside the mask is not a change, whatever it is.
	if got := (Patch{Fields: Fields(FieldStatus), Status: StatusPending, Title: "other"}).Changes(tk); got != 0 {
		t.Errorf("unmasked title: changes %b", got)
	}
}

func TestNewTaskNormalize(t *testing.T) {
	n, err := NewTask{Title: "x"}.normalize()
	if err != nil || n.Status != StatusPending || n.Priority != PriorityMedium {
		t.Errorf("defaults: %+v, %v", n, err)
	}
	for _, bad := range []NewTask{{}, {Title: " \t\n"}} {
		if _, err := bad.normalize(); !errors.Is(err, ErrTitleRequired) {
			t.Errorf("%+v: %v, want ErrTitleRequired", bad, err)
		}
	}
	// Equivalent bodies share a fingerprint; different ones do not.
	explicit, _ := NewTask{Title: "x", Status: StatusPending, Priority: PriorityMedium}.normalize()
	if string(n.fingerprint()) != string(explicit.fingerprint()) {
		t.Error("defaults and their explicit values fingerprint differently")
	}
	due := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, other := range []NewTask{{Title: "y"}, {Title: "x", Description: "d"}, {Title: "x", DueDate: &due}, {Title: "x", Priority: PriorityHigh}, {Title: "x\x00", Description: ""}, {Title: "x", Description: "\x00"}} {
		o, _ := other.normalize()
		if string(o.fingerprint()) == string(n.fingerprint()) {
			t.Errorf("%+v fingerprints like %+v", other, n)
		}
	}
}

func allOrders() []Order {
	var os []Order
	for _, k := range []SortKey{SortCreatedAt, SortUpdatedAt, SortDueDate, SortPriority} {
		os = append(os, Order{Key: k}, Order{Key: k, Desc: true})
	}
	return os
}

func TestPageToken_RoundTrip(t *testing.T) {
	at := time.Date(2025, 6, 1, 12, 30, 45, 123456000, time.UTC)
	f, _ := Filter{Statuses: []Status{StatusCompleted, StatusPending}, CreatedBy: new(int64(5)), DueAfter: &at}.normalize()
	for _, o := range allOrders() {
		cursors := []Cursor{{ID: 42, Time: at}}
		switch o.Key {
		case SortDueDate:
			cursors = append(cursors, Cursor{ID: 43, NoDue: true})
		case SortPriority:
			cursors = []Cursor{{ID: 44, Rank: 1}, {ID: 45, Rank: 4}}
		}
		for _, c := range cursors {
			tok := EncodePageToken(f, o, c)
			got, err := DecodePageToken(tok, f, o)
			if err != nil || got != c {
				t.Errorf("order %+v: decode(encode(%+v)) = %+v, %v", o, c, got, err)
			}
		}
	}
}

func TestPageToken_RejectsAlteredOrMismatched(t *testing.T) {
	at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	f, _ := Filter{Priorities: []Priority{PriorityHigh}}.normalize()
	o := Order{Key: SortDueDate}
	tok := EncodePageToken(f, o, Cursor{ID: 9, Time: at})
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	for i := range raw {
		for _, bit := range []byte{1, 0x80} {
			b := append([]byte(nil), raw...)
			b[i] ^= bit
			if _, err := DecodePageToken(base64.RawURLEncoding.EncodeToString(b), f, o); !errors.Is(err, ErrInvalidPageToken) {
				t.Errorf("byte %d xor %#x accepted: %v", i, bit, err)
			}
		}
	}
	g, _ := Filter{Priorities: []Priority{PriorityHigh, PriorityLow}}.normalize()
	for name, tc := range map[string]struct {
		tok string
		f   Filter
		o   Order
	}{
		"other filter":    {tok, g, o},
		"other order":     {tok, f, Order{Key: SortDueDate, Desc: true}},
		"other key":       {tok, f, Order{Key: SortCreatedAt}},
		"truncated":       {tok[:len(tok)-2], f, o},
		"not base64":      {"***", f, o},
		"empty (decoded)": {"AA", f, o},
	} {
		if _, err := DecodePageToken(tc.tok, tc.f, tc.o); !errors.Is(err, ErrInvalidPageToken) {
			t.Errorf("%s: %v, want ErrInvalidPageToken", name, err)
		}
	}
}

func BenchmarkEncodePageToken(b *testing.B) {
	at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	f, _ := Filter{Statuses: []Status{StatusPending}, AssignedTo: new(int64(7)), DueBefore: &at}.normalize()
	o := Order{Key: SortDueDate, Desc: true}
	c := Cursor{ID: 123456, Time: at}
	for b.Loop() {
		_ = EncodePageToken(f, o, c)
	}
}

func BenchmarkDecodePageToken(b *testing.B) {
	at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	f, _ := Filter{Statuses: []Status{StatusPending}, AssignedTo: new(int64(7)), DueBefore: &at}.normalize()
	o := Order{Key: SortDueDate, Desc: true}
	tok := EncodePageToken(f, o, Cursor{ID: 123456, Time: at})
	for b.Loop() {
		if _, err := DecodePageToken(tok, f, o); err != nil {
			b.Fatal(err)
		}
	}
}
