// Package cpu measures how much CPU time processes spend, from the utime
// and stime of /proc/<pid>/stat (read with prometheus/procfs): a process's
// own time plus that of its children, the live ones and those it has
// reaped, so that a PostgreSQL postmaster stands for all its backends.
package cpu

import (
	"fmt"
	"time"

	"github.com/prometheus/procfs"
)

// userHZ is the unit of /proc/<pid>/stat's times: Linux's USER_HZ, 100 on
// every architecture it exports times to user space for (procfs's
// CPUTime assumes the same).
const userHZ = 100

// Group is a named process whose CPU time is counted, with its children's
// when Children is set.
type Group struct {
	Name     string
	PID      int
	Children bool
}

// Sample is the CPU time each group has spent since it started.
type Sample map[string]time.Duration

// Read samples the CPU time of each group: the process's utime and stime,
// and for a group with Children the cutime and cstime of the children it
// has waited for and the utime and stime of its live children (one level
// deep, as PostgreSQL's backends are).
func Read(fs procfs.FS, groups []Group) (Sample, error) {
	procs, err := fs.AllProcs()
	if err != nil {
		return nil, fmt.Errorf("cpu: list processes: %w", err)
	}
	children := map[int]uint64{} // pid → ticks of its live children
	for _, p := range procs {
		st, err := p.Stat()
		if err != nil {
			continue // gone since the listing
		}
		children[st.PPID] += uint64(st.UTime + st.STime)
	}
	s := Sample{}
	for _, g := range groups {
		p, err := fs.Proc(g.PID)
		if err != nil {
			return nil, fmt.Errorf("cpu: %s (pid %d): %w", g.Name, g.PID, err)
		}
		st, err := p.Stat()
		if err != nil {
			return nil, fmt.Errorf("cpu: %s (pid %d): %w", g.Name, g.PID, err)
		}
		ticks := uint64(st.UTime + st.STime)
		if g.Children {
			ticks += uint64(max(0, st.CUTime+st.CSTime)) + children[g.PID]
		}
		s[g.Name] = time.Duration(ticks) * time.Second / userHZ
	}
	return s, nil
}

// Since returns the CPU time each group of s spent after earlier, which
// must sample the same groups.
func (s Sample) Since(earlier Sample) Sample {
	d := Sample{}
	for name, t := range s {
		d[name] = max(0, t-earlier[name])
	}
	return d
}

// Window measures the CPU time of groups between Start and Stop, for hooks
// called at a measured window's edges.
type Window struct {
	fs            procfs.FS
	groups        []Group
	before, after Sample
	err           error
}

// NewWindow returns a Window over groups.
func NewWindow(fs procfs.FS, groups []Group) *Window { return &Window{fs: fs, groups: groups} }

// Start samples the groups as the window opens.
func (w *Window) Start() { w.before, w.err = Read(w.fs, w.groups) }

// Stop samples them as it closes.
func (w *Window) Stop() {
	if w.err == nil {
		w.after, w.err = Read(w.fs, w.groups)
	}
}

// Spent returns the CPU time each group spent in the window, or the first
// error sampling it.
func (w *Window) Spent() (Sample, error) {
	if w.err != nil {
		return nil, w.err
	}
	return w.after.Since(w.before), nil
}
