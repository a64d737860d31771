package main

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/auth/keyfile"
	"github.com/todo-platform/todo/pkg/keyring/keyringtest"
	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/pkg/proctest"
	"github.com/todo-platform/todo/pkg/testkit"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestStartServices_ServesAndStopsCleanly starts the three services the
// way a benchmark run does and checks that they answer, and that stop ends
// every process with exit status 0.
func TestStartServices_ServesAndStopsCleanly(t *testing.T) {
	bin := t.TempDir()
	for _, name := range processes {
		pkg := "github.com/todo-platform/todo/services/" + strings.TrimSuffix(name, "-service")
		if err := os.Symlink(proctest.Build(t, pkg), filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	b := &bench{cfg: config{Bin: bin, Concurrency: 2}, work: t.TempDir()}
	b.keyFile = filepath.Join(b.work, "token.pem")
	if err := keyfile.WritePrivate(b.keyFile); err != nil {
		t.Fatal(err)
	}
	_, b.keyringFile = keyringtest.New(t)
	db := pgtest.New(t)
	ctx := testkit.Context(t)
	svc, err := b.startServices(ctx, "test", db.UserAppURL, db.TaskAppURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.stop() })

	if _, err := svc.user.CreateUser(ctx, &userv1.CreateUserRequest{Email: "ann@example.com", Username: "ann", Password: password}); err != nil {
		t.Errorf("CreateUser: %v", err)
	}
	if _, err := svc.task.ListTasks(ctx, &taskv1.ListTasksRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("ListTasks without a token: %v, want Unauthenticated", err)
	}
	resp, err := svc.http.Get(svc.base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("gateway /readyz: %s", resp.Status)
	}
	if err := svc.alive(); err != nil {
		t.Errorf("alive: %v", err)
	}

	if err := svc.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := svc.alive(); !errors.Is(err, errStopped) {
		t.Errorf("alive after stop = %v, want errStopped", err)
	}
	for _, name := range processes {
		log, err := os.ReadFile(filepath.Join(b.work, "test-"+name+".log"))
		if err != nil || len(log) == 0 {
			t.Errorf("no output of %s in the work directory: %v", name, err)
		}
	}
}
