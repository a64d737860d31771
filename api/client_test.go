package api_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// clientMain is a third-party program that calls both services.
const clientMain = `package main

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
)

func main() {
	conn, err := grpc.NewClient("localhost:50051", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	_ = userv1.NewUserServiceClient(conn)
	_ = taskv1.NewTaskServiceClient(conn)
}
`

// TestClientModule_BuildsWithoutServerDependencies builds a client of both
// services in a module of its own that requires only this one, and checks
// that its module graph holds no server dependency.
func TestClientModule_BuildsWithoutServerDependencies(t *testing.T) {
	apiDir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	goMod := "module example.com/client\n\ngo 1.26.0\n\nrequire github.com/todo-platform/todo/api v0.0.0\n\nreplace github.com/todo-platform/todo/api => " + apiDir + "\n"
	for name, content := range map[string]string{"go.mod": goMod, "main.go": clientMain} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("mod", "tidy")
	run("build", "-o", filepath.Join(dir, "client"), ".")
	mods := run("list", "-m", "all")
	for _, server := range []string{"github.com/jackc/pgx", "github.com/pressly/goose", "github.com/golang-jwt/jwt", "github.com/todo-platform/todo/pkg"} {
		if strings.Contains(mods, server) {
			t.Errorf("the client's module graph has %s:\n%s", server, mods)
		}
	}
}
