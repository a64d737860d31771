// Package dataset lays out and seeds the benchmark's users and tasks.
//
// The layout is a pure function of a task's id, so the seeder, the load
// driver and pgbench's scripts (which have no way to look anything up) all
// agree on who created which task without storing a list:
//
//   - "Heavy" users (the last Heavy user ids) each own exactly HeavyPerUser
//     tasks, enough for ListTasks to page to page 1000. Their tasks are
//     spread evenly over the id range (a Bresenham walk), so their ids and
//     created_at times interleave with everybody else's.
//   - Every other task belongs to a "regular" user chosen by a multiplicative
//     hash of the id squared into a skew: user k gets a share of about
//     1/(2·sqrt(k·R)) of the regular tasks (R regular users), so a few users
//     have thousands of tasks and the median user a few dozen (at 1M tasks
//     over 10k users). The arithmetic is integer only (pgbench's int()
//     rounds where Go truncates).
package dataset

import (
	"errors"
	"fmt"
)

// Knuth's multiplicative hash constant (2^32 / golden ratio) and 2^32; the
// top hashBits bits of the 32-bit hash are used, so R·t·t stays below 2^63
// for up to maxUsers users.
const (
	hashMul  = 2654435761
	hashMod  = 1 << 32
	hashBits = 20
	maxUsers = 1 << (63 - 2*hashBits)
)

// maxHeavyUsers is the most heavy users a layout has.
const maxHeavyUsers = 4

// Layout says how many users and tasks a dataset has and who created each
// task. Task ids run from 1 to Tasks, user ids from 1 to Users.
type Layout struct {
	// Users is the number of users.
	Users int64
	// Tasks is the number of seeded tasks.
	Tasks int64
	// Heavy is the number of heavy users: user ids Users-Heavy+1 .. Users.
	Heavy int64
	// HeavyPerUser is the number of tasks each heavy user created.
	HeavyPerUser int64
}

// NewLayout returns the layout of users and tasks in which each heavy user
// owns enough tasks for pages+10 pages of pageSize tasks: up to four heavy
// users, together owning at most 60% of the tasks.
func NewLayout(users, tasks int64, pageSize, pages int) (Layout, error) {
	if users < 2 || tasks < 1 || pageSize < 1 || pages < 1 {
		return Layout{}, errors.New("dataset layout: users ≥ 2, tasks, page size and pages ≥ 1 needed")
	}
	if users > maxUsers {
		return Layout{}, fmt.Errorf("dataset layout: at most %d users", maxUsers)
	}
	per := int64(pages+10) * int64(pageSize)
	heavy := min(maxHeavyUsers, tasks*6/10/per, users/2)
	if heavy < 1 {
		return Layout{}, fmt.Errorf("dataset layout: %d tasks are too few for a user with %d pages of %d tasks (%d tasks, at most 60%% of all); use more tasks or a smaller page size",
			tasks, pages+10, pageSize, per)
	}
	if tasks > 1<<33 {
		return Layout{}, fmt.Errorf("dataset layout: %d tasks is more than the id hash supports", tasks)
	}
	return Layout{Users: users, Tasks: tasks, Heavy: heavy, HeavyPerUser: per}, nil
}

// HeavyFirst returns the id of the first heavy user.
func (l Layout) HeavyFirst() int64 { return l.Users - l.Heavy + 1 }

// HeavyTasks returns the number of tasks created by heavy users.
func (l Layout) HeavyTasks() int64 { return l.Heavy * l.HeavyPerUser }

// Regular returns the number of regular users (ids 1 .. Regular()).
func (l Layout) Regular() int64 { return l.Users - l.Heavy }

// IsHeavyUser reports whether user id is a heavy user.
func (l Layout) IsHeavyUser(id int64) bool { return id >= l.HeavyFirst() && id <= l.Users }

// Creator returns the id of the user who created task id (1 ≤ id ≤ Tasks).
// scripts/*.sql in package pgbench compute the same function; keep them in
// step.
func (l Layout) Creator(id int64) int64 {
	a := l.HeavyTasks()
	if k := id * a / l.Tasks; k > (id-1)*a/l.Tasks {
		return l.HeavyFirst() + (k-1)%l.Heavy
	}
	t := id * hashMul % hashMod >> (32 - hashBits)
	return 1 + l.Regular()*t*t>>(2*hashBits)
}

// PgbenchVars returns the variables (pgbench -D name=value) the pgbench
// scripts use to compute Creator.
func (l Layout) PgbenchVars() map[string]string {
	return map[string]string{
		"ntasks":        fmt.Sprint(l.Tasks),
		"heavy_tasks":   fmt.Sprint(l.HeavyTasks()),
		"heavy_first":   fmt.Sprint(l.HeavyFirst()),
		"heavy_users":   fmt.Sprint(l.Heavy),
		"users":         fmt.Sprint(l.Users),
		"regular_users": fmt.Sprint(l.Regular()),
	}
}
