package userstore_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/services/user/internal/user"
	"github.com/todo-platform/todo/services/user/internal/userstore"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func setup(t *testing.T) (*userstore.Store, *pgtest.DB, context.Context) {
	db := pgtest.New(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return userstore.New(db.App), db, ctx
}

func TestCreateUser_TranslatesUniqueViolations(t *testing.T) {
	t.Parallel()
	s, _, ctx := setup(t)
	if _, err := s.CreateUser(ctx, user.NewUser{Email: "a@example.com", Username: "alice", PasswordHash: "h"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		u    user.NewUser
		want error
	}{
		{user.NewUser{Email: "A@example.com", Username: "other", PasswordHash: "h"}, user.ErrEmailTaken},
		{user.NewUser{Email: "b@example.com", Username: "alice", PasswordHash: "h"}, user.ErrUsernameTaken},
	} {
		if _, err := s.CreateUser(ctx, tc.u); !errors.Is(err, tc.want) {
			t.Errorf("CreateUser(%+v) = %v, want %v", tc.u, err, tc.want)
		}
	}
	if _, err := s.User(ctx, 12345); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("User(missing) = %v, want ErrNotFound", err)
	}
	if err := s.SetPasswordHash(ctx, 12345, "h", true); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("SetPasswordHash(missing) = %v, want ErrNotFound", err)
	}
}

func TestLoginState_CountsFailuresPerScopeAndRestartsClosedWindows(t *testing.T) {
	t.Parallel()
	s, db, ctx := setup(t)
	u, err := s.CreateUser(ctx, user.NewUser{Email: "a@example.com", Username: "alice", PasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	const window = time.Hour
	userKey := user.ThrottleKey{Scope: user.ScopeUser, Subject: strconv.FormatInt(u.ID, 10)}
	addrKey := user.ThrottleKey{Scope: user.ScopeAddr, Subject: "192.0.2.1"}
	ghostKey := user.ThrottleKey{Scope: user.ScopeLogin, Subject: "ghost"}
	for range 3 {
		if err := s.RecordFailures(ctx, []user.ThrottleKey{userKey, addrKey}, window); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RecordFailures(ctx, []user.ThrottleKey{ghostKey}, window); err != nil {
		t.Fatal(err)
	}

	counts := func(l user.Lookup) map[user.ThrottleScope]int {
		st, err := s.LoginState(ctx, l, "192.0.2.1", window)
		if err != nil {
			t.Fatal(err)
		}
		m := map[user.ThrottleScope]int{}
		for _, c := range st.Counters {
			if c.RetryAfter <= 0 || c.RetryAfter > window {
				t.Errorf("counter %+v: retry after %v", c.Key, c.RetryAfter)
			}
			m[c.Key.Scope] = c.Failures
		}
		return m
	}
	for _, l := range []user.Lookup{{Email: "a@example.com"}, {Username: "alice"}, {ID: u.ID}} {
		if got := counts(l); got[user.ScopeUser] != 3 || got[user.ScopeAddr] != 3 || got[user.ScopeLogin] != 0 {
			t.Errorf("LoginState(%+v) counters %v, want user 3, addr 3", l, got)
		}
	}
	if got := counts(user.Lookup{Username: "ghost"}); got[user.ScopeLogin] != 1 || got[user.ScopeUser] != 0 {
		t.Errorf("unknown login counters %v, want login 1", got)
	}

	// A closed window is not counted, and the next failure starts a new one.
	if _, err := db.Owner.Exec(ctx, `UPDATE login_throttle SET window_start = now() - interval '2 hours'`); err != nil {
		t.Fatal(err)
	}
	if got := counts(user.Lookup{ID: u.ID}); len(got) != 0 {
		t.Errorf("after the window: %v, want none", got)
	}
	if err := s.RecordFailures(ctx, []user.ThrottleKey{userKey}, window); err != nil {
		t.Fatal(err)
	}
	if got := counts(user.Lookup{ID: u.ID}); got[user.ScopeUser] != 1 {
		t.Errorf("new window: %v, want user 1", got)
	}

	n, err := s.DeleteExpired(ctx, time.Now(), time.Now().Add(-window))
	if err != nil || n != 2 { // the closed addr and ghost counters
		t.Errorf("DeleteExpired = %d, %v; want 2 closed counters", n, err)
	}
}

func TestDeleteExpired_RemovesOnlyExpiredSessions(t *testing.T) {
	t.Parallel()
	s, db, ctx := setup(t)
	u, err := s.CreateUser(ctx, user.NewUser{Email: "a@example.com", Username: "alice", PasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i, exp := range []time.Time{now.Add(-time.Minute), now.Add(time.Hour)} {
		if err := s.StartSession(ctx, user.NewSession{UserID: u.ID, TokenHash: user.HashRefreshToken(string(rune('a' + i))), ExpiresAt: exp}, ""); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.DeleteExpired(ctx, now, now.Add(-time.Hour)); err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1", n, err)
	}
	var left int
	if err := db.Owner.QueryRow(ctx, `SELECT count(*) FROM user_session WHERE expires_at > now()`).Scan(&left); err != nil || left != 1 {
		t.Errorf("%d live sessions left (%v), want 1", left, err)
	}
}
