package e2e

import (
	"net/url"
	"testing"
)

// TestText_NULIsA400NamingTheField: a NUL character in a JSON string, a
// query parameter or a login reaches the services as text and is refused
// there, by field, before PostgreSQL (which refuses 0x00 in text) sees it.
func TestText_NULIsA400NamingTheField(t *testing.T) {
	s := startStack(t)
	anon := s.anon()
	signUp(t, anon, "nul", "correct horse battery")
	ann := anon.as(logIn(t, anon, "nul", "correct horse battery"))
	tests := []struct {
		name, method, path string
		c                  *client
		body               string
		field              string
	}{
		{"task title", "POST", "/v1/tasks", ann, `{"title": "a\u0000b"}`, "task.title"},
		{"task description", "POST", "/v1/tasks", ann, `{"title": "a", "description": "\u0000"}`, "task.description"},
		{"full name on sign-up", "POST", "/v1/users", anon, `{"email": "z@example.com", "username": "zed", "password": "correct horse battery", "full_name": "Z\u0000"}`, "full_name"},
		{"login", "POST", "/v1/auth/login", anon, `{"login": "nul\u0000", "password": "correct horse battery"}`, "login"},
		{"username on sign-up", "POST", "/v1/users", anon, `{"email": "y@example.com", "username": "y\u0000y", "password": "correct horse battery"}`, "username"},
		{"email on sign-up", "POST", "/v1/users", anon, `{"email": "y\u0000@example.com", "username": "yyy", "password": "correct horse battery"}`, "email"},
		{"password on sign-up", "POST", "/v1/users", anon, `{"email": "x@example.com", "username": "xxx", "password": "correct horse\u0000battery"}`, "password"},
		{"password on login", "POST", "/v1/auth/login", anon, `{"login": "nul", "password": "correct horse\u0000battery"}`, "password"},
		{"refresh token", "POST", "/v1/auth/refresh", anon, `{"refresh_token": "\u0000"}`, "refresh_token"},
		{"task title on PATCH", "PATCH", "/v1/tasks/1", ann, `{"title": "\u0000"}`, "task.title"},
		{"full name on PATCH", "PATCH", "/v1/users/1", ann, `{"full_name": "\u0000"}`, "user.full_name"},
		{"page token", "GET", "/v1/tasks?page_token=" + url.QueryEscape("a\x00"), ann, "", "page_token"},
		{"order_by filter", "GET", "/v1/tasks?order_by=" + url.QueryEscape("priority\x00"), ann, "", "order_by"},
		{"request_id", "POST", "/v1/tasks?request_id=" + url.QueryEscape("\x00"), ann, `{"title": "a"}`, "request_id"},
		{"update mask", "PATCH", "/v1/tasks/1?update_mask=" + url.QueryEscape("title\x00"), ann, `{"title": "a"}`, "update_mask.paths[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.body != "" {
				body = []byte(tt.body)
			}
			r := tt.c.do(tt.method, tt.path, body)
			for _, d := range r.wantError(t, 400)["details"].([]any) {
				for _, v := range asList(d.(obj)["field_violations"]) {
					if v.(obj)["field"] == tt.field {
						return
					}
				}
			}
			t.Errorf("no field violation for %q in %s", tt.field, r.raw)
		})
	}
}
