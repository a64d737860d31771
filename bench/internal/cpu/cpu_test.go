package cpu_test

import (
	"os"
	"os/exec"
	"testing"

	"github.com/prometheus/procfs"

	"github.com/todo-platform/todo/bench/internal/cpu"
)

// TestRead_CountsChildren: a child that burns CPU and exits is counted in
// its parent's group once it has been waited for, and the total only grows.
func TestRead_CountsChildren(t *testing.T) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		t.Fatal(err)
	}
	self := []cpu.Group{{Name: "self", PID: os.Getpid(), Children: true}}
	before, err := cpu.Read(fs, self)
	if err != nil {
		t.Fatal(err)
	}
	// About 0.3 s of CPU in a child shell.
	cmd := exec.Command("sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	child := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	after, err := cpu.Read(fs, self)
	if err != nil {
		t.Fatal(err)
	}
	spent := after.Since(before)["self"]
	// /proc counts in 10 ms ticks: allow one tick either way per field.
	if spent < child-20e6 {
		t.Errorf("self spent %v over a child that used %v, want at least the child's time", spent, child)
	}
	if _, err := cpu.Read(fs, []cpu.Group{{Name: "gone", PID: 1 << 30}}); err == nil {
		t.Error("Read of a pid that does not exist: no error")
	}
}
