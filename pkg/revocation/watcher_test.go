package revocation_test

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/auth/authtest"
	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/pkg/revocation"
	"github.com/todo-platform/todo/pkg/testkit"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// revokedWithin polls Verify(token) until it is refused, failing after 5 s.
func revokedWithin(t *testing.T, v *auth.Verifier, token string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := v.Verify(t.Context(), token)
		if errors.Is(err, auth.ErrInvalidToken) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the token is still accepted 5 s after its revocation")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWatcher_LearnsRevocationsAtStartByNotifyAndByPolling(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := testkit.Context(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	signer := authtest.NewSigner(t)
	sign := func(user int64) string {
		tok, _, err := signer.Sign(auth.Principal{UserID: user}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	ann := db.SeedUser(t, pgtest.User{Name: "ann", Active: true})
	bob := db.SeedUser(t, pgtest.User{Name: "bob", Active: true})
	cat := db.SeedUser(t, pgtest.User{Name: "cat", Active: true})
	revoke := func(user int64) {
		t.Helper()
		if _, err := db.Owner.Exec(ctx, `INSERT INTO user_token_revocation AS r (user_id, generation) VALUES ($1, 1)
		    ON CONFLICT (user_id) DO UPDATE SET generation = r.generation + 1, revoked_at = now()`, user); err != nil {
			t.Fatal(err)
		}
	}
	revoke(ann) // before the watchers start

	for _, tc := range []struct {
		name   string
		cfg    revocation.Config
		notify bool
	}{
		// Polling every 30 s: only the listening connection (its NOTIFY, or
		// the poll it makes once connected) can meet the bound.
		{"Listen", revocation.Config{Pool: db.TaskApp.Pool, ListenDSN: db.TaskAppURL, PollInterval: 30 * time.Second}, true},
		// No LISTEN: the poll alone.
		{"PollOnly", revocation.Config{Pool: db.TaskApp.Pool, PollInterval: 100 * time.Millisecond}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := auth.NewVerifier(authtest.Keys(signer), auth.DefaultIssuer, auth.DefaultAudience)
			w, err := revocation.Start(ctx, log, v, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Stop()
			if _, err := v.Verify(ctx, sign(ann)); !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("a token of a user revoked before the start: %v, want refused", err)
			}
			user := bob
			if !tc.notify {
				user = cat
			}
			tok := sign(user)
			if _, err := v.Verify(ctx, tok); err != nil {
				t.Fatal(err)
			}
			revoke(user)
			revokedWithin(t, v, tok)
		})
	}
}
