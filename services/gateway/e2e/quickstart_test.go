package e2e

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
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
	annLogin := anon.ok("POST", "/v1/auth/login", obj{"login": "ann", "password": pw})
	annToken := str(t, annLogin, "tokens.access_token")
	ann := anon.as(annToken)
	bobToken := logIn(t, anon, "bob@example.com", pw) // email works as the login too
	bob := anon.as(bobToken)
	catToken := logIn(t, anon, "cat", pw)
	cat := anon.as(catToken)
	const wrongPW = "not Cat's password"
	anon.do("POST", "/v1/auth/login", obj{"login": "cat", "password": wrongPW}).wantError(t, http.StatusUnauthorized)

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
	adminToken := logIn(t, anon, "root", "an admin password")
	admin := anon.as(adminToken)
	users := list(t, admin.ok("GET", "/v1/users", nil), "users")
	if len(users) != 4 {
		t.Errorf("admin lists %d users, want 4", len(users))
	}
	admin.ok("GET", "/v1/tasks/"+reportID, nil)
	ann.do("GET", "/v1/users", nil).wantError(t, http.StatusForbidden)

	// 10. The report's history, newest first, two per page; Bob, its
	// assignee, reads it too; Cat gets 404 as for the task itself.
	var history []obj
	path := "/v1/tasks/" + reportID + "/events?page_size=2"
	for pages := 1; ; pages++ {
		page := ann.ok("GET", path, nil)
		history = append(history, list(t, page, "events")...)
		next, _ := page["next_page_token"].(string)
		if next == "" {
			break
		}
		if pages == 10 {
			t.Fatal("the history does not end")
		}
		path = "/v1/tasks/" + reportID + "/events?page_size=2&page_token=" + url.QueryEscape(next)
	}
	var actions []string
	for _, e := range history {
		actions = append(actions, str(t, e, "action"))
	}
	wantActions := []string{"task.status_change", "task.assign", "task.update", "task.update", "task.create"}
	if diff := cmp.Diff(wantActions, actions); diff != "" {
		t.Errorf("history of the report (-want +got):\n%s", diff)
	}
	if len(history) == 5 {
		if got := str(t, history[0], "actor_id"); got != bobID {
			t.Errorf("the completion's actor = %s, want Bob %s", got, bobID)
		}
		if got := str(t, history[0], "actor_kind"); got != "AUDIT_ACTOR_KIND_USER" {
			t.Errorf("actor_kind = %s", got)
		}
		var title obj
		for _, c := range list(t, history[3], "changes") {
			if c["field"] == "title" {
				title = c
			}
		}
		if title["old_value"] != "Write the report" || title["new_value"] != "Write the Q3 report" {
			t.Errorf("the title change = %v", title)
		}
	}
	if got := list(t, bob.ok("GET", "/v1/tasks/"+reportID+"/events", nil), "events"); len(got) != len(history) {
		t.Errorf("Bob reads %d events, Ann %d", len(got), len(history))
	}
	cat.do("GET", "/v1/tasks/"+reportID+"/events", nil).wantError(t, http.StatusNotFound)

	// 11. The admin searches the task audit log; the deleted task's events
	// are there; Ann may not list it.
	deleted := list(t, admin.ok("GET", "/v1/taskAuditEvents?task_id="+milkID+"&action=task.delete&actor_id="+annID+
		"&start_time=2020-01-01T00:00:00Z&end_time=2100-01-01T00:00:00Z&page_size=5", nil), "events")
	if len(deleted) != 1 || str(t, deleted[0], "task_id") != milkID {
		t.Errorf("the deletion of the milk task in the audit log: %v", deleted)
	}
	ann.do("GET", "/v1/taskAuditEvents", nil).wantError(t, http.StatusForbidden)
	failed := list(t, admin.ok("GET", "/v1/userAuditEvents?action=user.login_failed&page_size=1", nil), "events")
	if len(failed) != 1 || str(t, failed[0], "action") != "user.login_failed" {
		t.Errorf("Cat's failed sign-in in the audit log: %v", failed)
	}
	signUps := list(t, admin.ok("GET", "/v1/userAuditEvents?action=user.sign_up&target_user_id="+annID+"&start_time=2020-01-01T00:00:00Z", nil), "events")
	if len(signUps) != 1 {
		t.Errorf("Ann's sign-up in the audit log: %v", signUps)
	}
	ann.do("GET", "/v1/userAuditEvents", nil).wantError(t, http.StatusForbidden)

	// 12. No audit row of either service holds a password, a password hash
	// or a token used in this journey.
	secrets := []string{pw, wrongPW, "an admin password", annToken, bobToken, catToken, adminToken,
		str(t, annLogin, "tokens.refresh_token")}
	hashes, err := s.db.Owner.Query(t.Context(), `SELECT password_hash FROM "user"`)
	if err != nil {
		t.Fatal(err)
	}
	for hashes.Next() {
		var h string
		if err := hashes.Scan(&h); err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, h)
	}
	if err := hashes.Err(); err != nil || len(secrets) != 12 {
		t.Fatalf("read %d secrets: %v", len(secrets), err)
	}
	for _, table := range []string{"user_audit_event", "task_audit_event"} {
		rows, err := s.db.Owner.Query(t.Context(), `SELECT t::text FROM `+table+` t`)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var row string
			if err := rows.Scan(&row); err != nil {
				t.Fatal(err)
			}
			n++
			for _, secret := range secrets {
				if strings.Contains(row, secret) {
					t.Errorf("a row of %s holds a secret of the journey: %s", table, row)
				}
			}
		}
		if err := rows.Err(); err != nil || n == 0 {
			t.Errorf("scanned %d rows of %s: %v", n, table, err)
		}
	}
}
