package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// fieldViolations returns the field paths an error body names.
func fieldViolations(body obj) []string {
	var out []string
	for _, d := range asList(body["details"]) {
		for _, v := range asList(d.(obj)["field_violations"]) {
			out = append(out, v.(obj)["field"].(string))
		}
	}
	return out
}

// TestBatchAndSearchOverREST drives POST /v1/tasks:batchCreate,
// :batchUpdate and :batchDelete and GET /v1/tasks?q= through the gateway,
// every response checked against the OpenAPI document.
func TestBatchAndSearchOverREST(t *testing.T) {
	s := startStack(t)
	anon := s.anon()
	const pw = "correct horse battery"
	signUp(t, anon, "ann", pw)
	ann := anon.as(logIn(t, anon, "ann", pw))

	batch := obj{"requests": []obj{
		{"task": obj{"title": "Plan sprint 12", "description": "with the team"}, "request_id": "6f1c2b1e-8a55-4c1d-9d2e-1a0b2c3d4e5f"},
		{"task": obj{"title": "Review the report", "priority": "TASK_PRIORITY_HIGH"}},
		{"task": obj{"title": "plan the spring party"}},
	}}
	created := list(t, ann.ok("POST", "/v1/tasks:batchCreate", batch), "tasks")
	if len(created) != 3 || str(t, created[1], "title") != "Review the report" {
		t.Fatalf("batchCreate: %v", created)
	}
	// An invalid item: 400 naming it, and nothing written.
	bad := obj{"requests": []obj{{"task": obj{"title": "fine"}}, {"task": obj{"title": "   "}}}}
	if got := fieldViolations(ann.do("POST", "/v1/tasks:batchCreate", bad).wantError(t, http.StatusBadRequest)); !strings.Contains(strings.Join(got, ","), "requests[1].task.title") {
		t.Errorf("invalid item: field violations %v, want requests[1].task.title", got)
	}

	found := list(t, ann.ok("GET", "/v1/tasks?q="+url.QueryEscape("plan sp")+"&order_by=relevance", nil), "tasks")
	if got := ids(t, found); len(got) != 2 || got[0] != str(t, created[0], "id") {
		t.Errorf("q=plan sp by relevance: %v, want Plan sprint 12 then the spring party", found)
	}
	if got := fieldViolations(ann.do("GET", "/v1/tasks?q=", nil).wantError(t, http.StatusBadRequest)); strings.Join(got, ",") != "q" {
		t.Errorf("empty q: field violations %v, want q", got)
	}

	update := obj{"requests": []obj{
		{"task": obj{"id": str(t, created[0], "id"), "title": "Plan sprint 13", "etag": str(t, created[0], "etag")}, "update_mask": "title"},
		{"task": obj{"id": str(t, created[1], "id"), "status": "TASK_STATUS_COMPLETED", "etag": "v9"}, "update_mask": "status"},
	}}
	conflict := ann.do("POST", "/v1/tasks:batchUpdate", update).wantError(t, http.StatusConflict)
	if msg, _ := conflict["message"].(string); !strings.HasPrefix(msg, "requests[1]: ") {
		t.Errorf("stale etag: message %q does not name requests[1]", msg)
	}
	if got := str(t, ann.ok("GET", "/v1/tasks/"+str(t, created[0], "id"), nil), "title"); got != "Plan sprint 12" {
		t.Errorf("after the refused batch the title is %q", got)
	}
	update["requests"].([]obj)[1]["task"].(obj)["etag"] = str(t, created[1], "etag")
	updated := list(t, ann.ok("POST", "/v1/tasks:batchUpdate", update), "tasks")
	if str(t, updated[0], "title") != "Plan sprint 13" || str(t, updated[1], "status") != "TASK_STATUS_COMPLETED" {
		t.Errorf("batchUpdate: %v", updated)
	}

	del := obj{"requests": []obj{{"id": str(t, created[0], "id")}, {"id": str(t, created[2], "id")}}}
	if got := ann.ok("POST", "/v1/tasks:batchDelete", del); len(got) != 0 {
		t.Errorf("batchDelete answered %v, want {}", got)
	}
	if left := list(t, ann.ok("GET", "/v1/tasks", nil), "tasks"); len(left) != 1 {
		t.Errorf("%d tasks left, want 1", len(left))
	}
}
