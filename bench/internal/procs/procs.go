// Package procs starts the services as child processes, reads their peak
// memory, and stops them.
package procs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is a running child process whose output goes to a log file.
type Process struct {
	// Name names the process in messages.
	Name   string
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
	err    error
}

// Start runs bin with args and an environment of PATH, HOME and env (so
// that nothing from the caller's environment, such as DATABASE_URL, leaks
// in), writing its stdout and stderr to logPath. The process gets SIGTERM if
// this one dies.
func Start(name, bin string, args, env []string, logPath string) (*Process, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	defer f.Close()
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, cmd: cmd, log: logPath, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// PID returns the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited is closed when the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// PeakRSS returns the process's peak resident set size in bytes (VmHWM in
// /proc/<pid>/status).
func (p *Process) PeakRSS() (int64, error) { return PeakRSS(p.PID()) }

// PeakRSS returns the peak resident set size in bytes of process pid.
func PeakRSS(pid int) (int64, error) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, fmt.Errorf("peak RSS: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("peak RSS: VmHWM %q: %w", v, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, errors.New("peak RSS: no VmHWM in /proc status")
}

// Stop sends SIGTERM and waits up to timeout for the process to exit, then
// kills it. It returns an error when the process had to be killed or
// exited with a failure.
func (p *Process) Stop(timeout time.Duration) error {
	select {
	case <-p.exited:
		return p.exitErr()
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return p.exitErr()
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s did not stop within %v after SIGTERM; killed it", p.Name, timeout)
	}
}

func (p *Process) exitErr() error {
	if p.err != nil {
		return fmt.Errorf("%s: %w; log: %s", p.Name, p.err, p.LogTail(1500))
	}
	return nil
}

// LogTail returns up to the last n bytes of the process's log.
func (p *Process) LogTail(n int64) string {
	f, err := os.Open(p.log)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	b := make([]byte, min(n, size))
	if _, err := f.ReadAt(b, size-int64(len(b))); err != nil {
		return "(no log: " + err.Error() + ")"
	}
	s := strings.TrimSpace(string(b))
	if int64(len(b)) < size {
		s = "…" + s
	}
	return s
}
