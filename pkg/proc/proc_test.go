package proc_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/todo-platform/todo/pkg/listen"
	"github.com/todo-platform/todo/pkg/proc"
	"github.com/todo-platform/todo/pkg/proctest"
	"github.com/todo-platform/todo/pkg/testkit"
)

// childEnv selects what the test binary does when it runs as a child
// instead of running the tests (see child).
const childEnv = "PROC_TEST_CHILD"

// TestMain makes the test binary double as the server binary under test.
func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(child(mode))
	}
	os.Exit(m.Run())
}

// child is a small server, configured like the platform's: it listens on
// GRPC_ADDR or HTTP_ADDR through pkg/listen, logs to stderr, stops on
// SIGTERM and exits with PROC_TEST_EXIT (0 by default). Modes:
//
//	grpc         health SERVING once listening
//	grpc-never   health NOT_SERVING forever
//	http         GET /healthz answers 200
//	http-linger  http, but after SIGTERM has closed the listener it waits
//	             for SIGINT before exiting
//	die          writes an error and exits 4 without listening
//	env          prints its environment and exits
func child(mode string) int {
	code, _ := strconv.Atoi(os.Getenv("PROC_TEST_EXIT"))
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	switch mode {
	case "die":
		fmt.Fprintln(os.Stderr, "child: cannot start: boom")
		return 4
	case "env":
		for _, kv := range os.Environ() {
			fmt.Println(kv)
		}
		return 0
	case "grpc", "grpc-never":
		lis, err := listen.Listen(context.Background(), os.Getenv("GRPC_ADDR"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		srv := grpc.NewServer()
		hs := health.NewServer()
		if mode == "grpc-never" {
			hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
		}
		healthpb.RegisterHealthServer(srv, hs)
		go srv.Serve(lis)
		fmt.Fprintln(os.Stderr, "child: gRPC serving on", lis.Addr())
		<-sigs
		srv.GracefulStop()
		fmt.Fprintln(os.Stderr, "child: stopped")
		return code
	case "http", "http-linger":
		lis, err := listen.Listen(context.Background(), os.Getenv("HTTP_ADDR"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, "ok from pid %d", os.Getpid())
		})
		srv := &http.Server{Handler: mux}
		go srv.Serve(lis)
		fmt.Fprintln(os.Stderr, "child: HTTP serving on", lis.Addr())
		<-sigs
		_ = srv.Shutdown(context.Background())
		if mode == "http-linger" {
			fmt.Fprintln(os.Stderr, "child: listener closed, lingering")
			<-sigs
		}
		return code
	}
	fmt.Fprintln(os.Stderr, "unknown mode", mode)
	return 2
}

// spec returns a Spec that runs this test binary as a child in mode.
func spec(t *testing.T, mode string, env ...string) proc.Spec {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	addrEnv, ready := "GRPC_ADDR", proc.GRPCHealth("")
	if strings.HasPrefix(mode, "http") {
		addrEnv, ready = "HTTP_ADDR", proc.HTTPOK("/healthz")
	}
	return proc.Spec{
		Name: "child-" + mode, Path: self, Args: []string{"-test.run=^$"},
		Env: append([]string{childEnv + "=" + mode}, env...), AddrEnv: addrEnv, Ready: ready,
	}
}

func newServer(t *testing.T, s proc.Spec) *proc.Server {
	t.Helper()
	lis, err := proc.Listen()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := proc.NewServer(lis, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = srv.Stop(5 * time.Second)
		_ = srv.Close()
	})
	return srv
}

func TestServer_ReadyOverGRPCHealthOnTheHandedOverPortThenStopsCleanly(t *testing.T) {
	srv := newServer(t, spec(t, "grpc"))
	p, err := srv.Start(testkit.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.GRPCHealth("")(testkit.Context(t), srv.Addr()); err != nil {
		t.Errorf("health at %s after Start: %v", srv.Addr(), err)
	}
	if logs := p.Logs(); !strings.Contains(logs, "child: gRPC serving on "+srv.Addr()) {
		t.Errorf("the child does not serve on the listener's address %s; output:\n%s", srv.Addr(), logs)
	}
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if code, exited := p.ExitCode(); !exited || code != 0 {
		t.Errorf("ExitCode = %d, %t; want 0, true", code, exited)
	}
	if !strings.Contains(p.Logs(), "child: stopped") {
		t.Errorf("the output after SIGTERM is missing:\n%s", p.Logs())
	}
}

func TestProcess_StopReportsANonZeroExit(t *testing.T) {
	p, err := newServer(t, spec(t, "grpc", "PROC_TEST_EXIT=3")).Start(testkit.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	err = p.Stop(10 * time.Second)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Errorf("Stop = %v, want an exit error with status 3", err)
	}
	if err := p.Wait(); err == nil {
		t.Error("Wait after a failed exit = nil")
	}
}

func TestServer_StartFailsWithTheOutputWhenTheChildExits(t *testing.T) {
	_, err := newServer(t, spec(t, "die")).Start(testkit.Context(t))
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Start of a child that exits = %v, want exited before ready, with its output (boom)", err)
	}
}

func TestServer_StartFailsWhenNeverServing(t *testing.T) {
	s := spec(t, "grpc-never")
	// A bound, not an assertion: the child answers NOT_SERVING within
	// milliseconds of starting, and the harness gives up after this.
	s.ReadyTimeout = 10 * time.Second
	srv := newServer(t, s)
	_, err := srv.Start(testkit.Context(t))
	if err == nil || !strings.Contains(err.Error(), "NOT_SERVING") {
		t.Fatalf("Start of a NOT_SERVING child = %v, want an error naming NOT_SERVING", err)
	}
	if p := srv.Process(); p == nil || p.Running() {
		t.Error("the child that never became ready is still running")
	}
}

func TestServer_RestartsOnTheSameAddress(t *testing.T) {
	srv := newServer(t, spec(t, "http"))
	var pids []string
	for i := range 2 {
		p, err := srv.Start(testkit.Context(t))
		if err != nil {
			t.Fatalf("start %d: %v", i+1, err)
		}
		if _, err := srv.Start(testkit.Context(t)); err == nil {
			t.Errorf("a second Start while running succeeded")
		}
		resp, err := http.Get("http://" + srv.Addr() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, string(body))
		if want := fmt.Sprintf("ok from pid %d", p.PID()); string(body) != want {
			t.Errorf("start %d: %s answered %q, want %q", i+1, srv.Addr(), body, want)
		}
		if err := p.Stop(10 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if pids[0] == pids[1] {
		t.Errorf("both starts answered as the same process: %v", pids)
	}
	if n := len(srv.Processes()); n != 2 {
		t.Errorf("Processes() has %d runs, want 2", n)
	}
}

func TestServer_ClientsWaitForTheFirstStart(t *testing.T) {
	// A connection made before the server starts waits in the listener's
	// backlog and is answered by the process started later.
	srv := newServer(t, spec(t, "http"))
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatalf("dial before the start: %v", err)
	}
	defer c.Close()
	p, err := srv.Start(testkit.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(c, "GET /healthz HTTP/1.0\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 512)
	n, _ := c.Read(buf)
	if want := fmt.Sprintf("ok from pid %d", p.PID()); !strings.Contains(string(buf[:n]), "200 OK") || !strings.Contains(string(buf[:n]), want) {
		t.Errorf("the early connection got %q, want 200 and %q", buf[:n], want)
	}
}

func TestProcess_ListeningEndsWhenShutdownBegins(t *testing.T) {
	p, err := newServer(t, spec(t, "http-linger")).Start(testkit.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := p.Listening(); err != nil || !ok {
		t.Fatalf("Listening while serving = %t, %v; want true", ok, err)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		ok, err := p.Listening()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the child still holds the listener 30s after SIGTERM")
		}
	}
	if !p.Running() {
		t.Fatalf("the child exited instead of lingering:\n%s", p.Logs())
	}
	if err := p.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err != nil {
		t.Errorf("exit after lingering: %v", err)
	}
}

func TestProcess_PeakRSS(t *testing.T) {
	p, err := newServer(t, spec(t, "grpc")).Start(testkit.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	if rss, err := p.PeakRSS(); err != nil || rss < 1<<20 {
		t.Errorf("PeakRSS = %d, %v; want at least a MiB", rss, err)
	}
}

func TestServer_LogPathAppendsOutputToTheFile(t *testing.T) {
	s := spec(t, "grpc")
	s.LogPath = t.TempDir() + "/child.log"
	srv := newServer(t, s)
	for range 2 {
		p, err := srv.Start(testkit.Context(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Stop(10 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(s.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "child: stopped"); n != 2 {
		t.Errorf("the log file has %d runs' output, want 2:\n%s", n, b)
	}
	if got := srv.Process().Logs(); got != string(b) {
		t.Errorf("Logs() = %q, want the file's contents", got)
	}
}

func TestCommand_EnvironmentIsPATHHOMEAndTheGivenVariables(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://leaked")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out, err := proc.Command(testkit.Context(t), self, []string{childEnv + "=env", "A=1"}, "-test.run=^$").Output()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, kv := range strings.Fields(string(out)) {
		name, _, _ := strings.Cut(kv, "=")
		names = append(names, name)
	}
	slices.Sort(names)
	want := []string{"A", "HOME", childEnv, "PATH"}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("child environment has %v, want %v", names, want)
	}
}

func TestNewServer_RequiresAddrEnv(t *testing.T) {
	lis, err := proc.Listen()
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	if _, err := proc.NewServer(lis, proc.Spec{Name: "x", Path: "/bin/true"}); err == nil {
		t.Error("NewServer without AddrEnv = nil error")
	}
}

func TestBuild_ToolIsBuiltOnceAndRuns(t *testing.T) {
	const withpg = "github.com/todo-platform/todo/pkg/pgtest/cmd/withpg"
	first := proctest.Build(t, withpg)
	if again := proctest.Build(t, withpg); again != first {
		t.Errorf("second Build = %s, want the cached %s", again, first)
	}
	out, err := proctest.Command(t, first, nil).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(out), "usage: withpg") {
		t.Errorf("withpg without arguments: %v\n%s\nwant exit status 2 and its usage", err, out)
	}
}

func TestBuild_RefusesAPackageThatIsNoTool(t *testing.T) {
	_, err := proc.Build(testkit.Context(t), "github.com/todo-platform/todo/pkg/proc")
	if err == nil || !strings.Contains(err.Error(), "tool directive") {
		t.Errorf("Build of a non-tool package = %v, want an error pointing at the tool directive", err)
	}
}
