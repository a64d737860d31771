// Package proctest is pkg/proc for tests: it builds binaries, starts
// servers and runs subcommands under a test, failing it on errors, and
// stops every server and prints its output (when the test failed) as the
// test ends.
//
//	bin := proctest.Build(t, "github.com/todo-platform/todo/services/user")
//	p := proctest.Serve(t, proc.Spec{Name: "user-service", Path: bin, Args: []string{"serve"},
//		Env: []string{"DATABASE_URL=" + db.UserAppURL}, AddrEnv: "GRPC_ADDR",
//		Ready: proc.GRPCHealth("")})
//	conn := proctest.Dial(t, p.Addr())
package proctest

import (
	"crypto/tls"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/todo-platform/todo/pkg/proc"
	"github.com/todo-platform/todo/pkg/testkit"
)

// StopTimeout is how long a server still running when its test ends has to
// exit after SIGTERM.
const StopTimeout = 10 * time.Second

// logTail is how much of a process's output a failed test prints.
const logTail = 64 << 10

// Build returns the path of the executable of the main package pkg (see
// proc.Build: pkg must be a tool directive of the test's module).
func Build(t testing.TB, pkg string) string {
	t.Helper()
	path, err := proc.Build(testkit.Context(t), pkg)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// Command returns proc.Command(ctx, bin, env, args...) with ctx the test's
// (testkit.Context): a subcommand run in a clean environment, killed if the
// test ends first.
func Command(t testing.TB, bin string, env []string, args ...string) *exec.Cmd {
	return proc.Command(testkit.Context(t), bin, env, args...)
}

// NewServer returns a proc.Server for spec on a fresh loopback listener.
// When the test ends, the process started last gets SIGTERM and must exit
// with status 0 within StopTimeout, or the test fails; then the listener is
// closed, and if the test failed, the output of every process the server
// started is logged.
func NewServer(t testing.TB, spec proc.Spec) *Server {
	t.Helper()
	lis, err := proc.Listen()
	if err != nil {
		t.Fatal(err)
	}
	s, err := proc.NewServer(lis, spec)
	if err != nil {
		lis.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(StopTimeout); err != nil {
			t.Errorf("when the test ended: %v", err)
		}
		_ = s.Close()
		if t.Failed() {
			runs := s.Processes()
			for i, p := range runs {
				heading := p.Name()
				if len(runs) > 1 {
					heading += fmt.Sprintf(" (start %d of %d)", i+1, len(runs))
				}
				t.Logf("---- %s output ----\n%s", heading, p.Tail(logTail))
			}
		}
	})
	return &Server{Server: s}
}

// Server is a proc.Server whose Start fails the test instead of returning
// an error.
type Server struct {
	*proc.Server
}

// Start starts the server and waits until it is ready (within the test's
// context and Spec.ReadyTimeout), failing t otherwise. t may be a subtest of
// the test that made the server: the process keeps running until that test
// ends.
func (s *Server) Start(t testing.TB) *Process {
	t.Helper()
	p, err := s.Server.Start(testkit.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	return &Process{Process: p, addr: s.Addr()}
}

// Process is a running proc.Process and the address it serves on.
type Process struct {
	*proc.Process
	addr string
}

// Addr returns the host:port the process serves on.
func (p *Process) Addr() string { return p.addr }

// Serve is NewServer(t, spec).Start(t).
func Serve(t testing.TB, spec proc.Spec) *Process {
	t.Helper()
	return NewServer(t, spec).Start(t)
}

// Dial returns a plaintext gRPC client connection to addr, closed when the
// test ends.
func Dial(t testing.TB, addr string) *grpc.ClientConn {
	t.Helper()
	return dial(t, addr, insecure.NewCredentials())
}

// DialTLS is Dial over TLS with cfg (its roots verify the server, the host
// of addr is the name checked; a client certificate for mutual TLS).
func DialTLS(t testing.TB, addr string, cfg *tls.Config) *grpc.ClientConn {
	t.Helper()
	return dial(t, addr, credentials.NewTLS(cfg))
}

func dial(t testing.TB, addr string, creds credentials.TransportCredentials) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}
