package user

// Caller is who asks: a signed-in user, possibly an admin.
type Caller struct {
	UserID int64
	Admin  bool
	// ViaPAT says the caller authenticated with a personal access token.
	ViaPAT bool
}

// Action is something a caller does to a user, or to users in general.
type Action int

// The actions the Service authorizes.
const (
	// ActionLookUp asks which of some users exist and are active
	// (BatchGetUsers): any signed-in caller, in practice other services
	// acting for their callers.
	ActionLookUp Action = iota
	// ActionUpdate changes a user's profile: the user and admins.
	ActionUpdate
	// ActionChangePassword replaces a user's password: the user only, not
	// even an admin for someone else.
	ActionChangePassword
	// ActionAdminister lists users or activates and deactivates one:
	// admins only.
	ActionAdminister
	// ActionSelf acts on the caller's own account only (LogoutAll,
	// ResendVerification).
	ActionSelf
)

// Authorize returns nil when c may do a to the user with id (ignored by
// ActionLookUp and ActionAdminister), and ErrPermissionDenied otherwise. A
// Caller without a user may do nothing.
func Authorize(c Caller, id int64, a Action) error {
	var ok bool
	switch a {
	case ActionLookUp:
		ok = c.UserID > 0
	case ActionUpdate:
		ok = c.Admin || c.isSelf(id)
	case ActionChangePassword:
		ok = c.isSelf(id)
	case ActionAdminister:
		ok = c.Admin
	case ActionSelf:
		ok = c.isSelf(id)
	}
	if !ok {
		return ErrPermissionDenied
	}
	return nil
}

func (c Caller) isSelf(id int64) bool { return c.UserID > 0 && c.UserID == id }

// Visibility is how much of a user a caller may see.
type Visibility int

// The visibilities, from nothing to everything.
const (
	// Hidden: nothing; to the caller the user does not exist.
	Hidden Visibility = iota
	// Public: the public profile (User.PublicProfile).
	Public
	// Whole: every field.
	Whole
)

// Sees returns how much of u c may see: the user and admins see the whole
// user, also when it is inactive; any other signed-in caller sees the
// public profile of an active user and nothing of an inactive one.
func (c Caller) Sees(u User) Visibility {
	switch {
	case c.Admin || c.isSelf(u.ID):
		return Whole
	case c.UserID > 0 && u.IsActive:
		return Public
	default:
		return Hidden
	}
}
