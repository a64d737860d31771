package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/todo-platform/todo/pkg/pgtest"
)

// revocationBound is how soon a revocation must reach both services.
const revocationBound = 5 * time.Second

// refusedEverywhere polls, with token, a task read, a task creation and
// GET /v1/users/me until all three are 401, failing the test if that takes
// longer than revocationBound.
func refusedEverywhere(t *testing.T, c *client) {
	t.Helper()
	deadline := time.Now().Add(revocationBound)
	calls := []struct {
		method, path string
		body         any
	}{
		{"GET", "/v1/tasks", nil},
		{"POST", "/v1/tasks", obj{"title": "after the revocation"}},
		{"GET", "/v1/users/me", nil},
	}
	for _, call := range calls {
		for {
			r := c.do(call.method, call.path, call.body)
			if r.status == http.StatusUnauthorized {
				break
			}
			if r.status != http.StatusOK {
				t.Fatalf("%s %s with a revoked token: status %d, want 200 or 401: %s", call.method, call.path, r.status, r.raw)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s %s: the token is still accepted %s after its revocation", call.method, call.path, revocationBound)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// acceptedEverywhere requires token to work for the same three calls.
func acceptedEverywhere(t *testing.T, c *client) {
	t.Helper()
	c.ok("GET", "/v1/tasks", nil)
	c.ok("POST", "/v1/tasks", obj{"title": "still signed in"})
	c.ok("GET", "/v1/users/me", nil)
}

func TestRevocation_DeactivatedUsersTokenIsRefusedByBothServicesWithinSeconds(t *testing.T) {
	s := startStack(t)
	revocationJourney(t, s)
}

// TestRevocation_PollingAloneIsEnough runs the same journey with LISTEN
// unavailable (DATABASE_LISTEN_URL names a port nothing listens on, as
// behind a transaction-mode pooler): the poll alone must meet the bound.
func TestRevocation_PollingAloneIsEnough(t *testing.T) {
	s := startStackOn(t, pgtest.New(t), "DATABASE_LISTEN_URL=postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1")
	revocationJourney(t, s)
}

// revocationJourney: an admin deactivates Ann, whose earlier token is then
// refused by both services within the bound; Bob's is not; Bob's
// LogoutAll voids his own token everywhere too.
func revocationJourney(t *testing.T, s *stack) {
	t.Helper()
	anon := s.anon()
	const pw = "correct horse battery"
	s.createAdmin("root", pw)
	root := anon.as(logIn(t, anon, "root", pw))
	annID := signUp(t, anon, "ann", pw)
	signUp(t, anon, "bob", pw)
	ann := anon.as(logIn(t, anon, "ann", pw))
	bob := anon.as(logIn(t, anon, "bob", pw))
	acceptedEverywhere(t, ann) // the verifiers' caches hold the token now
	acceptedEverywhere(t, bob)

	root.ok("POST", "/v1/users/"+annID+":deactivate", obj{})
	refusedEverywhere(t, ann)
	acceptedEverywhere(t, bob)

	bob.ok("POST", "/v1/auth/logoutAll", obj{})
	refusedEverywhere(t, bob)
	acceptedEverywhere(t, anon.as(logIn(t, anon, "bob", pw)))
}
