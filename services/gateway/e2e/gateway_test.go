package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// designRoutes are the REST routes of DESIGN §5, as OpenAPI spells them.
var designRoutes = []struct{ method, path string }{
	{"POST", "/v1/users"},
	{"POST", "/v1/auth/login"},
	{"POST", "/v1/auth/refresh"},
	{"POST", "/v1/auth/logout"},
	{"GET", "/v1/auth/keys"},
	{"GET", "/v1/users/me"},
	{"GET", "/v1/users/{id}"},
	{"GET", "/v1/users"},
	{"PATCH", "/v1/users/{user.id}"},
	{"POST", "/v1/users/{id}:changePassword"},
	{"POST", "/v1/users/{id}:deactivate"},
	{"POST", "/v1/users/{id}:activate"},
	{"POST", "/v1/tasks"},
	{"GET", "/v1/tasks/{id}"},
	{"GET", "/v1/tasks"},
	{"PATCH", "/v1/tasks/{task.id}"},
	{"DELETE", "/v1/tasks/{id}"},
	{"POST", "/v1/tasks/{id}:assign"},
	{"GET", "/v1/tasks:stats"},
}

// TestGateway_OpenAPIHealthAndReadiness checks the gateway's own endpoints
// on the real processes: /openapi.json has every REST route of DESIGN §5,
// /healthz is 200, and /readyz is 503 (naming the service) while a service
// is stopped and 200 again once it is back.
func TestGateway_OpenAPIHealthAndReadiness(t *testing.T) {
	s := startStack(t)
	anon := s.anon()

	r := anon.do("GET", "/openapi.json", nil)
	if r.status != http.StatusOK {
		t.Fatalf("/openapi.json: %d", r.status)
	}
	var doc struct {
		Swagger string                    `json:"swagger"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(r.raw, &doc); err != nil {
		t.Fatalf("/openapi.json is not JSON: %v", err)
	}
	for _, route := range designRoutes {
		if _, ok := doc.Paths[route.path][strings.ToLower(route.method)]; !ok {
			t.Errorf("/openapi.json lacks %s %s", route.method, route.path)
		}
	}

	if r := anon.do("GET", "/healthz", nil); r.status != http.StatusOK {
		t.Errorf("/healthz: %d %s", r.status, r.raw)
	}

	for _, p := range []*proc{s.task, s.user} {
		name := strings.TrimSuffix(p.name, "-service")
		t.Run(p.name+" stopped", func(t *testing.T) {
			if inTime, err := p.stop(10 * time.Second); err != nil || !inTime {
				t.Fatalf("%s stop: %v (in time: %v)", p.name, err, inTime)
			}
			var last reply
			waitFor(t, 10*time.Second, "/readyz to be 503", func() bool {
				last = anon.do("GET", "/readyz", nil)
				return last.status == http.StatusServiceUnavailable
			})
			var body struct {
				Services map[string]struct{ Status string } `json:"services"`
			}
			if err := json.Unmarshal(last.raw, &body); err != nil {
				t.Fatalf("/readyz body: %v: %s", err, last.raw)
			}
			if got := body.Services[name].Status; got == "SERVING" || got == "" {
				t.Errorf("/readyz says %s is %q with it stopped: %s", name, got, last.raw)
			}
			// /healthz is about the gateway alone.
			if r := anon.do("GET", "/healthz", nil); r.status != http.StatusOK {
				t.Errorf("/healthz with %s stopped: %d", p.name, r.status)
			}

			p.start()
			waitFor(t, 30*time.Second, "/readyz to be 200 after the restart", func() bool {
				if !p.running() {
					t.Fatalf("%s exited after the restart: %v\n%s", p.name, p.err, p.logTail(20))
				}
				return anon.do("GET", "/readyz", nil).status == http.StatusOK
			})
		})
	}

	// After both restarts the API works end to end again.
	const pw = "correct horse battery"
	signUp(t, anon, "eve", pw)
	eve := anon.as(logIn(t, anon, "eve", pw))
	eve.ok("POST", "/v1/tasks", obj{"title": "after restarts"})
}
