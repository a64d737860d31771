package userapi_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/testkit"
)

// auditEvent is a user_audit_event row, as text.
type auditEvent struct {
	actorKind string
	actorID   int64
	action    string
	targetID  int64
	row       string // the whole row as JSON
}

func userAuditEvents(t *testing.T, b *bundle) []auditEvent {
	t.Helper()
	rows, err := b.db.Owner.Query(testkit.Context(t), `
SELECT actor_kind, coalesce(actor_id, 0), action, coalesce(target_id, 0), to_jsonb(e)::text
  FROM user_audit_event e ORDER BY created_at, id`)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (auditEvent, error) {
		var e auditEvent
		err := r.Scan(&e.actorKind, &e.actorID, &e.action, &e.targetID, &e.row)
		return e, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestAudit_JourneyIsRecordedWithoutSecrets walks through every audited
// operation of the user service, then checks the events and scans every
// audit row for the passwords, password hashes and tokens the journey used.
func TestAudit_JourneyIsRecordedWithoutSecrets(t *testing.T) {
	t.Parallel()
	b := setup(t, cheapHashing)
	ctx := testkit.Context(t)
	const pw, pw2 = "first secret passphrase", "second secret passphrase"
	secrets := []string{pw, pw2, "wrong guess passphrase"}

	alice := b.signUp(t, "alice@example.com", "alice", pw)
	_, rootToken := b.admin(t, "root")

	// A failed sign-in for an unknown account and for a known one.
	for _, login := range []string{"nobody", "alice"} {
		_, err := b.client.Login(ctx, &userv1.LoginRequest{Login: login, Password: "wrong guess passphrase"})
		wantCode(t, err, codes.Unauthenticated)
	}
	first := b.login(t, "alice", pw).GetTokens()
	second, err := b.client.RefreshToken(ctx, &userv1.RefreshTokenRequest{RefreshToken: first.GetRefreshToken()})
	if err != nil {
		t.Fatal(err)
	}
	// The spent token again: reuse, which revokes the family.
	_, err = b.client.RefreshToken(ctx, &userv1.RefreshTokenRequest{RefreshToken: first.GetRefreshToken()})
	wantCode(t, err, codes.Unauthenticated)
	aliceToken := first.GetAccessToken()
	if _, err := b.client.UpdateUser(as(ctx, aliceToken), &userv1.UpdateUserRequest{
		User: &userv1.User{Id: alice.GetId(), FullName: "Alice A"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"full_name"}},
	}); err != nil {
		t.Fatal(err)
	}
	// The full name is stored encrypted: the log says it changed, never what
	// it is.
	var named int
	if err := b.db.Owner.QueryRow(ctx, `SELECT count(*) FROM user_audit_event WHERE change::text LIKE '%Alice A%'`).Scan(&named); err != nil {
		t.Fatal(err)
	}
	if named != 0 {
		t.Errorf("%d audit rows hold the full name in clear", named)
	}
	if _, err := b.client.ChangePassword(as(ctx, aliceToken), &userv1.ChangePasswordRequest{Id: alice.GetId(), CurrentPassword: pw, NewPassword: pw2}); err != nil {
		t.Fatal(err)
	}
	third := b.login(t, "alice", pw2).GetTokens()
	if _, err := b.client.Logout(ctx, &userv1.LogoutRequest{RefreshToken: third.GetRefreshToken()}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.client.DeactivateUser(as(ctx, rootToken), &userv1.DeactivateUserRequest{Id: alice.GetId()}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.client.ActivateUser(as(ctx, rootToken), &userv1.ActivateUserRequest{Id: alice.GetId()}); err != nil {
		t.Fatal(err)
	}
	for _, tk := range []*userv1.TokenPair{first, second.GetTokens(), third} {
		secrets = append(secrets, tk.GetAccessToken(), tk.GetRefreshToken())
	}
	hashes, err := pgx.CollectRows(must(b.db.Owner.Query(ctx, `SELECT password_hash FROM "user"`)), pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, hashes...)

	evs := userAuditEvents(t, b)
	var aliceActions []string
	var unknownFailure bool
	for _, e := range evs {
		for _, s := range secrets {
			if s != "" && strings.Contains(e.row, s) {
				t.Errorf("audit row %s contains a secret (%.12s…)", e.row, s)
			}
		}
		if e.targetID == alice.GetId() {
			aliceActions = append(aliceActions, e.action)
		}
		if e.action == "user.login_failed" && e.targetID == 0 && strings.Contains(e.row, `"login": "nobody"`) {
			unknownFailure = true
		}
	}
	want := []string{
		"user.sign_up", "user.login_failed", "user.login", "user.refresh_token_reused", "user.profile_change",
		"user.password_change", "user.login", "user.logout", "user.deactivate", "user.activate",
	}
	if !slices.Equal(aliceActions, want) {
		t.Errorf("alice's events: %q, want %q", aliceActions, want)
	}
	if !unknownFailure {
		t.Errorf("no login_failed event for the unknown account \"nobody\" among %v", evs)
	}
	for _, e := range evs {
		switch e.action {
		case "user.deactivate", "user.activate":
			if e.actorKind != "user" || e.actorID == 0 || e.actorID == alice.GetId() {
				t.Errorf("%s by %s %d, want the admin", e.action, e.actorKind, e.actorID)
			}
		case "user.sign_up", "user.login", "user.password_change", "user.logout", "user.profile_change":
			if e.actorKind != "user" || e.actorID != e.targetID {
				t.Errorf("%s by %s %d on %d, want the user itself", e.action, e.actorKind, e.actorID, e.targetID)
			}
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
