package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/todo-platform/todo/api/openapi"
	"github.com/todo-platform/todo/pkg/proctest"
)

// TestGateway_OpenAPIHealthAndReadiness checks the gateway's own endpoints
// on the real processes: /openapi.json is the api/openapi document (whose
// routes the gateway's unit tests check against the REST route table),
// /healthz is 200, and /readyz is 503 (naming the service) while a service
// is stopped and 200 again once it is back.
func TestGateway_OpenAPIHealthAndReadiness(t *testing.T) {
	s := startStack(t)
	anon := s.anon()

	r := anon.do("GET", "/openapi.json", nil)
	if r.status != http.StatusOK {
		t.Fatalf("/openapi.json: %d", r.status)
	}
	if !bytes.Equal(r.raw, openapi.JSON) {
		t.Errorf("/openapi.json of the gateway binary differs from api/openapi.JSON")
	}
	if !json.Valid(r.raw) {
		t.Errorf("/openapi.json is not JSON")
	}

	if r := anon.do("GET", "/healthz", nil); r.status != http.StatusOK {
		t.Errorf("/healthz: %d %s", r.status, r.raw)
	}

	for _, p := range []*proctest.Server{s.task, s.user} {
		name := strings.TrimSuffix(p.Name(), "-service")
		t.Run(p.Name()+" stopped", func(t *testing.T) {
			if err := p.Stop(10 * time.Second); err != nil {
				t.Fatalf("%s stop: %v", p.Name(), err)
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
				t.Errorf("/healthz with %s stopped: %d", p.Name(), r.status)
			}

			// On the same address: the listener outlives the process.
			restarted := p.Start(t)
			waitFor(t, 30*time.Second, "/readyz to be 200 after the restart", func() bool {
				if !restarted.Running() {
					t.Fatalf("%s exited after the restart: %v\n%s", p.Name(), restarted.Wait(), restarted.Tail(4096))
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
