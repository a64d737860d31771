package user

// Event is one row of the user service's audit log (user_audit_event),
// which a Store method writes in the same transaction as the change it
// records. It never holds a password, a password hash or a token: Change
// names the fields that changed and, for profile changes and sign-in
// failures, the values the client sent for the non-secret ones.
type Event struct {
	// Action names what happened, one of the Action* constants.
	Action string
	// Actor is who did it.
	Actor Actor
	// TargetID is the user the event is about (0: unknown, or see
	// TargetUsername and TargetTokenHash).
	TargetID int64
	// TargetUsername names the target when its id is known only once the
	// change is written (a sign-up).
	TargetUsername string
	// TargetTokenHash names the target by a refresh token's hash: the owner
	// of that session (a logout).
	TargetTokenHash []byte
	// ClientAddr is the client's address, when known.
	ClientAddr string
	// Change describes the change: field → value, or field → {old, new}.
	Change map[string]any
}

// Actor is who acts: a user (ID; 0 with Self: the target itself), the
// operator at the command line, or the service itself.
type Actor struct {
	Kind ActorKind
	ID   int64
	// Self says the actor is the event's target (a sign-up, a login).
	Self bool
}

// ActorKind is the kind of an Actor, as user_audit_event.actor_kind has it.
type ActorKind string

// The actor kinds.
const (
	ActorUser     ActorKind = "user"
	ActorOperator ActorKind = "operator"
	ActorSystem   ActorKind = "system"
)

// The actions of the user service's audit log.
const (
	ActionSignUp        = "user.sign_up"
	ActionLogin         = "user.login"
	ActionLoginFailed   = "user.login_failed"
	ActionRefreshReused = "user.refresh_token_reused"
	ActionLogout        = "user.logout"
	ActionLogoutAll     = "user.logout_all"
	// ActionVerificationSent: a verification mail was queued (sign-up and
	// email changes record theirs in their own event).
	ActionVerificationSent = "user.verification_sent"
	ActionEmailVerified    = "user.email_verified"
	// ActionPasswordResetRequested: a reset mail was queued (nothing is
	// recorded for a request that names no eligible account).
	ActionPasswordResetRequested = "user.password_reset_requested"
	ActionPasswordReset          = "user.password_reset"
	ActionPasswordChange         = "user.password_change"
	ActionProfileChange          = "user.profile_change"
	ActionActivate               = "user.activate"
	ActionDeactivate             = "user.deactivate"
	ActionAdminCreate            = "user.admin_create"
	ActionAdminPromote           = "user.admin_promote"
)

// byCaller is the Actor of c.
func byCaller(c Caller) Actor { return Actor{Kind: ActorUser, ID: c.UserID} }

// self is the Actor of an event whose target acts.
var self = Actor{Kind: ActorUser, Self: true}

// operator is the Actor of `user-service admin create`.
var operator = Actor{Kind: ActorOperator}
