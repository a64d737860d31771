package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/proctest"
)

// TestSIGTERM_InFlightRequestCompletesAndExitZero sends SIGTERM to each
// process while it is serving a request, and checks that the request still
// succeeds and the process exits 0 within 10 s.
//
// A request is held in flight without timing guesses: a superuser
// transaction locks the table the request reads, the test waits until
// PostgreSQL shows the service's query waiting for that lock, sends
// SIGTERM, waits until the process has closed its listening socket (it has
// begun to shut down), and only then releases the lock.
func TestSIGTERM_InFlightRequestCompletesAndExitZero(t *testing.T) {
	s := startStack(t)
	anon := s.anon()
	const pw = "correct horse battery"
	signUp(t, anon, "ann", pw)
	token := logIn(t, anon, "ann", pw)
	anon.as(token).ok("POST", "/v1/tasks", obj{"title": "survives shutdown"})
	authed := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+token)

	t.Run("gateway", func(t *testing.T) {
		s.inFlightAcrossSIGTERM(t, s.gateway, "task", func() error {
			// Runs on another goroutine: plain errors, no t.Fatal.
			req, err := http.NewRequest("GET", s.baseURL+"/v1/tasks", nil)
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := s.http.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var body struct {
				Tasks []json.RawMessage `json:"tasks"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				return fmt.Errorf("GET /v1/tasks: status %d, body: %w", resp.StatusCode, err)
			}
			if resp.StatusCode != http.StatusOK || len(body.Tasks) != 1 {
				return fmt.Errorf("GET /v1/tasks: status %d with %d tasks, want 200 with 1", resp.StatusCode, len(body.Tasks))
			}
			return nil
		})
	})
	t.Run("task-service", func(t *testing.T) {
		tasks := taskv1.NewTaskServiceClient(proctest.Dial(t, s.task.Addr()))
		s.inFlightAcrossSIGTERM(t, s.task, "task", func() error {
			resp, err := tasks.ListTasks(authed, &taskv1.ListTasksRequest{})
			if err != nil {
				return err
			}
			if n := len(resp.GetTasks()); n != 1 {
				return fmt.Errorf("ListTasks listed %d tasks, want 1", n)
			}
			return nil
		})
	})
	t.Run("user-service", func(t *testing.T) {
		users := userv1.NewUserServiceClient(proctest.Dial(t, s.user.Addr()))
		s.inFlightAcrossSIGTERM(t, s.user, "user", func() error {
			resp, err := users.GetCurrentUser(authed, &userv1.GetCurrentUserRequest{})
			if err != nil {
				return err
			}
			if got := resp.GetUsername(); got != "ann" {
				return fmt.Errorf("GetCurrentUser = %q, want ann", got)
			}
			return nil
		})
	})
}

// inFlightAcrossSIGTERM runs request while table is locked, sends SIGTERM
// to p once the request waits on the lock, releases the lock once p has
// stopped listening, and requires the request to succeed and p to exit 0
// within 10 s of the signal.
func (s *stack) inFlightAcrossSIGTERM(t *testing.T, srv *proctest.Server, table string, request func() error) {
	t.Helper()
	ctx := t.Context()
	p := srv.Process()
	tx, err := s.db.Owner.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}
	defer release()
	if _, err := tx.Exec(ctx, "LOCK TABLE "+quoteIdent(table)+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}

	result := make(chan error, 1)
	go func() { result <- request() }()

	// The request is in flight once its query waits for our lock.
	waitFor(t, 30*time.Second, "a query waiting on the table lock", func() bool {
		var n int
		err := s.db.Owner.QueryRow(ctx,
			"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").Scan(&n)
		return err == nil && n > 0
	})

	signalled := time.Now()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Shutting down: the process has closed its listener. (The socket stays
	// open in this process, which keeps it for restarts, so a dial would
	// still connect.)
	waitFor(t, 10*time.Second, p.Name()+" to close its listener", func() bool {
		listening, err := p.Listening()
		if err != nil {
			t.Fatal(err)
		}
		return !listening
	})
	select {
	case err := <-result:
		t.Fatalf("the request finished before the lock was released: %v", err)
	default:
	}
	release()

	select {
	case err := <-result:
		if err != nil {
			t.Errorf("the in-flight request failed across SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the in-flight request did not finish")
	}
	select {
	case <-p.Done():
		if err := p.Wait(); err != nil {
			t.Errorf("%v, want exit status 0", err)
		}
	case <-time.After(10*time.Second - time.Since(signalled)):
		t.Errorf("%s still running 10s after SIGTERM", p.Name())
	}
}

// waitFor polls cond until it is true, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s after %s", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func quoteIdent(s string) string { return `"` + s + `"` }
