package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/todo-platform/todo/pkg/mail/mailtest"
)

// TestAccountLifecycle_VerifyThenResetRevokesEarlierTokensInBothServices
// runs sign-up → verification mail → VerifyEmail → password reset through
// the gateway and the real binaries, with a real SMTP server: the reset's
// answers do not tell accounts apart, and after the reset the old password
// and every earlier access and refresh token are refused by both services.
func TestAccountLifecycle_VerifyThenResetRevokesEarlierTokensInBothServices(t *testing.T) {
	smtp := mailtest.New(t)
	s := startStack(t, "SMTP_URL="+smtp.URL(), "MAIL_FROM=todo <no-reply@example.com>")
	anon := s.anon()
	const pw, next = "correct horse battery", "a brand new horse battery"
	signUp(t, anon, "ann", pw)
	verify := mailtest.Token(t, smtp.WaitFor(t, "ann@example.com", 1, 30*time.Second)[0])
	if got := anon.ok("POST", "/v1/auth/verifyEmail", obj{"token": verify}); got["is_verified"] != true {
		t.Fatalf("verifyEmail: %v", got)
	}
	anon.do("POST", "/v1/auth/verifyEmail", obj{"token": verify}).wantError(t, http.StatusBadRequest) // once only

	login := anon.ok("POST", "/v1/auth/login", obj{"login": "ann", "password": pw})
	ann := anon.as(str(t, login, "tokens.access_token"))
	acceptedEverywhere(t, ann)

	known := anon.do("POST", "/v1/auth/requestPasswordReset", obj{"login": "ann@example.com"})
	unknown := anon.do("POST", "/v1/auth/requestPasswordReset", obj{"login": "nobody@example.com"})
	if known.status != http.StatusOK || unknown.status != known.status || string(unknown.raw) != string(known.raw) {
		t.Fatalf("requestPasswordReset: known %d %s, unknown %d %s; want the same 200", known.status, known.raw, unknown.status, unknown.raw)
	}
	reset := mailtest.Token(t, smtp.WaitFor(t, "ann@example.com", 2, 30*time.Second)[1])
	anon.ok("POST", "/v1/auth/resetPassword", obj{"token": reset, "new_password": next})
	anon.do("POST", "/v1/auth/resetPassword", obj{"token": reset, "new_password": next}).wantError(t, http.StatusBadRequest)

	refusedEverywhere(t, ann)
	anon.do("POST", "/v1/auth/login", obj{"login": "ann", "password": pw}).wantError(t, http.StatusUnauthorized)
	anon.do("POST", "/v1/auth/refresh", obj{"refresh_token": str(t, login, "tokens.refresh_token")}).wantError(t, http.StatusUnauthorized)
	acceptedEverywhere(t, anon.as(logIn(t, anon, "ann", next)))
	if n := len(smtp.To("nobody@example.com")); n != 0 {
		t.Errorf("%d mails to an unknown address", n)
	}
}
