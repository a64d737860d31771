package userclient_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/testkit"
	"github.com/todo-platform/todo/services/task/internal/task"
	"github.com/todo-platform/todo/services/task/internal/userclient"
)

// fakeUserServer is a fake user service: BatchGetUsers answers from users (id →
// active), or with err, or waits until the call ends when hang is set. It
// records what each call carried.
type fakeUserServer struct {
	userv1.UnimplementedUserServiceServer

	mu    sync.Mutex
	users map[int64]bool
	err   error
	hang  bool
	calls []batchCall
}

// batchCall is one BatchGetUsers call as the server saw it.
type batchCall struct {
	ids           []int64
	authorization []string
	deadline      time.Time
}

func (s *fakeUserServer) BatchGetUsers(ctx context.Context, req *userv1.BatchGetUsersRequest) (*userv1.BatchGetUsersResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	dl, _ := ctx.Deadline()
	s.mu.Lock()
	s.calls = append(s.calls, batchCall{ids: req.GetIds(), authorization: md.Get("authorization"), deadline: dl})
	hang, err := s.hang, s.err
	s.mu.Unlock()
	if hang {
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	if err != nil {
		return nil, err
	}
	resp := &userv1.BatchGetUsersResponse{}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range req.GetIds() {
		if active, ok := s.users[id]; ok {
			resp.Users = append(resp.Users, &userv1.UserSummary{Id: id, Username: "u", IsActive: active})
		}
	}
	return resp, nil
}

func (s *fakeUserServer) seen() []batchCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]batchCall(nil), s.calls...)
}

// fakeDirectory is a running fake user service and a Directory that asks
// it over a userclient connection.
type fakeDirectory struct {
	srv  *fakeUserServer
	dir  *userclient.Directory
	stop func()
}

// startFakeDirectory serves srv until the test ends or stop is called.
func startFakeDirectory(t *testing.T, srv *fakeUserServer) *fakeDirectory {
	t.Helper()
	conn, stop := serve(t, srv)
	return &fakeDirectory{srv: srv, dir: userclient.NewDirectory(userv1.NewUserServiceClient(conn)), stop: stop}
}

// withIncomingToken returns a test context whose incoming call carries the bearer
// token tok, as the task service's handlers' contexts do.
func withIncomingToken(t *testing.T, tok string) context.Context {
	return metadata.NewIncomingContext(testkit.Context(t), metadata.Pairs("authorization", "Bearer "+tok))
}

func TestCheckAssignee_AnswersFromBatchGetUsers(t *testing.T) {
	t.Parallel()
	fake := startFakeDirectory(t, &fakeUserServer{users: map[int64]bool{1: true, 2: false}})
	for _, tc := range []struct {
		name string
		id   int64
		want error
	}{
		{"active", 1, nil},
		{"inactive", 2, task.ErrInvalidAssignee},
		{"unknown", 3, task.ErrInvalidAssignee},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := fake.dir.CheckAssignee(withIncomingToken(t, "tok"), tc.id)
			if !errors.Is(err, tc.want) {
				t.Errorf("CheckAssignee(%d) = %v, want %v", tc.id, err, tc.want)
			}
		})
	}
}

func TestCheckAssignee_ForwardsTheCallersTokenAndDeadline(t *testing.T) {
	t.Parallel()
	fake := startFakeDirectory(t, &fakeUserServer{users: map[int64]bool{7: true}})
	deadline := time.Now().Add(2 * time.Second)
	ctx, cancel := context.WithDeadline(withIncomingToken(t, "the-callers-token"), deadline)
	defer cancel()
	if err := fake.dir.CheckAssignee(ctx, 7); err != nil {
		t.Fatal(err)
	}
	// Without a deadline of the caller's, the call's is CallTimeout away.
	before := time.Now()
	if err := fake.dir.CheckAssignee(withIncomingToken(t, "the-callers-token"), 7); err != nil {
		t.Fatal(err)
	}

	calls := fake.srv.seen()
	if len(calls) != 2 {
		t.Fatalf("BatchGetUsers calls = %+v, want 2", calls)
	}
	for i, c := range calls {
		if len(c.ids) != 1 || c.ids[0] != 7 {
			t.Errorf("call %d asked for %v, want [7]", i, c.ids)
		}
		if len(c.authorization) != 1 || c.authorization[0] != "Bearer the-callers-token" {
			t.Errorf("call %d carried authorization %q, want the caller's bearer token", i, c.authorization)
		}
	}
	// The deadline travels as a timeout, so the server's copy may be later
	// than the caller's by the transit time, but not by CallTimeout.
	if dl := calls[0].deadline; dl.IsZero() || dl.After(deadline.Add(time.Second)) {
		t.Errorf("deadline with the caller's %v: %v", deadline, dl)
	}
	if dl := calls[1].deadline; dl.IsZero() || dl.After(before.Add(userclient.CallTimeout+time.Second)) {
		t.Errorf("deadline without the caller's: %v, want at most CallTimeout (%v) after %v", dl, userclient.CallTimeout, before)
	}
}

func TestCheckAssignee_WithoutBearerTokenAsksNobody(t *testing.T) {
	t.Parallel()
	fake := startFakeDirectory(t, &fakeUserServer{users: map[int64]bool{1: true}})
	err := fake.dir.CheckAssignee(testkit.Context(t), 1)
	if err == nil || errors.Is(err, task.ErrInvalidAssignee) || errors.Is(err, task.ErrUserServiceUnavailable) {
		t.Errorf("CheckAssignee without a token = %v, want an error that is no domain answer", err)
	}
	if calls := fake.srv.seen(); len(calls) != 0 {
		t.Errorf("BatchGetUsers was called without a token: %+v", calls)
	}
}

func TestCheckAssignee_UnavailableUserService(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"Unavailable", status.Error(codes.Unavailable, "down")},
		{"ResourceExhausted", status.Error(codes.ResourceExhausted, "busy")},
	} {
		t.Run("answers "+tc.name, func(t *testing.T) {
			t.Parallel()
			fake := startFakeDirectory(t, &fakeUserServer{err: tc.err})
			if err := fake.dir.CheckAssignee(withIncomingToken(t, "tok"), 1); !errors.Is(err, task.ErrUserServiceUnavailable) {
				t.Errorf("CheckAssignee = %v, want ErrUserServiceUnavailable", err)
			}
		})
	}
	t.Run("stopped", func(t *testing.T) {
		t.Parallel()
		fake := startFakeDirectory(t, &fakeUserServer{users: map[int64]bool{1: true}})
		if err := fake.dir.CheckAssignee(withIncomingToken(t, "tok"), 1); err != nil {
			t.Fatalf("before the stop: %v", err)
		}
		fake.stop()
		// The call waits for the connection until CallTimeout, then gives up.
		if err := fake.dir.CheckAssignee(withIncomingToken(t, "tok"), 1); !errors.Is(err, task.ErrUserServiceUnavailable) {
			t.Errorf("CheckAssignee with the user service stopped = %v, want ErrUserServiceUnavailable", err)
		}
	})
	t.Run("other error", func(t *testing.T) {
		t.Parallel()
		fake := startFakeDirectory(t, &fakeUserServer{err: status.Error(codes.PermissionDenied, "no")})
		err := fake.dir.CheckAssignee(withIncomingToken(t, "tok"), 1)
		if err == nil || errors.Is(err, task.ErrUserServiceUnavailable) || errors.Is(err, task.ErrInvalidAssignee) {
			t.Errorf("CheckAssignee = %v, want an unexpected error, no domain answer", err)
		}
	})
}

func TestCheckAssignee_CallerGivingUpIsTheCallersError(t *testing.T) {
	t.Parallel()
	fake := startFakeDirectory(t, &fakeUserServer{hang: true})
	ctx, cancel := context.WithTimeout(withIncomingToken(t, "tok"), 300*time.Millisecond)
	defer cancel()
	err := fake.dir.CheckAssignee(ctx, 1)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, task.ErrUserServiceUnavailable) {
		t.Errorf("CheckAssignee past the caller's deadline = %v, want the caller's context.DeadlineExceeded", err)
	}
}
