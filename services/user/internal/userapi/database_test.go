package userapi_test

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/grpcerr"
	"github.com/todo-platform/todo/pkg/jobs"
	"github.com/todo-platform/todo/pkg/schema"
	"github.com/todo-platform/todo/pkg/testkit"
	"github.com/todo-platform/todo/services/user/internal/user"
)

func TestListUsers_PageTokenAlteredInAnyByteIsInvalidArgument(t *testing.T) {
	t.Parallel()
	b := setup(t, cheapHashing)
	_, rootToken := b.admin(t, "root")
	b.signUp(t, "alice@example.com", "alice", "correct horse battery")
	ctx := as(testkit.Context(t), rootToken)
	first, err := b.client.ListUsers(ctx, &userv1.ListUsersRequest{PageSize: 1})
	if err != nil || first.GetNextPageToken() == "" {
		t.Fatalf("first page: %v, %v; want a next page token", first, err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(first.GetNextPageToken())
	if err != nil {
		t.Fatalf("page token is not unpadded base64url: %v", err)
	}
	// The untouched token works, so the refusals below are the alteration's.
	if _, err := b.client.ListUsers(ctx, &userv1.ListUsersRequest{PageSize: 1, PageToken: first.GetNextPageToken()}); err != nil {
		t.Fatalf("second page: %v", err)
	}
	for i := range raw {
		altered := append([]byte(nil), raw...)
		altered[i] ^= 0x01
		_, err := b.client.ListUsers(ctx, &userv1.ListUsersRequest{PageSize: 1, PageToken: base64.RawURLEncoding.EncodeToString(altered)})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("byte %d of %d altered: %v, want InvalidArgument", i, len(raw), err)
			continue
		}
		if got := grpcerr.Fields(err); len(got) != 1 || got[0] != "page_token" {
			t.Errorf("byte %d altered: field violations %v, want [page_token]", i, got)
		}
		if got, want := status.Convert(err).Message(), "page_token: is not a page token of ListUsers with this is_active filter"; got != want {
			t.Errorf("byte %d altered: message %q, want %q", i, got, want)
		}
	}
	// The token's text too: its last character carries unused bits.
	tok := first.GetNextPageToken()
	for i := range len(tok) {
		for _, ch := range "AQgw_-" {
			if byte(ch) == tok[i] {
				continue
			}
			_, err := b.client.ListUsers(ctx, &userv1.ListUsersRequest{PageSize: 1, PageToken: tok[:i] + string(ch) + tok[i+1:]})
			if status.Code(err) != codes.InvalidArgument {
				t.Errorf("character %d of %q changed to %q: %v, want InvalidArgument", i, tok, ch, err)
			}
		}
	}
}

// TestStatementTimeout_IsDeadlineExceeded holds a row lock from a superuser
// transaction so that UpdateUser waits inside PostgreSQL until the pool's
// statement_timeout (from the DSN) cancels it with SQLSTATE 57014: the
// client must get DeadlineExceeded, not Internal, and the user must be
// unchanged. The client's own deadline is far away, so the code can only
// come from the server's mapping of the database's error.
func TestStatementTimeout_IsDeadlineExceeded(t *testing.T) {
	t.Parallel()
	b := setup(t, cheapHashing, func(o *options) { o.statementTimeout = 200 * time.Millisecond })
	alice, token := b.signedIn(t, "alice")

	ctx := context.Background()
	tx, err := b.db.Owner.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM "user" WHERE id = $1 FOR UPDATE`, alice.GetId()); err != nil {
		t.Fatal(err)
	}

	_, err = b.client.UpdateUser(as(testkit.Context(t), token), &userv1.UpdateUserRequest{
		User:       &userv1.User{Id: alice.GetId(), FullName: "Alice A"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"full_name"}},
	})
	st := wantCode(t, err, codes.DeadlineExceeded)
	if got, want := st.Message(), "deadline exceeded"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}

	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	me, err := b.client.GetCurrentUser(as(testkit.Context(t), token), &userv1.GetCurrentUserRequest{})
	if err != nil || me.GetFullName() != "" {
		t.Errorf("user after the timeout: %v, %v; want the full name unchanged (empty)", me, err)
	}
}

// TestTerminatedBackends_NextReadSucceedsAndNothingIsInternal ends all the
// service pool's backends between calls, several times: the next read must
// succeed (a connection that failed before any statement ran is retried on
// a fresh one), and no call may answer Internal.
func TestTerminatedBackends_NextReadSucceedsAndNothingIsInternal(t *testing.T) {
	t.Parallel()
	b := setup(t, cheapHashing)
	alice, token := b.signedIn(t, "alice")
	bob, _ := b.signedIn(t, "bob")
	ctx := func() context.Context { return as(testkit.Context(t), token) }

	// Warm several connections of the pool at once.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := b.client.GetCurrentUser(ctx(), &userv1.GetCurrentUserRequest{}); err != nil {
				t.Errorf("warm-up: %v", err)
			}
		})
	}
	wg.Wait()

	for round := range 3 {
		if n := b.db.TerminateApp(t); n == 0 {
			t.Fatalf("round %d: no backend of the service to terminate", round)
		}
		me, err := b.client.GetCurrentUser(ctx(), &userv1.GetCurrentUserRequest{})
		if err != nil || me.GetId() != alice.GetId() {
			t.Fatalf("round %d: GetCurrentUser after pg_terminate_backend: %v, %v", round, me, err)
		}

		b.db.TerminateApp(t)
		other, err := b.client.GetUser(ctx(), &userv1.GetUserRequest{Id: bob.GetId()})
		if err != nil || other.GetUsername() != "bob" {
			t.Fatalf("round %d: GetUser after pg_terminate_backend: %v, %v", round, other, err)
		}

		// A write and a sign-in may be refused as Unavailable (when a
		// statement may have reached the server), never Internal.
		b.db.TerminateApp(t)
		_, err = b.client.UpdateUser(ctx(), &userv1.UpdateUserRequest{
			User: &userv1.User{Id: alice.GetId(), FullName: "Alice"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"full_name"}},
		})
		if c := status.Code(err); c != codes.OK && c != codes.Unavailable {
			t.Errorf("round %d: UpdateUser after pg_terminate_backend: %v, want OK or Unavailable", round, err)
		}
		b.db.TerminateApp(t)
		_, err = b.client.Login(testkit.Context(t), &userv1.LoginRequest{Login: "bob", Password: "correct horse battery"})
		if c := status.Code(err); c != codes.OK && c != codes.Unavailable {
			t.Errorf("round %d: Login after pg_terminate_backend: %v, want OK or Unavailable", round, err)
		}
	}
}

// TestDatabaseDown_IsUnavailable stops PostgreSQL under the running service:
// calls that need the database answer Unavailable with a retry hint, not
// Internal.
func TestDatabaseDown_IsUnavailable(t *testing.T) {
	t.Parallel()
	b := setup(t, cheapHashing, func(o *options) { o.private = true })
	alice, token := b.signedIn(t, "alice")
	if err := b.cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"GetCurrentUser", func(ctx context.Context) error {
			_, err := b.client.GetCurrentUser(as(ctx, token), &userv1.GetCurrentUserRequest{})
			return err
		}},
		{"GetUser", func(ctx context.Context) error {
			_, err := b.client.GetUser(as(ctx, token), &userv1.GetUserRequest{Id: alice.GetId()})
			return err
		}},
		{"Login", func(ctx context.Context) error {
			_, err := b.client.Login(ctx, &userv1.LoginRequest{Login: "alice", Password: "correct horse battery"})
			return err
		}},
		{"CreateUser", func(ctx context.Context) error {
			_, err := b.client.CreateUser(ctx, &userv1.CreateUserRequest{Email: "bob@example.com", Username: "bob", Password: "correct horse battery"})
			return err
		}},
	} {
		err := tc.call(testkit.Context(t))
		st := status.Convert(err)
		if st.Code() != codes.Unavailable {
			t.Errorf("%s with PostgreSQL down: %v, want Unavailable", tc.name, err)
			continue
		}
		var hint bool
		for _, d := range st.Details() {
			if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay().AsDuration() > 0 {
				hint = true
			}
		}
		if !hint {
			t.Errorf("%s: Unavailable without a RetryInfo: %v", tc.name, st.Proto())
		}
	}
}

// TestCleanupJob_DeletesExpiredSessions runs the clean-up as the periodic
// River job the server runs: an expired session is deleted, a live one is
// kept.
func TestCleanupJob_DeletesExpiredSessions(t *testing.T) {
	t.Parallel()
	b := setup(t, cheapHashing)
	const pw = "correct horse battery"
	b.signUp(t, "alice@example.com", "alice", pw)
	expired := b.login(t, "alice", pw).GetTokens().GetRefreshToken()
	live := b.login(t, "alice", pw).GetTokens().GetRefreshToken()
	if _, err := b.db.Owner.Exec(testkit.Context(t),
		`UPDATE user_session SET expires_at = now() - interval '1 minute' WHERE id = (SELECT min(id) FROM user_session)`); err != nil {
		t.Fatal(err)
	}

	ctx := testkit.Context(t)
	runner, err := jobs.Start(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), b.db.UserApp.Pool, jobs.Config{
		Schema: schema.User().RiverSchema,
		Jobs: []jobs.Job{{Name: "user.cleanup", Every: user.CleanupInterval, Run: func(ctx context.Context) error {
			_, err := b.svc.Cleanup(ctx)
			return err
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := runner.Stop(context.WithoutCancel(ctx)); err != nil {
			t.Error(err)
		}
	}()
	var n int
	for {
		if err := b.db.Owner.QueryRow(ctx, `SELECT count(*) FROM user_session`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the expired session is still there: %d sessions", n)
		case <-time.After(20 * time.Millisecond):
		}
	}

	_, err = refresh(t, b, expired)
	wantCode(t, err, codes.Unauthenticated)
	if _, err := refresh(t, b, live); err != nil {
		t.Errorf("the live session was deleted too: %v", err)
	}
}
