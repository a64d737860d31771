package main

import (
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/auth/keyfile"
	"github.com/todo-platform/todo/pkg/keyring/keyringtest"
	"github.com/todo-platform/todo/pkg/mail/mailtest"
	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/pkg/proc"
	"github.com/todo-platform/todo/pkg/proctest"
	"github.com/todo-platform/todo/pkg/testkit"
)

// TestMail_KilledBetweenCommitAndDeliveryStillDeliversExactlyOnce signs up
// while the SMTP server refuses every message (451), so the sign-up has
// committed its mail and no delivery has happened; it then kills the user
// service with SIGKILL, lets the SMTP server accept, and starts the
// service again: the mail arrives, once, with the Message-ID of its outbox
// row.
func TestMail_KilledBetweenCommitAndDeliveryStillDeliversExactlyOnce(t *testing.T) {
	bin := proctest.Build(t, "github.com/todo-platform/todo/services/user")
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	if err := keyfile.WritePrivate(keyFile); err != nil {
		t.Fatal(err)
	}
	_, ringFile := keyringtest.New(t)
	db := pgtest.New(t)
	smtp := mailtest.New(t)
	smtp.SetTempFail(true)
	srv := proctest.NewServer(t, proc.Spec{
		Name: "user-service", Path: bin, Args: []string{"serve"},
		Env: []string{
			"DATABASE_URL=" + db.UserAppURL, "TOKEN_PRIVATE_KEY_FILE=" + keyFile, "DATA_KEYRING_FILE=" + ringFile,
			"SMTP_URL=" + smtp.URL(), "MAIL_FROM=todo <no-reply@example.com>",
		},
		AddrEnv: "GRPC_ADDR", AdminAddrEnv: "ADMIN_ADDR", Ready: proc.GRPCHealth(userv1.UserService_ServiceDesc.ServiceName),
	})
	first := srv.Start(t)
	client := userv1.NewUserServiceClient(proctest.Dial(t, srv.Addr()))
	if _, err := client.CreateUser(testkit.Context(t), &userv1.CreateUserRequest{
		Email: "ann@example.com", Username: "ann", Password: "correct horse battery",
	}); err != nil {
		t.Fatal(err)
	}

	// Committed, tried, not delivered.
	var jobID int64
	waitFor(t, "the mail job's first failed attempt", func() bool {
		err := db.Owner.QueryRow(testkit.Context(t),
			`SELECT id FROM river_user.river_job WHERE kind = 'mail' AND state = 'retryable' AND attempt >= 1`).Scan(&jobID)
		return err == nil
	})
	if got := smtp.Messages(); len(got) != 0 {
		t.Fatalf("delivered while the server refused: %+v", got)
	}
	if err := first.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.Done()

	smtp.SetTempFail(false)
	srv.Start(t)
	msgs := smtp.WaitFor(t, "ann@example.com", 1, 30*time.Second)
	waitFor(t, "the mail job to complete", func() bool {
		var state string
		err := db.Owner.QueryRow(testkit.Context(t), `SELECT state FROM river_user.river_job WHERE id = $1`, jobID).Scan(&state)
		return err == nil && state == "completed"
	})
	// The job is done: nothing will send it again. What the server saw:
	if got := smtp.To("ann@example.com"); len(got) != 1 {
		t.Fatalf("%d deliveries, want exactly 1: %+v", len(got), got)
	}
	if want := "<todo-mail-" + itoa(jobID) + "@example.com>"; msgs[0].MessageID != want {
		t.Errorf("Message-ID %q, want %q (from the outbox row)", msgs[0].MessageID, want)
	}
	if mailtest.Token(t, msgs[0]) == "" {
		t.Error("no token in the mail")
	}
}

// waitFor polls cond every 50 ms until it holds, failing the test after 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
