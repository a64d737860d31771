package task

// Caller is who asks: a signed-in user, possibly an admin.
type Caller struct {
	UserID int64
	Admin  bool
}

// Action is something a caller does to an existing task.
type Action int

// The actions on a task.
const (
	// ActionRead reads the task.
	ActionRead Action = iota
	// ActionSetStatus changes the status only.
	ActionSetStatus
	// ActionEdit changes fields other than (or besides) the status.
	ActionEdit
	// ActionAssign assigns or unassigns the task.
	ActionAssign
	// ActionDelete deletes the task.
	ActionDelete
)

// AssigneeMay reports whether the task's assignee may do a: read it and
// change its status, nothing else.
func (a Action) AssigneeMay() bool { return a == ActionRead || a == ActionSetStatus }

// ActionFor returns the action an update that changes fields is:
// ActionSetStatus when it changes the status and nothing else, ActionEdit
// when it changes anything else. Fields a patch sends with the values they
// already have are not changes (see Patch.Changes): an assignee may send
// back the title it read while it changes the status.
func ActionFor(changes Fields) Action {
	if changes&^Fields(FieldStatus) == 0 {
		return ActionSetStatus
	}
	return ActionEdit
}

// Visible reports whether c can see t: admins see every task, other users
// the tasks they created or are assigned.
func (c Caller) Visible(t Task) bool {
	return c.Admin || t.CreatedBy == c.UserID || (t.AssignedTo != 0 && t.AssignedTo == c.UserID)
}

// Authorize returns nil when c may do a to t. Admins and the creator may do
// everything; the assignee may read the task and change its status and gets
// ErrPermissionDenied for anything else; to everybody else the task does not
// exist (ErrNotFound, the answer for a missing id).
func Authorize(c Caller, t Task, a Action) error {
	switch {
	case c.Admin || t.CreatedBy == c.UserID:
		return nil
	case t.AssignedTo != 0 && t.AssignedTo == c.UserID:
		if a.AssigneeMay() {
			return nil
		}
		return ErrPermissionDenied
	default:
		return ErrNotFound
	}
}
