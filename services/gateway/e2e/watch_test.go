package e2e

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
)

// watchLine is one line of the gateway's streaming response.
type watchLine struct {
	Result *struct {
		Token  string `json:"token"`
		Change *struct {
			Type string `json:"type"`
			Task *struct {
				Title string `json:"title"`
			} `json:"task"`
		} `json:"change"`
	} `json:"result"`
	Error map[string]any `json:"error"`
}

// openWatchHTTP opens GET /v1/tasks:watch as the README's curl does and
// returns a reader of its lines.
func openWatchHTTP(t *testing.T, s *stack, token, since string) (next func() watchLine, close func()) {
	t.Helper()
	path := s.baseURL + "/v1/tasks:watch"
	if since != "" {
		path += "?since=" + url.QueryEscape(since)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	// Its own client: the response is a stream of JSON objects, not one
	// the contract checker of s.http could read.
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("watch: status %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	return func() watchLine {
			t.Helper()
			if !sc.Scan() {
				t.Fatalf("watch stream ended: %v", sc.Err())
			}
			var l watchLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("watch line %q: %v", sc.Bytes(), err)
			}
			if l.Error != nil {
				t.Fatalf("watch error: %v", l.Error)
			}
			return l
		}, func() {
			resp.Body.Close()
		}
}

// nextChangeHTTP returns the next change line, skipping heartbeats.
func nextChangeHTTP(t *testing.T, next func() watchLine) watchLine {
	t.Helper()
	for {
		if l := next(); l.Result != nil && l.Result.Change != nil {
			return l
		}
	}
}

// TestWatchTasks_ThroughTheGateway: Ann watches over REST (newline-delimited
// JSON); a task Bob assigns to her arrives live; she disconnects, Bob
// changes it, and resuming from her last token brings exactly that change.
func TestWatchTasks_ThroughTheGateway(t *testing.T) {
	s := startStack(t)
	anon := s.anon()
	const pw = "correct horse battery"
	annID := signUp(t, anon, "ann", pw)
	signUp(t, anon, "bob", pw)
	annToken := logIn(t, anon, "ann", pw)
	bob := anon.as(logIn(t, anon, "bob", pw))

	next, closeWatch := openWatchHTTP(t, s, annToken, "")
	if first := next(); first.Result == nil || first.Result.Token == "" || first.Result.Change != nil {
		t.Fatalf("first line %+v, want a heartbeat with a token", first)
	}
	id := str(t, bob.ok("POST", "/v1/tasks", obj{"title": "For Ann"}), "id")
	bob.ok("POST", "/v1/tasks/"+id+":assign", obj{"assignee_id": annID})
	l := nextChangeHTTP(t, next)
	if l.Result.Change.Type != "TASK_CHANGE_TYPE_ASSIGNED" || l.Result.Change.Task.Title != "For Ann" {
		t.Fatalf("change %+v, want the assignment of For Ann", l.Result.Change)
	}
	closeWatch()

	bob.ok("PATCH", "/v1/tasks/"+id, obj{"title": "For Ann, renamed"})
	next, closeWatch = openWatchHTTP(t, s, annToken, l.Result.Token)
	defer closeWatch()
	l = nextChangeHTTP(t, next)
	if l.Result.Change.Type != "TASK_CHANGE_TYPE_UPDATED" || l.Result.Change.Task.Title != "For Ann, renamed" {
		t.Fatalf("after resuming: %+v, want the rename and nothing before it", l.Result.Change)
	}
}
