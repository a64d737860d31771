// Package proc runs the platform's server binaries as child processes, for
// the tests that start them and for the benchmark: it builds the executable
// once (Build), starts it on a listening socket this process bound and hands
// over (so the port is known before the child starts and no other process
// can take it), waits until the child reports itself ready through its
// health service, keeps its output, and stops it with a signal, checking its
// exit status.
//
// It does not import "testing"; pkg/proctest wraps it for tests.
package proc

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/todo-platform/todo/pkg/listen"
)

// DefaultReadyTimeout bounds the wait for readiness when Spec.ReadyTimeout
// is zero.
const DefaultReadyTimeout = 60 * time.Second

// listenerFD is the descriptor number the child finds its listener at: the
// first of exec.Cmd.ExtraFiles.
const listenerFD = 3

// Env returns the environment of a child process: PATH and HOME of this
// process, then extra. Nothing else is inherited, so that a developer's
// DATABASE_URL or GRPC_ADDR cannot leak into a test.
func Env(extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, extra...)
}

// Command returns a command running bin with args in the environment
// Env(env...), killed when ctx ends. It is for the one-shot subcommands
// (migrate, admin create) and for runs that are expected to fail.
func Command(ctx context.Context, bin string, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = Env(env...)
	return cmd
}

// Listen returns a TCP listener on a port of 127.0.0.1 chosen by the kernel,
// for a Server.
func Listen() (net.Listener, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("proc: listen: %w", err)
	}
	return lis, nil
}

// Spec says how to run one server binary.
type Spec struct {
	// Name names the process in errors and log headings.
	Name string
	// Path is the executable (see Build).
	Path string
	// Args are its arguments, such as "serve".
	Args []string
	// Env is its environment besides PATH and HOME (see Env).
	Env []string
	// AddrEnv is the environment variable the server reads its listen
	// address from (GRPC_ADDR, HTTP_ADDR). It is set to "fd:3", the
	// listener this process hands over (see pkg/listen).
	AddrEnv string
	// AdminAddrEnv, when set, is the variable the server reads its admin
	// port's address from (ADMIN_ADDR): the Server binds a second loopback
	// listener for it and hands it over as "fd:4" (see Server.AdminAddr).
	AdminAddrEnv string
	// Ready reports whether the server at an address is ready (GRPCHealth,
	// HTTPOK). Nil means ready as soon as it has started.
	Ready Ready
	// ReadyTimeout bounds the wait for Ready; zero means
	// DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// LogPath, when set, is a file the output (stdout and stderr) is
	// appended to; otherwise the output is kept in memory.
	LogPath string
}

// Server is a server binary and the listener it is started on. The listener
// belongs to this process for the life of the Server, so the server can be
// stopped and started again on the same address, and a client can be given
// the address before the server first starts (its connections wait in the
// listener's backlog until a process accepts them).
type Server struct {
	spec  Spec
	lis   net.Listener
	admin net.Listener // nil without Spec.AdminAddrEnv
	inode uint64       // of the listening socket, to find it in /proc/<pid>/fd

	mu   sync.Mutex
	runs []*Process
}

// NewServer returns a Server for spec on lis (see Listen), which it owns from
// now on: Close closes it.
func NewServer(lis net.Listener, spec Spec) (*Server, error) {
	if spec.AddrEnv == "" {
		return nil, fmt.Errorf("proc: %s: Spec.AddrEnv is empty", spec.Name)
	}
	ino, err := socketInode(lis)
	if err != nil {
		return nil, fmt.Errorf("proc: %s: %w", spec.Name, err)
	}
	s := &Server{spec: spec, lis: lis, inode: ino}
	if spec.AdminAddrEnv != "" {
		if s.admin, err = Listen(); err != nil {
			return nil, fmt.Errorf("proc: %s: admin port: %w", spec.Name, err)
		}
	}
	return s, nil
}

// Name returns Spec.Name.
func (s *Server) Name() string { return s.spec.Name }

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// AdminAddr returns the host:port of the admin port (Spec.AdminAddrEnv), or
// "" without one.
func (s *Server) AdminAddr() string {
	if s.admin == nil {
		return ""
	}
	return s.admin.Addr().String()
}

// Listener returns the listener, for a test that accepts connections on it
// itself before any process is started.
func (s *Server) Listener() net.Listener { return s.lis }

// Process returns the process started last, or nil before the first Start.
func (s *Server) Process() *Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.runs) == 0 {
		return nil
	}
	return s.runs[len(s.runs)-1]
}

// Processes returns every process started, in start order.
func (s *Server) Processes() []*Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Process(nil), s.runs...)
}

// Start starts the binary on the server's listener and waits until it is
// ready, it exits, ctx ends or Spec.ReadyTimeout passes. It fails while the
// process started before is still running. When the process does not become
// ready it is killed, and the error carries the end of its output.
func (s *Server) Start(ctx context.Context) (*Process, error) {
	if p := s.Process(); p != nil && p.Running() {
		return nil, fmt.Errorf("proc: %s is already running (pid %d)", s.spec.Name, p.PID())
	}
	f, err := listen.File(s.lis)
	if err != nil {
		return nil, fmt.Errorf("proc: %s: %w", s.spec.Name, err)
	}
	defer f.Close() // the child has its own copy once started
	cmd := exec.Command(s.spec.Path, s.spec.Args...)
	env := append(append([]string(nil), s.spec.Env...), s.spec.AddrEnv+"=fd:"+strconv.Itoa(listenerFD))
	cmd.ExtraFiles = []*os.File{f}
	if s.admin != nil {
		af, err := listen.File(s.admin)
		if err != nil {
			return nil, fmt.Errorf("proc: %s: admin port: %w", s.spec.Name, err)
		}
		defer af.Close()
		env = append(env, s.spec.AdminAddrEnv+"=fd:"+strconv.Itoa(listenerFD+1))
		cmd.ExtraFiles = append(cmd.ExtraFiles, af)
	}
	cmd.Env = Env(env...)
	p, err := start(s.spec.Name, cmd, s.spec.LogPath, s.inode)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.runs = append(s.runs, p)
	s.mu.Unlock()
	if err := p.waitReady(ctx, s.Addr(), s.spec.Ready, s.spec.ReadyTimeout); err != nil {
		p.kill()
		return nil, fmt.Errorf("proc: %s: %w\n%s", s.spec.Name, err, p.Tail(4<<10))
	}
	return p, nil
}

// Stop stops the process started last, if any, as Process.Stop does.
func (s *Server) Stop(timeout time.Duration) error {
	if p := s.Process(); p != nil {
		return p.Stop(timeout)
	}
	return nil
}

// Close closes the listeners. A process still running keeps serving on its
// copy of the sockets; call Stop first.
func (s *Server) Close() error {
	if s.admin != nil {
		_ = s.admin.Close()
	}
	return s.lis.Close()
}

// Process is one run of a binary.
type Process struct {
	name  string
	cmd   *exec.Cmd
	out   *output
	inode uint64

	done chan struct{}
	err  error // the exit error, valid once done is closed
}

// start runs cmd with its output going to logPath (or memory), and a
// goroutine that records its exit.
func start(name string, cmd *exec.Cmd, logPath string, inode uint64) (*Process, error) {
	out := &output{}
	if logPath != "" {
		f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("proc: %s: log file: %w", name, err)
		}
		defer f.Close() // the child has its own descriptor
		out.path = logPath
		cmd.Stdout, cmd.Stderr = f, f
	} else {
		cmd.Stdout, cmd.Stderr = out, out
	}
	// The child gets SIGTERM if this process dies first. The signal is sent
	// when the thread that started the child exits, so that thread stays
	// locked to the goroutine that waits for the child.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	cmd.WaitDelay = 5 * time.Second // output copying, should a grandchild hold the pipe
	p := &Process{name: name, cmd: cmd, out: out, inode: inode, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("proc: start %s: %w", name, err)
	}
	return p, nil
}

// Name returns the name of the process.
func (p *Process) Name() string { return p.name }

// PID returns the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Running reports whether the process has not exited yet.
func (p *Process) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("proc: signal %s: %w", p.name, err)
	}
	return nil
}

// Wait waits for the process to exit and returns nil when it exited with
// status 0, else an error naming the status or signal.
func (p *Process) Wait() error {
	<-p.done
	return p.exitErr()
}

// Stop sends SIGTERM (unless the process has exited already) and waits up
// to timeout for the exit; then it kills the process. It returns nil only
// when the process exited with status 0 in time.
func (p *Process) Stop(timeout time.Duration) error {
	if !p.Running() {
		return p.exitErr()
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.done:
		return p.exitErr()
	case <-timer.C:
		p.kill()
		return fmt.Errorf("proc: %s did not exit within %v of SIGTERM; killed it", p.name, timeout)
	}
}

// kill kills the process and waits for it.
func (p *Process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (p *Process) exitErr() error {
	if p.err != nil {
		return fmt.Errorf("proc: %s: %w", p.name, p.err)
	}
	return nil
}

// ExitCode returns the exit status once the process has exited: -1 when it
// was ended by a signal, and false while it is running.
func (p *Process) ExitCode() (int, bool) {
	if p.Running() {
		return 0, false
	}
	return p.cmd.ProcessState.ExitCode(), true
}

// Logs returns the process's output so far.
func (p *Process) Logs() string { return p.out.String() }

// Tail returns at most the last n bytes of the process's output.
func (p *Process) Tail(n int) string {
	s := p.Logs()
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// Listening reports whether the process still holds the listening socket it
// was started on: a server that has begun to shut down has closed it. It
// reads /proc/<pid>/fd, so it is for Linux.
func (p *Process) Listening() (bool, error) {
	dir := filepath.Join("/proc", strconv.Itoa(p.PID()), "fd")
	entries, err := os.ReadDir(dir)
	if err != nil {
		if !p.Running() {
			return false, nil
		}
		return false, fmt.Errorf("proc: %s: %w", p.name, err)
	}
	want := "socket:[" + strconv.FormatUint(p.inode, 10) + "]"
	for _, e := range entries {
		if target, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && target == want {
			return true, nil
		}
	}
	return false, nil
}

// PeakRSS returns the process's peak resident set size in bytes (VmHWM in
// /proc/<pid>/status), while it runs.
func (p *Process) PeakRSS() (int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.PID()), "status"))
	if err != nil {
		return 0, fmt.Errorf("proc: %s: peak RSS: %w", p.name, err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("proc: %s: peak RSS: VmHWM %q: %w", p.name, v, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("proc: %s: peak RSS: no VmHWM in /proc status", p.name)
}

// waitReady polls ready until it reports the server ready, the process
// exits, ctx ends or timeout passes.
func (p *Process) waitReady(ctx context.Context, addr string, ready Ready, timeout time.Duration) error {
	if ready == nil {
		return nil
	}
	if timeout == 0 {
		timeout = DefaultReadyTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error // what the last attempt that ran to its end answered
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, time.Second)
		err := ready(attempt, addr)
		cancelAttempt()
		if err == nil {
			return nil
		}
		if last == nil || ctx.Err() == nil {
			last = err
		}
		select {
		case <-p.done:
			return fmt.Errorf("exited before it was ready (%v)", p.err)
		case <-ctx.Done():
			return fmt.Errorf("not ready within %v: %w", timeout, last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// output keeps a process's output in memory, or names the file it goes to.
type output struct {
	path string // the log file; empty: buf

	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *output) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(b)
}

func (o *output) String() string {
	if o.path != "" {
		b, err := os.ReadFile(o.path)
		if err != nil {
			return "(no log: " + err.Error() + ")"
		}
		return string(b)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// socketInode returns the inode number of lis's socket.
func socketInode(lis net.Listener) (uint64, error) {
	sc, ok := lis.(syscall.Conn)
	if !ok {
		return 0, fmt.Errorf("listener %T has no socket", lis)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var st syscall.Stat_t
	var statErr error
	if err := raw.Control(func(fd uintptr) { statErr = syscall.Fstat(int(fd), &st) }); err != nil {
		return 0, err
	}
	if statErr != nil {
		return 0, fmt.Errorf("fstat listener: %w", statErr)
	}
	return st.Ino, nil
}
