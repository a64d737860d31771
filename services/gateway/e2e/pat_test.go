package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// TestPersonalAccessToken_BothServicesAcceptScopeAndRevocation: a
// personal access token works as a bearer token on both services, a
// read-only one is refused for writes (403) on both, and a revoked one is
// refused by both within the revocation bound.
func TestPersonalAccessToken_BothServicesAcceptScopeAndRevocation(t *testing.T) {
	s := startStack(t)
	anon := s.anon()
	const pw = "correct horse battery"
	annID := signUp(t, anon, "ann", pw)
	ann := anon.as(logIn(t, anon, "ann", pw))

	rw := ann.ok("POST", "/v1/personalAccessTokens", obj{"name": "deploy script", "scope": "PERSONAL_ACCESS_TOKEN_SCOPE_READ_WRITE"})
	ro := ann.ok("POST", "/v1/personalAccessTokens", obj{"name": "dashboard", "scope": "PERSONAL_ACCESS_TOKEN_SCOPE_READ_ONLY"})
	for _, p := range []obj{rw, ro} {
		if tok := str(t, p, "token"); !strings.HasPrefix(tok, "todo_pat_") {
			t.Fatalf("token %q lacks the todo_pat_ prefix", tok)
		}
	}
	writer, reader := anon.as(str(t, rw, "token")), anon.as(str(t, ro, "token"))

	acceptedEverywhere(t, writer)
	if got := str(t, writer.ok("GET", "/v1/users/me", nil), "id"); got != annID {
		t.Errorf("/v1/users/me with the token: id %s, want %s", got, annID)
	}
	// Read-only: reads on both services, no writes on either.
	reader.ok("GET", "/v1/tasks", nil)
	reader.ok("GET", "/v1/users/me", nil)
	reader.do("POST", "/v1/tasks", obj{"title": "not with a read-only token"}).wantError(t, http.StatusForbidden)
	reader.do("PATCH", "/v1/users/"+annID+"?update_mask=full_name", obj{"full_name": "Mallory"}).wantError(t, http.StatusForbidden)

	ann.ok("POST", "/v1/personalAccessTokens/"+str(t, rw, "id")+":revoke", obj{})
	refusedEverywhere(t, writer)
	reader.ok("GET", "/v1/tasks", nil)
	listed := list(t, ann.ok("GET", "/v1/personalAccessTokens", nil), "personal_access_tokens")
	if len(listed) != 2 {
		t.Fatalf("listed %d tokens, want 2", len(listed))
	}
	for _, p := range listed {
		if _, ok := p["token"]; ok && p["token"] != "" {
			t.Errorf("a listed token carries its secret: %v", p)
		}
	}
}
