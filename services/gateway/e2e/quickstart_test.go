package e2e

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestQuickstart follows the README's quickstart step by step through the
// REST gateway: three users and an admin; Ann creates tasks, lists them with
// filters and pages, patches one with a mask and an etag, assigns it to Bob;
// Bob sees it and completes it; Ann's stats show it; Ann deletes another;
// Cat, a stranger, gets 404 for Ann's task.
func TestQuickstart(t *testing.T) {
	quickstart(t, startStack(t))
}

// quickstart is TestQuickstart's journey on the stack s, which may run
// over TLS (see tls_test.go).
func quickstart(t *testing.T, s *stack) {
	t.Helper()
	anon := s.anon()
	const pw = "correct horse battery"

	// 1. Sign up, log in.
	annID := signUp(t, anon, "ann", pw)
	bobID := signUp(t, anon, "bob", pw)
	signUp(t, anon, "cat", pw)
	ann := anon.as(logIn(t, anon, "ann", pw))
	bob := anon.as(logIn(t, anon, "bob@example.com", pw)) // email works as the login too
	cat := anon.as(logIn(t, anon, "cat", pw))

	// GET /v1/users/me reaches GetCurrentUser (not GetUser with id "me").
	me := ann.ok("GET", "/v1/users/me", nil)
	if got := str(t, me, "id"); got != annID {
		t.Fatalf("/v1/users/me id = %s, want Ann's %s", got, annID)
	}
	if got := str(t, me, "email"); got != "ann@example.com" {
		t.Errorf("/v1/users/me email = %q", got)
	}

	// 2. Ann creates tasks.
	report := ann.ok("POST", "/v1/tasks", obj{
		"title": "Write the report", "description": "Q3 numbers",
		"priority": "TASK_PRIORITY_HIGH", "due_date": "2030-01-15T17:00:00Z",
	})
	milk := ann.ok("POST", "/v1/tasks", obj{"title": "Buy milk", "priority": "TASK_PRIORITY_LOW"})
	const rid = "0b9f4d7e-4c1a-4f7b-9a59-2d0c6f3b8e11"
	flights := ann.ok("POST", "/v1/tasks?request_id="+rid, obj{
		"title": "Book flights", "priority": "TASK_PRIORITY_URGENT", "status": "TASK_STATUS_IN_PROGRESS",
	})
	again := ann.ok("POST", "/v1/tasks?request_id="+rid, obj{
		"title": "Book flights", "priority": "TASK_PRIORITY_URGENT", "status": "TASK_STATUS_IN_PROGRESS",
	})
	if str(t, again, "id") != str(t, flights, "id") {
		t.Errorf("a retry with the same request_id made task %s, want the first one %s", str(t, again, "id"), str(t, flights, "id"))
	}
	reportID, milkID, flightsID := str(t, report, "id"), str(t, milk, "id"), str(t, flights, "id")
	if got := str(t, report, "created_by"); got != annID {
		t.Errorf("created_by = %s, want %s", got, annID)
	}
	if got := str(t, milk, "status"); got != "TASK_STATUS_PENDING" {
		t.Errorf("default status = %s, want TASK_STATUS_PENDING", got)
	}
	if got := str(t, report, "due_date"); got != "2030-01-15T17:00:00Z" {
		t.Errorf("due_date = %s", got)
	}

	// 3. List with filters, order and pages.
	sameSet := func(what string, got []string, want ...string) {
		t.Helper()
		slices.Sort(got)
		slices.Sort(want)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", what, diff)
		}
	}
	urgentOrHigh := ann.ok("GET", "/v1/tasks?priority=TASK_PRIORITY_HIGH&priority=TASK_PRIORITY_URGENT", nil)
	sameSet("high or urgent", ids(t, list(t, urgentOrHigh, "tasks")), reportID, flightsID)

	pending := ann.ok("GET", "/v1/tasks?status=TASK_STATUS_PENDING&order_by="+url.QueryEscape("priority desc"), nil)
	if diff := cmp.Diff([]string{reportID, milkID}, ids(t, list(t, pending, "tasks"))); diff != "" {
		t.Errorf("pending by priority desc (-want +got):\n%s", diff)
	}

	var paged []string
	page := ann.ok("GET", "/v1/tasks?page_size=2", nil)
	paged = append(paged, ids(t, list(t, page, "tasks"))...)
	if len(paged) != 2 || str(t, page, "next_page_token") == "" {
		t.Fatalf("first page of 2: %v, next_page_token %q", paged, page["next_page_token"])
	}
	page = ann.ok("GET", "/v1/tasks?page_size=2&page_token="+url.QueryEscape(str(t, page, "next_page_token")), nil)
	paged = append(paged, ids(t, list(t, page, "tasks"))...)
	if tok := str(t, page, "next_page_token"); tok != "" {
		t.Errorf("last page has next_page_token %q", tok)
	}
	sameSet("two pages", paged, reportID, milkID, flightsID)

	// 4. Patch with a mask and the etag; a stale etag is refused.
	etag := str(t, report, "etag")
	patched := ann.ok("PATCH", "/v1/tasks/"+reportID+"?update_mask=title", obj{"title": "Write the Q3 report", "etag": etag})
	if got := str(t, patched, "title"); got != "Write the Q3 report" {
		t.Errorf("title = %q", got)
	}
	if got := str(t, patched, "description"); got != "Q3 numbers" {
		t.Errorf("description = %q, want it untouched", got)
	}
	if str(t, patched, "etag") == etag {
		t.Error("etag did not change with the update")
	}
	stale := ann.do("PATCH", "/v1/tasks/"+reportID+"?update_mask=title", obj{"title": "Lost update", "etag": etag})
	stale.wantError(t, http.StatusConflict)

	// Without update_mask the fields in the body are the mask: the title
	// survives a description-only patch.
	patched = ann.ok("PATCH", "/v1/tasks/"+reportID, obj{"description": "Q3 and Q4 numbers"})
	if got := str(t, patched, "title"); got != "Write the Q3 report" {
		t.Errorf("title = %q after a description-only patch", got)
	}
	if got := str(t, patched, "description"); got != "Q3 and Q4 numbers" {
		t.Errorf("description = %q", got)
	}

	// 5. Assign to Bob; Bob sees it and completes it.
	assigned := ann.ok("POST", "/v1/tasks/"+reportID+":assign", obj{"assignee_id": bobID})
	if got := str(t, assigned, "assigned_to"); got != bobID {
		t.Fatalf("assigned_to = %s, want Bob %s", got, bobID)
	}
	sameSet("Bob's tasks", ids(t, list(t, bob.ok("GET", "/v1/tasks", nil), "tasks")), reportID)
	done := bob.ok("PATCH", "/v1/tasks/"+reportID, obj{"status": "TASK_STATUS_COMPLETED"})
	if got := str(t, done, "status"); got != "TASK_STATUS_COMPLETED" {
		t.Errorf("status = %s", got)
	}
	if done["completed_at"] == nil {
		t.Error("completed_at not set on completion")
	}
	// The assignee may change only the status.
	bob.do("PATCH", "/v1/tasks/"+reportID, obj{"title": "Bob's now"}).wantError(t, http.StatusForbidden)

	// 6. Ann's stats reflect it.
	stats := ann.ok("GET", "/v1/tasks:stats", nil)
	if got := str(t, stats, "total"); got != "3" {
		t.Errorf("total = %s, want 3", got)
	}
	found := false
	for _, c := range list(t, stats, "counts") {
		if c["status"] == "TASK_STATUS_COMPLETED" && c["priority"] == "TASK_PRIORITY_HIGH" {
			found = true
			if got := str(t, c, "count"); got != "1" {
				t.Errorf("completed/high count = %s, want 1", got)
			}
		}
	}
	if !found {
		t.Errorf("no completed/high entry in %v", stats["counts"])
	}

	// 7. Ann deletes a task; it is gone.
	ann.ok("DELETE", "/v1/tasks/"+milkID, nil)
	ann.do("GET", "/v1/tasks/"+milkID, nil).wantError(t, http.StatusNotFound)

	// 8. Cat cannot see Ann's task: 404, not 403.
	cat.do("GET", "/v1/tasks/"+reportID, nil).wantError(t, http.StatusNotFound)
	if got := list(t, cat.ok("GET", "/v1/tasks", nil), "tasks"); len(got) != 0 {
		t.Errorf("Cat lists %d tasks, want none", len(got))
	}
	cat.do("PATCH", "/v1/tasks/"+reportID, obj{"title": "mine"}).wantError(t, http.StatusNotFound)

	// 9. The admin (made with `user-service admin create`) lists users and
	// sees every task.
	s.createAdmin("root", "an admin password")
	s.createAdmin("root", "an admin password") // idempotent
	admin := anon.as(logIn(t, anon, "root", "an admin password"))
	users := list(t, admin.ok("GET", "/v1/users", nil), "users")
	if len(users) != 4 {
		t.Errorf("admin lists %d users, want 4", len(users))
	}
	admin.ok("GET", "/v1/tasks/"+reportID, nil)
	ann.do("GET", "/v1/users", nil).wantError(t, http.StatusForbidden)
}
