package mail_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/todo-platform/todo/pkg/mail"
	"github.com/todo-platform/todo/pkg/mail/mailtest"
)

func TestNewSMTP_RefusesWhatItCannotUse(t *testing.T) {
	for _, tc := range []struct{ url, from string }{
		{"http://mail.example.com", "a@example.com"},
		{"smtp://", "a@example.com"},
		{"smtp://mail.example.com?tls=maybe", "a@example.com"},
		{"smtp://mail.example.com:port", "a@example.com"},
		{"smtp://mail.example.com", ""},
		{"smtp://mail.example.com", "not an address"},
	} {
		if _, err := mail.NewSMTP(tc.url, tc.from); err == nil {
			t.Errorf("NewSMTP(%q, %q) accepted", tc.url, tc.from)
		}
	}
	for _, u := range []string{"smtp://mail.example.com", "smtp://u:p@mail.example.com:2525?tls=opportunistic", "smtps://mail.example.com"} {
		if _, err := mail.NewSMTP(u, "todo <no-reply@example.com>"); err != nil {
			t.Errorf("NewSMTP(%q): %v", u, err)
		}
	}
}

func TestSMTP_DeliversToARealServerAndReportsItsRefusal(t *testing.T) {
	srv := mailtest.New(t)
	s, err := mail.NewSMTP(srv.URL(), "todo <no-reply@example.com>")
	if err != nil {
		t.Fatal(err)
	}
	srv.SetTempFail(true)
	m := mail.Message{To: "ann@example.com", Subject: "Hello", Text: "line one\ntoken: abc_DEF-123\n"}
	if err := s.Send(t.Context(), m, "id-1@example.com"); err == nil {
		t.Fatal("Send succeeded although the server answered 451")
	}
	srv.SetTempFail(false)
	if err := s.Send(t.Context(), m, "id-1@example.com"); err != nil {
		t.Fatal(err)
	}
	got := srv.WaitFor(t, "ann@example.com", 1, 10*time.Second)[0]
	if got.Subject != "Hello" || got.MessageID != "<id-1@example.com>" || mailtest.Token(t, got) != "abc_DEF-123" {
		t.Errorf("received %+v", got)
	}
}

func TestFile_AppendsMessages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mail.log")
	f, err := mail.NewFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{"a@example.com", "b@example.com"} {
		if err := f.Send(t.Context(), mail.Message{To: to, Subject: "S", Text: "token: x"}, "id@example.com"); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "To: a@example.com") || !strings.Contains(string(b), "To: b@example.com") || strings.Count(string(b), "token: x") != 2 {
		t.Errorf("mail log:\n%s", b)
	}
	if _, err := mail.NewFile(filepath.Join(t.TempDir(), "missing", "mail.log")); err == nil {
		t.Error("NewFile in a missing directory succeeded")
	}
}

func TestRetryDelay_GrowsAndIsCapped(t *testing.T) {
	prev := time.Duration(0)
	for a := 1; a <= mail.MaxAttempts; a++ {
		d := mail.RetryDelay(a)
		if d < prev || d > 10*time.Minute || d <= 0 {
			t.Fatalf("RetryDelay(%d) = %v after %v", a, d, prev)
		}
		prev = d
	}
}
