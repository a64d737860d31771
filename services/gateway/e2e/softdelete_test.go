package e2e

import (
	"net/http"
	"testing"
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
	if _, ok := dry["id"]; ok || str(t, dry, "title") != "Dry run" {
		t.Errorf("dry create answered %v; want the task without an id", dry)
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
