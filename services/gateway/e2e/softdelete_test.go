package e2e

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestSoftDeleteAndValidateOnly_ThroughTheGateway: the README's steps for
// a dry run (?validate_only=true writes nothing and answers the would-be
// task) and for delete → 404 → :undelete → 200, each answer checked
// against the OpenAPI document.
func TestSoftDeleteAndValidateOnly_ThroughTheGateway(t *testing.T) {
	s := startStack(t)
	anon := s.anon()
	const pw = "correct horse battery"
	signUp(t, anon, "ann", pw)
	ann := anon.as(logIn(t, anon, "ann", pw))

	dry := ann.ok("POST", "/v1/tasks?validate_only=true", obj{"title": "Dry run"})
	if str(t, dry, "id") != "0" || str(t, dry, "title") != "Dry run" {
		t.Errorf("dry create answered %v; want the task with id 0", dry)
	}
	if got := list(t, ann.ok("GET", "/v1/tasks", nil), "tasks"); len(got) != 0 {
		t.Errorf("the dry create made %d tasks", len(got))
	}

	tk := ann.ok("POST", "/v1/tasks", obj{"title": "Soft"})
	id := str(t, tk, "id")
	ann.ok("PATCH", "/v1/tasks/"+id+"?validate_only=true", obj{"title": "Renamed"})
	if got := str(t, ann.ok("GET", "/v1/tasks/"+id, nil), "title"); got != "Soft" {
		t.Errorf("dry update changed the title to %q", got)
	}
	ann.ok("DELETE", "/v1/tasks/"+id+"?validate_only=true", nil)
	ann.ok("GET", "/v1/tasks/"+id, nil)

	ann.ok("DELETE", "/v1/tasks/"+id, nil)
	ann.do("GET", "/v1/tasks/"+id, nil).wantError(t, http.StatusNotFound)
	back := ann.ok("POST", "/v1/tasks/"+id+":undelete", obj{})
	if str(t, back, "etag") == str(t, tk, "etag") {
		t.Errorf("undelete kept the etag %q", str(t, back, "etag"))
	}
	if got := ann.ok("GET", "/v1/tasks/"+id, nil); str(t, got, "etag") != str(t, back, "etag") {
		t.Errorf("GET after undelete: %v, want etag %q", got, str(t, back, "etag"))
	}
	ann.do("POST", "/v1/tasks/"+id+":undelete", obj{}).wantError(t, http.StatusBadRequest)
	ann.do("GET", "/v1/tasks?show_deleted=true", nil).wantError(t, http.StatusForbidden)
}

// TestChangeFeed_ThroughTheGateway: the README's change feed steps: the
// first call gives a token; Ann's create and delete then arrive in order,
// the delete as a tombstone; Bob's feed has none of them.
func TestChangeFeed_ThroughTheGateway(t *testing.T) {
	s := startStack(t)
	anon := s.anon()
	const pw = "correct horse battery"
	signUp(t, anon, "ann", pw)
	signUp(t, anon, "bob", pw)
	ann := anon.as(logIn(t, anon, "ann", pw))
	bob := anon.as(logIn(t, anon, "bob", pw))
	since := str(t, ann.ok("GET", "/v1/tasks:changes", nil), "next_token")
	sinceBob := str(t, bob.ok("GET", "/v1/tasks:changes", nil), "next_token")

	id := str(t, ann.ok("POST", "/v1/tasks", obj{"title": "Fed"}), "id")
	ann.ok("DELETE", "/v1/tasks/"+id, nil)
	var got []obj
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < 2 && time.Now().Before(deadline) {
		page := ann.ok("GET", "/v1/tasks:changes?since="+url.QueryEscape(since), nil)
		got = append(got, list(t, page, "changes")...)
		since = str(t, page, "next_token")
		if len(got) < 2 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if len(got) != 2 || got[0]["type"] != "TASK_CHANGE_TYPE_CREATED" || str(t, got[0], "task.title") != "Fed" ||
		got[1]["type"] != "TASK_CHANGE_TYPE_DELETED" || str(t, got[1], "tombstone.reason") != "TOMBSTONE_REASON_DELETED" {
		t.Errorf("Ann's feed: %v; want the create, then a tombstone", got)
	}
	if page := bob.ok("GET", "/v1/tasks:changes?since="+url.QueryEscape(sinceBob), nil); len(list(t, page, "changes")) != 0 {
		t.Errorf("Bob's feed: %v; want nothing", page)
	}
	ann.do("GET", "/v1/tasks:changes?since=garbage", nil).wantError(t, http.StatusBadRequest)
}
