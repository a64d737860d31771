package userstore_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgerrcode"

	"github.com/todo-platform/todo/pkg/keyring/keyringtest"
	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/pkg/testkit"
	"github.com/todo-platform/todo/services/user/internal/user"
	"github.com/todo-platform/todo/services/user/internal/userstore"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func setup(t *testing.T) (*userstore.Store, *pgtest.DB, context.Context) {
	t.Helper()
	db := pgtest.New(t)
	ring, _ := keyringtest.New(t)
	return userstore.New(db.UserApp, ring), db, testkit.Context(t)
}

// TestCreateUser_TranslatesUniqueViolations checks each unique index the
// store maps, by its exact name, for both writes that can violate it.
func TestCreateUser_TranslatesUniqueViolations(t *testing.T) {
	t.Parallel()
	s, _, ctx := setup(t)
	if _, err := s.CreateUser(ctx, user.NewUser{Email: "a@example.com", Username: "alice", PasswordHash: "h"}); err != nil {
		t.Fatal(err)
	}
	bob, err := s.CreateUser(ctx, user.NewUser{Email: "b@example.com", Username: "bob", PasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	ptr := func(s string) *string { return &s }
	for _, tc := range []struct {
		name       string
		write      func() error
		want       error
		constraint string
	}{
		{"create, same email", func() error {
			_, err := s.CreateUser(ctx, user.NewUser{Email: "a@example.com", Username: "other", PasswordHash: "h"})
			return err
		}, user.ErrEmailTaken, "idx_users_email"},
		{"create, email in another case", func() error {
			_, err := s.CreateUser(ctx, user.NewUser{Email: "A@example.com", Username: "other", PasswordHash: "h"})
			return err
		}, user.ErrEmailTaken, "idx_users_email_lower"},
		{"create, same username", func() error {
			_, err := s.CreateUser(ctx, user.NewUser{Email: "c@example.com", Username: "alice", PasswordHash: "h"})
			return err
		}, user.ErrUsernameTaken, "idx_users_username"},
		{"update, same email", func() error {
			_, err := s.UpdateUser(ctx, bob.ID, user.Update{Email: ptr("a@example.com")})
			return err
		}, user.ErrEmailTaken, "idx_users_email"},
		{"update, email in another case", func() error {
			_, err := s.UpdateUser(ctx, bob.ID, user.Update{Email: ptr("A@Example.com")})
			return err
		}, user.ErrEmailTaken, "idx_users_email_lower"},
		{"update, same username", func() error {
			_, err := s.UpdateUser(ctx, bob.ID, user.Update{Username: ptr("alice")})
			return err
		}, user.ErrUsernameTaken, "idx_users_username"},
	} {
		err := tc.write()
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if v, ok := pgdb.Violation(err); !ok || v.Code != pgerrcode.UniqueViolation || v.Constraint != tc.constraint {
			t.Errorf("%s: %v does not keep the unique violation of %s", tc.name, err, tc.constraint)
		}
	}

	// Another unique constraint is none of the two sentinels.
	sess := user.NewSession{UserID: bob.ID, TokenHash: user.HashRefreshToken("same"), ExpiresAt: time.Now().Add(time.Hour)}
	if err := s.StartSession(ctx, sess, ""); err != nil {
		t.Fatal(err)
	}
	err = s.StartSession(ctx, sess, "")
	if errors.Is(err, user.ErrEmailTaken) || errors.Is(err, user.ErrUsernameTaken) || !pgdb.IsUniqueViolation(err, "user_session_token_hash_key") {
		t.Errorf("second session with the same token hash: %v, want the unique violation of user_session_token_hash_key, untranslated", err)
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
	userKey := user.ThrottleKey{Scope: user.ScopeUser, Subject: user.PairSubject(strconv.FormatInt(u.ID, 10), "192.0.2.1")}
	addrKey := user.ThrottleKey{Scope: user.ScopeAddr, Subject: "192.0.2.1"}
	ghostKey := user.ThrottleKey{Scope: user.ScopeLogin, Subject: user.PairSubject("ghost", "192.0.2.1")}
	// The same account's failures from another address are not counted
	// against this one.
	if err := s.RecordFailures(ctx, []user.ThrottleKey{{Scope: user.ScopeUser, Subject: user.PairSubject(strconv.FormatInt(u.ID, 10), "198.51.100.1")}}, window); err != nil {
		t.Fatal(err)
	}
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
	if err != nil || n != 3 { // the closed addr, ghost and other-address counters
		t.Errorf("DeleteExpired = %d, %v; want 3 closed counters", n, err)
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

// TestStore_CallsAfterTerminatedBackendsSucceed ends the pool's backends
// between calls: the reads, and the refresh-token rotation (a transaction
// whose BEGIN meets the dead connection), run again on a live connection.
func TestStore_CallsAfterTerminatedBackendsSucceed(t *testing.T) {
	t.Parallel()
	s, db, ctx := setup(t)
	u, err := s.CreateUser(ctx, user.NewUser{Email: "a@example.com", Username: "alice", PasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	token := user.HashRefreshToken("first")
	if err := s.StartSession(ctx, user.NewSession{UserID: u.ID, TokenHash: token, ExpiresAt: time.Now().Add(time.Hour)}, ""); err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"User", func() error {
			got, err := s.User(ctx, u.ID)
			if err == nil && got.ID != u.ID {
				t.Errorf("User(%d) = user %d", u.ID, got.ID)
			}
			return err
		}},
		{"ListUsers", func() error {
			got, err := s.ListUsers(ctx, user.ListQuery{Limit: 10})
			if err == nil && len(got) != 1 {
				t.Errorf("ListUsers = %d users, want 1", len(got))
			}
			return err
		}},
		{"AccountsByEmailOrUsername", func() error {
			_, err := s.AccountsByEmailOrUsername(ctx, "a@example.com", "alice")
			return err
		}},
		{"LoginState", func() error {
			_, err := s.LoginState(ctx, user.Lookup{Username: "alice"}, "192.0.2.1", time.Hour)
			return err
		}},
		{"RotateSession", func() error {
			next := user.HashRefreshToken("next")
			err := s.RotateSession(ctx, token, func(cur user.RefreshSession) (user.Rotation, error) {
				if cur.Replaced || cur.Revoked {
					t.Errorf("RotateSession saw session %+v, want it live", cur)
				}
				return user.Rotation{Next: &user.NewSession{UserID: u.ID, TokenHash: next, ExpiresAt: time.Now().Add(time.Hour)}}, nil
			})
			token = next
			return err
		}},
	}
	for _, c := range calls {
		// Warm several connections of the pool, then end them all.
		for range 3 {
			if _, err := s.User(ctx, u.ID); err != nil {
				t.Fatal(err)
			}
		}
		if n := db.TerminateApp(t); n == 0 {
			t.Fatalf("%s: no backend to terminate", c.name)
		}
		if err := c.call(); err != nil {
			t.Errorf("%s after the backends were terminated: %v, want success", c.name, err)
		}
	}
}
