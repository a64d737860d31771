package userapi_test

import (
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/mail/mailtest"
	"github.com/todo-platform/todo/pkg/testkit"
)

// mailTimeout bounds the wait for a mail to arrive.
const mailTimeout = 15 * time.Second

// wantTokenRefused requires err to be InvalidArgument naming field token.
func wantTokenRefused(t *testing.T, err error) {
	t.Helper()
	st := wantCode(t, err, codes.InvalidArgument)
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) == 1 && br.GetFieldViolations()[0].GetField() == "token" {
			return
		}
	}
	t.Fatalf("InvalidArgument without a field violation naming token: %v", st.Proto())
}

// mailsSettled waits until the outbox has no job left to run.
func (b *bundle) mailsSettled(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(mailTimeout)
	for {
		var n int
		err := b.db.Owner.QueryRow(testkit.Context(t),
			`SELECT count(*) FROM river_user.river_job WHERE kind = 'mail' AND state NOT IN ('completed', 'discarded', 'cancelled')`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d mail jobs still pending after %s", n, mailTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestVerifyEmail_SignUpMailsATokenThatVerifiesOnceAndExpires(t *testing.T) {
	t.Parallel()
	b := setup(t, cheapHashing, withMail)
	ctx := testkit.Context(t)
	const pw = "correct horse battery"
	ann := b.signUp(t, "ann@example.com", "ann", pw)
	if ann.GetIsVerified() {
		t.Fatal("verified at sign-up")
	}
	msgs := b.mail.WaitFor(t, "ann@example.com", 1, mailTimeout)
	if got := msgs[0].Subject; got != "Verify your email address" {
		t.Errorf("subject %q", got)
	}
	token := mailtest.Token(t, msgs[0])

	// The database holds the token's hash only: neither the token table
	// nor the outbox's job has the token itself.
	sum := sha256.Sum256([]byte(token))
	var hashed, leaked int
	if err := b.db.Owner.QueryRow(ctx, `SELECT count(*) FROM user_email_token WHERE token_hash = $1`, sum[:]).Scan(&hashed); err != nil {
		t.Fatal(err)
	}
	if err := b.db.Owner.QueryRow(ctx, `SELECT
	    (SELECT count(*) FROM user_email_token WHERE encode(token_hash, 'escape') LIKE '%' || $1 || '%')
	  + (SELECT count(*) FROM river_user.river_job WHERE args::text LIKE '%' || $1 || '%')`, token).Scan(&leaked); err != nil {
		t.Fatal(err)
	}
	if hashed != 1 || leaked != 0 {
		t.Errorf("rows holding the hash: %d, want 1; rows holding the token: %d, want 0", hashed, leaked)
	}

	u, err := b.client.VerifyEmail(ctx, &userv1.VerifyEmailRequest{Token: token})
	if err != nil {
		t.Fatalf("VerifyEmail: %v", err)
	}
	if !u.GetIsVerified() || u.GetId() != ann.GetId() {
		t.Errorf("VerifyEmail returned %v, want ann verified", u)
	}
	// Once only.
	_, err = b.client.VerifyEmail(ctx, &userv1.VerifyEmailRequest{Token: token})
	wantTokenRefused(t, err)
	// An unknown token is refused the same way.
	_, err = b.client.VerifyEmail(ctx, &userv1.VerifyEmailRequest{Token: strings.Repeat("A", 43)})
	wantTokenRefused(t, err)

	// An expired token is refused and verifies nothing.
	bob := b.signUp(t, "bob@example.com", "bob", pw)
	bobToken := mailtest.Token(t, b.mail.WaitFor(t, "bob@example.com", 1, mailTimeout)[0])
	if _, err := b.db.Owner.Exec(ctx, `UPDATE user_email_token SET expires_at = now() - interval '1 second' WHERE user_id = $1`, bob.GetId()); err != nil {
		t.Fatal(err)
	}
	_, err = b.client.VerifyEmail(ctx, &userv1.VerifyEmailRequest{Token: bobToken})
	wantTokenRefused(t, err)
	var verified bool
	if err := b.db.Owner.QueryRow(ctx, `SELECT is_verified FROM "user" WHERE id = $1`, bob.GetId()).Scan(&verified); err != nil || verified {
		t.Errorf("bob verified by an expired token: %t, %v", verified, err)
	}
}

func TestVerifyEmail_AnEmailChangeMailsTheNewAddressAndVoidsTheOldToken(t *testing.T) {
	t.Parallel()
	b := setup(t, cheapHashing, withMail)
	ctx := testkit.Context(t)
	const pw = "correct horse battery"
	ann := b.signUp(t, "ann@example.com", "ann", pw)
	old := mailtest.Token(t, b.mail.WaitFor(t, "ann@example.com", 1, mailTimeout)[0])
	token := b.login(t, "ann", pw).GetTokens().GetAccessToken()
	_, err := b.client.UpdateUser(as(ctx, token), &userv1.UpdateUserRequest{
		User: &userv1.User{Id: ann.GetId(), Email: proto.String("ann@work.example.com")}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"email"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	fresh := mailtest.Token(t, b.mail.WaitFor(t, "ann@work.example.com", 1, mailTimeout)[0])
	_, err = b.client.VerifyEmail(ctx, &userv1.VerifyEmailRequest{Token: old})
	wantTokenRefused(t, err) // sent to an address ann no longer has
	u, err := b.client.VerifyEmail(ctx, &userv1.VerifyEmailRequest{Token: fresh})
	if err != nil || !u.GetIsVerified() || u.GetEmail() != "ann@work.example.com" {
		t.Fatalf("VerifyEmail(new address's token) = %v, %v", u, err)
	}
}

func TestResendVerification_MailsAgainIsThrottledAndStopsOnceVerified(t *testing.T) {
	t.Parallel()
	b := setup(t, cheapHashing, withMail)
	ctx := testkit.Context(t)
	const pw = "correct horse battery"
	b.signUp(t, "ann@example.com", "ann", pw)
	token := b.login(t, "ann", pw).GetTokens().GetAccessToken()
	const resends = 5 // user.MaxVerificationResends
	for i := range resends {
		if _, err := b.client.ResendVerification(as(ctx, token), &userv1.ResendVerificationRequest{}); err != nil {
			t.Fatalf("resend %d: %v", i+1, err)
		}
	}
	_, err := b.client.ResendVerification(as(ctx, token), &userv1.ResendVerificationRequest{})
	if d := retryDelay(t, err); d <= 0 || d > time.Hour {
		t.Errorf("retry delay %v", d)
	}
	msgs := b.mail.WaitFor(t, "ann@example.com", 1+resends, mailTimeout)
	// Every mailed token works (each is its own); the first verifies.
	if _, err := b.client.VerifyEmail(ctx, &userv1.VerifyEmailRequest{Token: mailtest.Token(t, msgs[len(msgs)-1])}); err != nil {
		t.Fatal(err)
	}
	_, err = b.client.ResendVerification(ctx, &userv1.ResendVerificationRequest{})
	wantCode(t, err, codes.Unauthenticated)
}

func TestResendVerification_AlreadyVerifiedIsFailedPrecondition(t *testing.T) {
	t.Parallel()
	b := setup(t, cheapHashing)
	_, token := b.signedIn(t, "ann")
	if _, err := b.db.Owner.Exec(testkit.Context(t), `UPDATE "user" SET is_verified = true WHERE username = 'ann'`); err != nil {
		t.Fatal(err)
	}
	_, err := b.client.ResendVerification(as(testkit.Context(t), token), &userv1.ResendVerificationRequest{})
	wantCode(t, err, codes.FailedPrecondition)
}

func TestPasswordReset_SameAnswerForAllMailOnlyToVerifiedTokenOnceRevokesEverything(t *testing.T) {
	t.Parallel()
	b := setup(t, cheapHashing, withMail)
	ctx := testkit.Context(t)
	const pw, next = "correct horse battery", "a brand new horse battery"
	ann := b.signUp(t, "ann@example.com", "ann", pw)
	verifyToken := mailtest.Token(t, b.mail.WaitFor(t, "ann@example.com", 1, mailTimeout)[0])
	if _, err := b.client.VerifyEmail(ctx, &userv1.VerifyEmailRequest{Token: verifyToken}); err != nil {
		t.Fatal(err)
	}
	b.signUp(t, "bob@example.com", "bob", pw) // never verified
	before := b.login(t, "ann", pw)
	b.accepted(t, before.GetTokens().GetAccessToken())
	script := b.createPAT(t, before.GetTokens().GetAccessToken(), "script", userv1.PersonalAccessTokenScope_PERSONAL_ACCESS_TOKEN_SCOPE_READ_ONLY)

	// Existing and verified (by email, by username), existing but not
	// verified, unknown: the same answer, status and body.
	var answers []proto.Message
	for _, login := range []string{"ann@example.com", "bob@example.com", "ghost@example.com", "ghost"} {
		resp, err := b.client.RequestPasswordReset(ctx, &userv1.RequestPasswordResetRequest{Login: login})
		if err != nil {
			t.Fatalf("RequestPasswordReset(%s): %v", login, err)
		}
		answers = append(answers, resp)
	}
	for i, a := range answers[1:] {
		if !proto.Equal(a, answers[0]) {
			t.Errorf("answer %d %v differs from %v", i+1, a, answers[0])
		}
	}
	// Only ann (verified) is mailed: once every queued mail is delivered,
	// bob has his sign-up mail only and nobody else got one.
	b.mailsSettled(t)
	resets := b.mail.To("ann@example.com")[1:]
	if len(resets) != 1 || resets[0].Subject != "Reset your password" {
		t.Fatalf("ann's mails after the sign-up: %+v, want one reset mail", resets)
	}
	if n := len(b.mail.To("bob@example.com")); n != 1 {
		t.Errorf("bob got %d mails, want his sign-up mail only", n)
	}
	if n := len(b.mail.Messages()); n != 3 {
		t.Errorf("%d mails in all, want 3 (two sign-ups, one reset)", n)
	}
	resetToken := mailtest.Token(t, resets[0])

	// A new password with sign-up's rules.
	_, err := b.client.ResetPassword(ctx, &userv1.ResetPasswordRequest{Token: resetToken, NewPassword: "short"})
	wantCode(t, err, codes.InvalidArgument)
	if _, err := b.client.ResetPassword(ctx, &userv1.ResetPasswordRequest{Token: resetToken, NewPassword: next}); err != nil {
		t.Fatalf("ResetPassword: %v", err)
	}
	_, err = b.client.ResetPassword(ctx, &userv1.ResetPasswordRequest{Token: resetToken, NewPassword: next + "!"})
	wantTokenRefused(t, err) // once only

	// The old password and every earlier token are refused.
	_, err = b.client.Login(ctx, &userv1.LoginRequest{Login: "ann", Password: pw})
	wantCode(t, err, codes.Unauthenticated)
	_, err = b.client.RefreshToken(ctx, &userv1.RefreshTokenRequest{RefreshToken: before.GetTokens().GetRefreshToken()})
	wantCode(t, err, codes.Unauthenticated)
	b.refusedWithin(t, before.GetTokens().GetAccessToken())
	b.refusedWithin(t, script.GetToken()) // personal access tokens too
	b.accepted(t, b.login(t, "ann", next).GetTokens().GetAccessToken())

	// Audited, without the password or the token.
	var n int
	if err := b.db.Owner.QueryRow(ctx, `SELECT count(*) FROM user_audit_event WHERE action = 'user.password_reset' AND target_id = $1
	    AND change::text NOT LIKE '%' || $2 || '%'`, ann.GetId(), resetToken).Scan(&n); err != nil || n != 1 {
		t.Errorf("password reset audit events: %d, %v; want 1", n, err)
	}
}

func TestPasswordReset_ExpiredTokenIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, cheapHashing, withMail)
	ctx := testkit.Context(t)
	const pw = "correct horse battery"
	ann := b.signUp(t, "ann@example.com", "ann", pw)
	if _, err := b.db.Owner.Exec(ctx, `UPDATE "user" SET is_verified = true WHERE id = $1`, ann.GetId()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.client.RequestPasswordReset(ctx, &userv1.RequestPasswordResetRequest{Login: "ann"}); err != nil {
		t.Fatal(err)
	}
	token := mailtest.Token(t, b.mail.WaitFor(t, "ann@example.com", 2, mailTimeout)[1])
	if _, err := b.db.Owner.Exec(ctx, `UPDATE user_email_token SET expires_at = now() - interval '1 second' WHERE purpose = 'reset_password'`); err != nil {
		t.Fatal(err)
	}
	_, err := b.client.ResetPassword(ctx, &userv1.ResetPasswordRequest{Token: token, NewPassword: "a brand new horse battery"})
	wantTokenRefused(t, err)
	b.login(t, "ann", pw)
}

// TestPasswordReset_TokenMailedToAnAddressTheUserLeftIsRefused: a reset
// link left in a mailbox the user has moved away from (an email change)
// no longer resets the password.
func TestPasswordReset_TokenMailedToAnAddressTheUserLeftIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, cheapHashing, withMail)
	ctx := testkit.Context(t)
	const pw = "correct horse battery"
	ann := b.signUp(t, "ann@example.com", "ann", pw)
	if _, err := b.db.Owner.Exec(ctx, `UPDATE "user" SET is_verified = true WHERE id = $1`, ann.GetId()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.client.RequestPasswordReset(ctx, &userv1.RequestPasswordResetRequest{Login: "ann"}); err != nil {
		t.Fatal(err)
	}
	token := mailtest.Token(t, b.mail.WaitFor(t, "ann@example.com", 2, mailTimeout)[1])
	access := b.login(t, "ann", pw).GetTokens().GetAccessToken()
	if _, err := b.client.UpdateUser(as(ctx, access), &userv1.UpdateUserRequest{
		User: &userv1.User{Id: ann.GetId(), Email: new("ann@new.example.com")}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"email"}},
	}); err != nil {
		t.Fatal(err)
	}
	_, err := b.client.ResetPassword(ctx, &userv1.ResetPasswordRequest{Token: token, NewPassword: "a brand new horse battery"})
	wantTokenRefused(t, err)
	b.login(t, "ann", pw)
}
