package e2e

import (
	"net/http"
	"testing"
)

// TestResourcesAsThemselves checks the shapes a generated client relies on:
// standard methods answer the resource at the top level, unset values are
// absent (no "assigned_to": "0", no null timestamps), and a public profile
// carries only the public fields.
func TestResourcesAsThemselves(t *testing.T) {
	s := startStack(t)
	anon := s.anon()
	const pw = "correct horse battery"
	signUp(t, anon, "dan", pw)
	eveID := signUp(t, anon, "eve", pw)
	dan := anon.as(logIn(t, anon, "dan", pw))

	created := dan.ok("POST", "/v1/tasks", obj{"title": "Top level"})
	id := str(t, created, "id")
	for name, got := range map[string]obj{
		"POST":   created,
		"GET":    dan.ok("GET", "/v1/tasks/"+id, nil),
		"PATCH":  dan.ok("PATCH", "/v1/tasks/"+id, obj{"description": "d"}),
		"assign": dan.ok("POST", "/v1/tasks/"+id+":assign", obj{"assignee_id": "0"}),
	} {
		if str(t, got, "id") != id || str(t, got, "title") != "Top level" {
			t.Errorf("%s: not the task at the top level: %v", name, got)
		}
		for _, absent := range []string{"assigned_to", "due_date", "completed_at", "task"} {
			if v, ok := got[absent]; ok {
				t.Errorf("%s: unassigned, undated, open task has %q = %v, want it absent", name, absent, v)
			}
		}
		if got["created_at"] == nil || got["updated_at"] == nil {
			t.Errorf("%s: created_at/updated_at missing: %v", name, got)
		}
	}

	// Delete answers google.protobuf.Empty: {}.
	if got := dan.ok("DELETE", "/v1/tasks/"+id, nil); len(got) != 0 {
		t.Errorf("DELETE answered %v, want {}", got)
	}

	// Another user's public profile: id, username, full_name; nothing of
	// the account (email, flags, times) appears, not even as "" or false.
	profile := dan.ok("GET", "/v1/users/"+eveID, nil)
	if str(t, profile, "username") != "eve" || str(t, profile, "id") != eveID {
		t.Errorf("public profile: %v", profile)
	}
	for _, absent := range []string{"email", "is_active", "is_verified", "is_admin", "created_at", "updated_at"} {
		if v, ok := profile[absent]; ok {
			t.Errorf("public profile has %q = %v, want it absent", absent, v)
		}
	}
	// The whole user shows false flags as false.
	me := dan.ok("GET", "/v1/users/me", nil)
	if me["is_admin"] != false || me["is_active"] != true || str(t, me, "email") != "dan@example.com" {
		t.Errorf("whole user: %v", me)
	}
}

// TestPatchTheRESTWay checks PATCH as REST clients write it: no update_mask
// (the body's keys minus the etag and output-only fields are the mask), a
// whole object read with GET and sent back edited, and an assignee sending
// back unchanged values along with the status it may change.
func TestPatchTheRESTWay(t *testing.T) {
	s := startStack(t)
	anon := s.anon()
	const pw = "correct horse battery"
	signUp(t, anon, "fay", pw)
	gusID := signUp(t, anon, "gus", pw)
	fay := anon.as(logIn(t, anon, "fay", pw))
	gus := anon.as(logIn(t, anon, "gus", pw))

	task := fay.ok("POST", "/v1/tasks", obj{"title": "Plan", "description": "first draft", "priority": "TASK_PRIORITY_HIGH"})
	id, etag := str(t, task, "id"), str(t, task, "etag")

	// A conditional PATCH without a mask.
	patched := fay.ok("PATCH", "/v1/tasks/"+id, obj{"title": "Plan v2", "etag": etag})
	if str(t, patched, "title") != "Plan v2" || str(t, patched, "description") != "first draft" {
		t.Errorf("PATCH {title, etag}: %v", patched)
	}
	// The same with the now stale etag: 409, nothing changed.
	fay.do("PATCH", "/v1/tasks/"+id, obj{"title": "Lost update", "etag": etag}).wantError(t, http.StatusConflict)
	if got := str(t, fay.ok("GET", "/v1/tasks/"+id, nil), "title"); got != "Plan v2" {
		t.Errorf("title after a stale PATCH = %q, want Plan v2", got)
	}

	// GET → edit → PATCH of the whole object, output-only fields and all.
	whole := fay.ok("GET", "/v1/tasks/"+id, nil)
	whole["description"] = "second draft"
	whole["priority"] = "TASK_PRIORITY_URGENT"
	edited := fay.ok("PATCH", "/v1/tasks/"+id, whole)
	if str(t, edited, "description") != "second draft" || str(t, edited, "priority") != "TASK_PRIORITY_URGENT" || str(t, edited, "title") != "Plan v2" {
		t.Errorf("whole-object PATCH: %v", edited)
	}
	if str(t, edited, "created_by") != str(t, whole, "created_by") || str(t, edited, "created_at") != str(t, whole, "created_at") {
		t.Errorf("whole-object PATCH changed output-only fields: %v", edited)
	}

	// The assignee may send back the title it read while completing.
	fay.ok("POST", "/v1/tasks/"+id+":assign", obj{"assignee_id": gusID})
	read := gus.ok("GET", "/v1/tasks/"+id, nil)
	done := gus.ok("PATCH", "/v1/tasks/"+id, obj{"title": str(t, read, "title"), "status": "TASK_STATUS_COMPLETED"})
	if str(t, done, "status") != "TASK_STATUS_COMPLETED" {
		t.Errorf("assignee completing with the unchanged title: %v", done)
	}
	// So may it send back the whole object with a new status.
	read = gus.ok("GET", "/v1/tasks/"+id, nil)
	read["status"] = "TASK_STATUS_IN_PROGRESS"
	gus.ok("PATCH", "/v1/tasks/"+id, read)
	// But a changed title is refused, and nothing changes.
	gus.do("PATCH", "/v1/tasks/"+id, obj{"title": "Gus's plan", "status": "TASK_STATUS_COMPLETED"}).wantError(t, http.StatusForbidden)
	after := fay.ok("GET", "/v1/tasks/"+id, nil)
	if str(t, after, "title") != "Plan v2" || str(t, after, "status") != "TASK_STATUS_IN_PROGRESS" {
		t.Errorf("task after the assignee's refused PATCH: %v", after)
	}

	// The user resource the same way: the whole user back with a new name.
	me := fay.ok("GET", "/v1/users/me", nil)
	me["full_name"] = "Fay F."
	if got := fay.ok("PATCH", "/v1/users/"+str(t, me, "id"), me); str(t, got, "full_name") != "Fay F." || str(t, got, "email") != "fay@example.com" {
		t.Errorf("whole-user PATCH: %v", got)
	}
}
