package user

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/pagetoken"
)

// Page sizes of ListUsers.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// CleanupInterval is how often a server runs Cleanup (a periodic job).
const CleanupInterval = 15 * time.Minute

// Config holds the business rules' tunables; every field must be positive.
// The binary reads them from its configuration, where their defaults are.
type Config struct {
	// RefreshTTL is how long a refresh token is accepted.
	RefreshTTL time.Duration
	// ThrottleWindow is the length of the fixed window in which failed
	// sign-ins are counted. A window starts at the first failure; when it
	// closes the count starts again from zero.
	ThrottleWindow time.Duration
	// MaxFailuresPerAccount is how many failed sign-ins one account (or one
	// unknown identifier) may have within a window; further attempts are
	// refused until the window closes.
	MaxFailuresPerAccount int
	// MaxFailuresPerAddress is the same for one client address (an IPv6 /64).
	MaxFailuresPerAddress int
	// MaxSignUpsPerAddress is how many sign-up attempts (successful or
	// not) one client address may make within a ThrottleWindow.
	MaxSignUpsPerAddress int
	// LinkBaseURL is where the links of mails point (a web front end's
	// origin, such as https://todo.example.com); empty: mails carry the
	// token and the API call only.
	LinkBaseURL string
}

// validate returns an error naming the first field that is not positive.
func (c Config) validate() error {
	switch {
	case c.RefreshTTL <= 0:
		return errors.New("user.Config: RefreshTTL must be positive")
	case c.ThrottleWindow <= 0:
		return errors.New("user.Config: ThrottleWindow must be positive")
	case c.MaxFailuresPerAccount <= 0:
		return errors.New("user.Config: MaxFailuresPerAccount must be positive")
	case c.MaxFailuresPerAddress <= 0:
		return errors.New("user.Config: MaxFailuresPerAddress must be positive")
	case c.MaxSignUpsPerAddress <= 0:
		return errors.New("user.Config: MaxSignUpsPerAddress must be positive")
	}
	return nil
}

// Service is the user service's business logic. It is safe for concurrent use.
type Service struct {
	log       *slog.Logger
	store     Store
	hasher    *Hasher
	signer    *auth.Signer
	cfg       Config
	dummyHash string
	now       func() time.Time
	metrics   Metrics
}

// NewService returns a Service, or an error when cfg is not valid. signer
// may be nil for tools that issue no tokens (admin create). It hashes a
// random password once, so that a sign-in for an unknown account can verify
// against a hash of the same cost as a real one.
func NewService(ctx context.Context, log *slog.Logger, store Store, hasher *Hasher, signer *auth.Signer, cfg Config) (*Service, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var pw [24]byte
	if _, err := rand.Read(pw[:]); err != nil {
		return nil, fmt.Errorf("dummy password: %w", err)
	}
	dummy, err := hasher.Hash(ctx, base64.RawURLEncoding.EncodeToString(pw[:]))
	if err != nil {
		return nil, fmt.Errorf("dummy password hash: %w", err)
	}
	return &Service{
		log:       log,
		store:     store,
		hasher:    hasher,
		signer:    signer,
		cfg:       cfg,
		dummyHash: dummy,
		now:       time.Now,
	}, nil
}

// Tokens is what a successful sign-in or refresh returns.
type Tokens struct {
	AccessToken    string
	AccessExpires  time.Time
	RefreshToken   string
	RefreshExpires time.Time
}

// SignUp is the input of CreateUser.
type SignUp struct {
	Email    string
	Username string
	FullName string
	Password string
}

// NormalizeEmail returns email trimmed and in lower case, as it is stored.
func NormalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// validateEmail returns ErrInvalidEmail unless email (normalised) looks
// like an email address.
func validateEmail(email string) error {
	at := strings.IndexByte(email, '@')
	if email == "" || len(email) > 254 || at <= 0 || at == len(email)-1 || strings.ContainsAny(email, " \t\r\n") {
		return ErrInvalidEmail
	}
	return nil
}

// validateUsername returns ErrInvalidUsername unless username is 3 to 32
// characters of a-z, 0-9, '_', '.' and '-'.
func validateUsername(username string) error {
	ok := len(username) >= 3 && len(username) <= 32
	for _, r := range username {
		ok = ok && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-')
	}
	if !ok {
		return ErrInvalidUsername
	}
	return nil
}

// CreateUser signs up a new, active, non-admin user; anyone may, from the
// client address addr (as for Login; empty when unknown). The email is
// stored normalised. An unacceptable email, username or password gives
// ErrInvalidEmail, ErrInvalidUsername or a *PasswordError; a duplicate
// gives ErrEmailTaken or ErrUsernameTaken (see docs/security.md, Sign-up
// and enumeration). Every attempt with valid input counts against addr:
// beyond MaxSignUpsPerAddress in a window it is a *ThrottledError with
// SignUp, before anything is looked up.
func (s *Service) CreateUser(ctx context.Context, in SignUp, addr string) (User, error) {
	in.Email = NormalizeEmail(in.Email)
	if err := validateEmail(in.Email); err != nil {
		return User{}, err
	}
	if err := validateUsername(in.Username); err != nil {
		return User{}, err
	}
	if err := ValidatePassword(in.Password); err != nil {
		return User{}, err
	}
	if addr != "" {
		over, wait, err := s.countAttempt(ctx, ThrottleKey{Scope: ScopeSignUp, Subject: addr}, s.cfg.MaxSignUpsPerAddress)
		if err != nil {
			return User{}, fmt.Errorf("create user: %w", err)
		}
		if over {
			inc(s.metrics.SignUpsThrottled)
			return User{}, &ThrottledError{RetryAfter: wait, SignUp: true}
		}
	}
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return User{}, err
	}
	verify, err := s.verification(in.Username, in.Email)
	if err != nil {
		return User{}, err
	}
	u, err := s.store.CreateUser(ctx, NewUser{Email: in.Email, Username: in.Username, FullName: in.FullName, PasswordHash: hash, Verification: verify},
		Event{Action: ActionSignUp, Actor: self, TargetUsername: in.Username,
			Change: map[string]any{"email": in.Email, "username": in.Username, "full_name": map[string]any{"set": in.FullName != ""}}})
	if err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// lookupFor turns a sign-in identifier into a Lookup: an email when it
// contains '@' (usernames cannot), a username otherwise; both lower-cased.
func lookupFor(login string) (Lookup, string) {
	id := strings.ToLower(strings.TrimSpace(login))
	if strings.Contains(id, "@") {
		return Lookup{Email: id}, id
	}
	return Lookup{Username: id}, id
}

// throttled returns a *ThrottledError when a counter of st has reached its
// limit, with the longest wait among those that have, and counts the
// decision.
func (s *Service) throttled(st LoginState) error {
	var wait time.Duration
	for _, c := range st.Counters {
		limit := s.cfg.MaxFailuresPerAccount
		if c.Key.Scope == ScopeAddr {
			limit = s.cfg.MaxFailuresPerAddress
		}
		if c.Failures >= limit && c.RetryAfter > wait {
			wait = c.RetryAfter
		}
	}
	if wait <= 0 {
		inc(s.metrics.LoginsAllowed)
		return nil
	}
	inc(s.metrics.LoginsThrottled)
	return &ThrottledError{RetryAfter: roundUp(wait)}
}

// roundUp returns d in whole seconds, rounded up (at least one): never tell
// a client to come back too early.
func roundUp(d time.Duration) time.Duration {
	return max((d + time.Second - 1).Truncate(time.Second), time.Second)
}

// failureKeys returns the counters a failed sign-in adds to: the account's
// (or the unknown identifier's) from the client address, and the client
// address's.
func failureKeys(st LoginState, ident, addr string) []ThrottleKey {
	keys := make([]ThrottleKey, 0, 2)
	if st.Account != nil {
		keys = append(keys, ThrottleKey{Scope: ScopeUser, Subject: PairSubject(strconv.FormatInt(st.Account.ID, 10), addr)})
	} else {
		keys = append(keys, ThrottleKey{Scope: ScopeLogin, Subject: PairSubject(ident, addr)})
	}
	if addr != "" {
		keys = append(keys, ThrottleKey{Scope: ScopeAddr, Subject: addr})
	}
	return keys
}

// recordFailure counts a failed sign-in. It is not cancelled with ctx: a
// client that gives up as soon as the password check is done must still be
// counted.
func (s *Service) recordFailure(ctx context.Context, keys []ThrottleKey, ev Event) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.store.RecordFailures(ctx, keys, s.cfg.ThrottleWindow, ev); err != nil {
		return fmt.Errorf("record failed sign-in: %w", err)
	}
	return nil
}

// verify checks password against the account's hash, or against the dummy
// hash when there is no account, so that both take the same time. A stored
// hash that cannot be read counts as a mismatch and is logged.
func (s *Service) verify(ctx context.Context, acct *Account, password string) (match, rehash bool, err error) {
	hash := s.dummyHash
	if acct != nil {
		hash = acct.PasswordHash
	}
	match, rehash, err = s.hasher.Verify(ctx, password, hash)
	if err != nil {
		if ctx.Err() != nil {
			return false, false, err
		}
		var id int64
		if acct != nil {
			id = acct.ID
		}
		s.log.WarnContext(ctx, "stored password hash is unreadable", slog.Int64("user_id", id), slog.Any("error", err))
		return false, false, nil
	}
	return match, rehash, nil
}

// Login signs in with an email or username and a password, from the client
// address addr (empty when unknown; an IP address, or an IPv6 /64 prefix).
// Unknown account, wrong password and inactive account all give
// ErrInvalidCredentials after the same work. Too many failures for the
// account or the address give a *ThrottledError before the password is
// checked. A successful sign-in starts a new refresh-token family and
// upgrades a hash made with weaker parameters.
func (s *Service) Login(ctx context.Context, login, password, addr string) (Tokens, User, error) {
	lookup, ident := lookupFor(login)
	st, err := s.store.LoginState(ctx, lookup, addr, s.cfg.ThrottleWindow)
	if err != nil {
		return Tokens{}, User{}, fmt.Errorf("login: %w", err)
	}
	if err := s.throttled(st); err != nil {
		return Tokens{}, User{}, err
	}
	match, rehash, err := s.verify(ctx, st.Account, password)
	if err != nil {
		return Tokens{}, User{}, err
	}
	if !match || st.Account == nil || !st.Account.IsActive {
		// The login as given (never the password); the account, when known.
		ev := Event{Action: ActionLoginFailed, Actor: Actor{Kind: ActorUser}, ClientAddr: addr,
			Change: map[string]any{"login": login, "known_account": st.Account != nil}}
		if st.Account != nil {
			ev.TargetID = st.Account.ID
		}
		if err := s.recordFailure(ctx, failureKeys(st, ident, addr), ev); err != nil {
			return Tokens{}, User{}, err
		}
		inc(s.metrics.LoginsFailed)
		return Tokens{}, User{}, ErrInvalidCredentials
	}

	var newHash string
	if rehash {
		if newHash, err = s.hasher.Hash(ctx, password); err != nil {
			return Tokens{}, User{}, fmt.Errorf("login: rehash: %w", err)
		}
	}
	u := st.Account.User
	tokens, sess, err := s.newTokens(u, st.Account.TokenGeneration, s.now())
	if err != nil {
		return Tokens{}, User{}, err
	}
	err = s.store.StartSession(ctx, sess, newHash, Event{Action: ActionLogin, Actor: self, TargetID: u.ID, ClientAddr: addr})
	if errors.Is(err, ErrTokensRevoked) {
		// Deactivated, or the password changed, since LoginState read the
		// account: the sign-in checked what is no longer true.
		return Tokens{}, User{}, ErrInvalidCredentials
	}
	if err != nil {
		return Tokens{}, User{}, fmt.Errorf("login: %w", err)
	}
	return tokens, u, nil
}

// newTokens signs an access token for u in token generation gen and makes
// a refresh token, returning the session to store for it.
func (s *Service) newTokens(u User, gen int64, now time.Time) (Tokens, NewSession, error) {
	access, accessExp, err := s.signer.Sign(auth.Principal{UserID: u.ID, Admin: u.IsAdmin, Generation: gen}, now)
	if err != nil {
		return Tokens{}, NewSession{}, fmt.Errorf("sign access token: %w", err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return Tokens{}, NewSession{}, fmt.Errorf("refresh token: %w", err)
	}
	refresh := base64.RawURLEncoding.EncodeToString(raw[:])
	refreshExp := now.Add(s.cfg.RefreshTTL)
	return Tokens{
			AccessToken:    access,
			AccessExpires:  accessExp,
			RefreshToken:   refresh,
			RefreshExpires: refreshExp,
		}, NewSession{
			UserID:     u.ID,
			TokenHash:  HashRefreshToken(refresh),
			ExpiresAt:  refreshExp,
			Generation: gen,
		}, nil
}

// HashRefreshToken returns the SHA-256 of a refresh token, the only form in
// which refresh tokens are stored.
func HashRefreshToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// Refresh spends a refresh token and returns a new pair in the same family.
// An unknown, expired or revoked token, or one whose user is inactive, gives
// ErrInvalidRefreshToken. A token that was already spent (a replay) also
// revokes every token of its family, including the one that replaced it.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (Tokens, error) {
	var (
		tokens  Tokens
		outcome error
		reused  bool
		now     = s.now()
	)
	err := s.store.RotateSession(ctx, HashRefreshToken(refreshToken), func(cur RefreshSession) (Rotation, error) {
		switch {
		case cur.Replaced:
			reused = true
			s.log.WarnContext(ctx, "spent refresh token presented again; revoking its family",
				slog.Int64("user_id", cur.UserID), slog.Int64("session_id", cur.ID))
			outcome = ErrInvalidRefreshToken
			return Rotation{RevokeFamily: true, Audit: []Event{{Action: ActionRefreshReused, Actor: Actor{Kind: ActorUser},
				TargetID: cur.UserID, Change: map[string]any{"session_id": cur.ID}}}}, nil
		case cur.Revoked, !now.Before(cur.ExpiresAt), !cur.User.IsActive:
			outcome = ErrInvalidRefreshToken
			return Rotation{}, nil
		}
		t, next, err := s.newTokens(cur.User, cur.TokenGeneration, now)
		if err != nil {
			return Rotation{}, err
		}
		tokens, outcome = t, nil
		return Rotation{Next: &next}, nil
	})
	if err != nil {
		return Tokens{}, fmt.Errorf("refresh: %w", err)
	}
	if reused {
		inc(s.metrics.RefreshReuse)
	}
	if outcome != nil {
		return Tokens{}, outcome
	}
	return tokens, nil
}

// Logout revokes the refresh-token family of refreshToken: the sign-in it
// came from ends. An unknown or already revoked token is not an error.
func (s *Service) Logout(ctx context.Context, refreshToken string) error {
	hash := HashRefreshToken(refreshToken)
	if err := s.store.RevokeFamily(ctx, hash, Event{Action: ActionLogout, Actor: self, TargetTokenHash: hash}); err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	return nil
}

// LogoutAll ends every sign-in of the caller c: it revokes all of c's
// refresh sessions and voids every access token issued to c so far,
// including the one of this call (every verifier refuses them within
// seconds, see package revocation).
func (s *Service) LogoutAll(ctx context.Context, c Caller) error {
	if err := Authorize(c, c.UserID, ActionSelf); err != nil {
		return fmt.Errorf("logout all: %w", err)
	}
	if err := s.store.RevokeTokens(ctx, c.UserID, Event{Action: ActionLogoutAll, Actor: self, TargetID: c.UserID}); err != nil {
		return fmt.Errorf("logout all: %w", err)
	}
	return nil
}

// User returns what c may see of the user with id (see Caller.Sees): the
// whole user with Whole, its PublicProfile with Public. A user c may not see
// at all is ErrNotFound, as a missing one is.
func (s *Service) User(ctx context.Context, c Caller, id int64) (User, Visibility, error) {
	u, err := s.store.User(ctx, id)
	if err != nil {
		return User{}, Hidden, fmt.Errorf("get user %d: %w", id, err)
	}
	switch v := c.Sees(u); v {
	case Whole:
		return u, v, nil
	case Public:
		return u.PublicProfile(), v, nil
	default:
		return User{}, Hidden, fmt.Errorf("get user %d: %w", id, ErrNotFound)
	}
}

// CurrentUser returns the whole user c is, also when it has been
// deactivated since its access token was issued.
func (s *Service) CurrentUser(ctx context.Context, c Caller) (User, error) {
	u, err := s.store.User(ctx, c.UserID)
	if err != nil {
		return User{}, fmt.Errorf("get current user %d: %w", c.UserID, err)
	}
	return u, nil
}

// Summaries says which of ids exist and whether each is active; any
// signed-in caller may ask (ActionLookUp).
func (s *Service) Summaries(ctx context.Context, c Caller, ids []int64) ([]Summary, error) {
	if err := Authorize(c, 0, ActionLookUp); err != nil {
		return nil, fmt.Errorf("batch get users: %w", err)
	}
	out, err := s.store.Summaries(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("batch get users: %w", err)
	}
	return out, nil
}

// pageTokens makes the page tokens of ListUsers (see package pagetoken):
// the position is the (created_at, id) of the page's last user, the binding
// the is_active filter.
var pageTokens = pagetoken.New("todo.user.v1.ListUsers")

// filterBinding is the canonical encoding of the is_active filter.
func filterBinding(active *bool) pagetoken.Fields {
	if active == nil {
		return pagetoken.Fields{}.Bool(false)
	}
	return pagetoken.Fields{}.Bool(true).Bool(*active)
}

func encodePageToken(c Cursor, active *bool) string {
	return pageTokens.Encode(filterBinding(active), pagetoken.Fields{}.Time(c.CreatedAt).Int64(c.ID))
}

func decodePageToken(s string, active *bool) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	r, err := pageTokens.Decode(s, filterBinding(active))
	if err != nil {
		return Cursor{}, ErrInvalidPageToken
	}
	c := Cursor{CreatedAt: r.Time(), ID: r.Int64()}
	if r.Done() != nil || c.ID <= 0 {
		return Cursor{}, ErrInvalidPageToken
	}
	return c, nil
}

// ListUsers returns one page of users to an admin (ActionAdminister),
// oldest first (by created_at, then id), keeping only those whose IsActive
// equals *active when active is not nil. pageSize 0 means DefaultPageSize;
// outside 0 to MaxPageSize it is ErrInvalidPageSize. pageToken continues
// from the previous page and must come from a call with the same filter
// (ErrInvalidPageToken otherwise). The next token is empty on the last page.
func (s *Service) ListUsers(ctx context.Context, c Caller, active *bool, pageSize int, pageToken string) ([]User, string, error) {
	if err := Authorize(c, 0, ActionAdminister); err != nil {
		return nil, "", fmt.Errorf("list users: %w", err)
	}
	switch {
	case pageSize == 0:
		pageSize = DefaultPageSize
	case pageSize < 0 || pageSize > MaxPageSize:
		return nil, "", ErrInvalidPageSize
	}
	after, err := decodePageToken(pageToken, active)
	if err != nil {
		return nil, "", err
	}
	users, err := s.store.ListUsers(ctx, ListQuery{Active: active, After: after, Limit: pageSize + 1})
	if err != nil {
		return nil, "", fmt.Errorf("list users: %w", err)
	}
	if len(users) <= pageSize {
		return users, "", nil
	}
	users = users[:pageSize]
	last := users[len(users)-1]
	return users, encodePageToken(Cursor{CreatedAt: last.CreatedAt, ID: last.ID}, active), nil
}

// UpdateUser applies ch to the user with id when c may (ActionUpdate: the
// user or an admin) and returns the user as it is then. The checks run in
// this order, so that a caller who may not update the user learns nothing
// more: the permission, the names in ch.Fields (an *UnknownFieldError for
// the first that is not a changeable field), then the values of the named
// fields: username and email must be valid (ErrInvalidUsername,
// ErrInvalidEmail), the full name at most MaxFullNameLen bytes
// (ErrFullNameTooLong). The email is normalised, and a changed email is no
// longer verified. A change that names no field returns the user as it is.
func (s *Service) UpdateUser(ctx context.Context, c Caller, id int64, ch Change) (User, error) {
	if err := Authorize(c, id, ActionUpdate); err != nil {
		return User{}, fmt.Errorf("update user %d: %w", id, err)
	}
	u, err := ch.update()
	if err != nil {
		return User{}, err
	}
	if u.Email != nil && c.ViaPAT {
		// A new address takes the account's password reset with it, so a
		// personal access token, which stands for less than the password,
		// may not change it.
		return User{}, fmt.Errorf("update user %d: a personal access token may not change the email: %w", id, ErrPermissionDenied)
	}
	if u.Email != nil {
		cur, err := s.store.User(ctx, id)
		if err != nil {
			return User{}, fmt.Errorf("update user %d: %w", id, err)
		}
		if cur.Email != *u.Email {
			username := cur.Username
			if u.Username != nil {
				username = *u.Username
			}
			if u.Verification, err = s.verification(username, *u.Email); err != nil {
				return User{}, err
			}
		}
	}
	var out User
	if u == (Update{}) {
		out, err = s.store.User(ctx, id)
	} else {
		out, err = s.store.UpdateUser(ctx, id, u, Event{Action: ActionProfileChange, Actor: byCaller(c), TargetID: id, Change: u.audit()})
	}
	if err != nil {
		return User{}, fmt.Errorf("update user %d: %w", id, err)
	}
	return out, nil
}

// audit returns the fields u sets and their new values, for the audit log.
// The full name is stored encrypted (full_name_ct), so the log records only
// that it changed, never the name.
func (u Update) audit() map[string]any {
	m := map[string]any{}
	for name, v := range map[string]*string{"username": u.Username, "email": u.Email} {
		if v != nil {
			m[name] = map[string]any{"new": *v}
		}
	}
	if u.FullName != nil {
		m["full_name"] = map[string]any{"changed": true}
	}
	return m
}

// update validates ch and returns it as an Update.
func (ch Change) update() (Update, error) {
	var u Update
	for _, f := range ch.Fields {
		switch f {
		case FieldFullName:
			u.FullName = &ch.FullName
		case FieldUsername:
			u.Username = &ch.Username
		case FieldEmail:
			u.Email = &ch.Email
		default:
			return Update{}, &UnknownFieldError{Name: f}
		}
	}
	if u.Username != nil {
		if err := validateUsername(*u.Username); err != nil {
			return Update{}, err
		}
	}
	if u.Email != nil {
		e := NormalizeEmail(*u.Email)
		if err := validateEmail(e); err != nil {
			return Update{}, err
		}
		u.Email = &e
	}
	if u.FullName != nil && len(*u.FullName) > MaxFullNameLen {
		return Update{}, ErrFullNameTooLong
	}
	return u, nil
}

// ChangePassword replaces the password of user id, when c is that user
// (ActionChangePassword), after checking current; addr is the client
// address, as for Login. It revokes every refresh session and every access
// token of the user (the request carries no refresh token, so the caller's
// own session cannot be told apart and is revoked too, and so is the
// access token of the call: the caller signs in again with the new
// password). An unacceptable next is a *PasswordError. A wrong
// current password is ErrWrongCurrentPassword and counts as a failed
// sign-in for the account and the address, and is throttled like Login. An
// inactive user gets ErrPermissionDenied.
func (s *Service) ChangePassword(ctx context.Context, c Caller, id int64, current, next, addr string) error {
	if err := Authorize(c, id, ActionChangePassword); err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	if err := ValidatePassword(next); err != nil {
		return err
	}
	st, err := s.store.LoginState(ctx, Lookup{ID: id}, addr, s.cfg.ThrottleWindow)
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	if st.Account == nil {
		return ErrNotFound
	}
	if err := s.throttled(st); err != nil {
		return err
	}
	match, _, err := s.verify(ctx, st.Account, current)
	if err != nil {
		return err
	}
	if !match {
		ev := Event{Action: ActionLoginFailed, Actor: byCaller(c), TargetID: id, ClientAddr: addr,
			Change: map[string]any{"during": "password_change"}}
		if err := s.recordFailure(ctx, failureKeys(st, "", addr), ev); err != nil {
			return err
		}
		return ErrWrongCurrentPassword
	}
	if !st.Account.IsActive {
		return ErrPermissionDenied
	}
	hash, err := s.hasher.Hash(ctx, next)
	if err != nil {
		return err
	}
	if err := s.store.SetPasswordHash(ctx, id, hash, true, Event{Action: ActionPasswordChange, Actor: byCaller(c), TargetID: id, ClientAddr: addr}); err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	return nil
}

// SetActive activates or deactivates the user with id, when c is an admin
// (ActionAdminister). Deactivation revokes every refresh session and
// every access token of the user: they can neither sign in nor refresh,
// and the tokens they hold are refused within seconds everywhere.
func (s *Service) SetActive(ctx context.Context, c Caller, id int64, active bool) (User, error) {
	if err := Authorize(c, id, ActionAdminister); err != nil {
		return User{}, fmt.Errorf("set user %d active=%t: %w", id, active, err)
	}
	action := ActionDeactivate
	if active {
		action = ActionActivate
	}
	u, err := s.store.SetActive(ctx, id, active, Event{Action: action, Actor: byCaller(c), TargetID: id})
	if err != nil {
		return User{}, fmt.Errorf("set user %d active=%t: %w", id, active, err)
	}
	return u, nil
}

// EnsureAdmin makes sure an active admin with the given email and username
// exists, for `user-service admin create`, which runs with the database's
// authority and no Caller. The email, the username and a non-empty
// password must be acceptable (ErrInvalidEmail, ErrInvalidUsername, a
// *PasswordError). It is idempotent:
//   - when no user has the email or the username, it creates one (password
//     required: ErrPasswordRequired) and reports created;
//   - when one user has the email or the username (or both), it makes that
//     user an admin and active, leaving its email and username as they are;
//     when password is given and does not already match, it replaces the
//     password and revokes the user's refresh sessions;
//   - when the email and the username belong to two different users, it
//     fails with a *ConflictingUsersError and changes nothing.
func (s *Service) EnsureAdmin(ctx context.Context, email, username, password string) (User, bool, error) {
	email = NormalizeEmail(email)
	if err := validateEmail(email); err != nil {
		return User{}, false, err
	}
	if err := validateUsername(username); err != nil {
		return User{}, false, err
	}
	if password != "" {
		if err := ValidatePassword(password); err != nil {
			return User{}, false, err
		}
	}
	// Two attempts: a concurrent `admin create` may create the user between
	// the lookup and the insert.
	for attempt := 0; ; attempt++ {
		accts, err := s.store.AccountsByEmailOrUsername(ctx, email, username)
		if err != nil {
			return User{}, false, fmt.Errorf("admin create: %w", err)
		}
		switch len(accts) {
		case 0:
			if password == "" {
				return User{}, false, ErrPasswordRequired
			}
			hash, err := s.hasher.Hash(ctx, password)
			if err != nil {
				return User{}, false, err
			}
			u, err := s.store.CreateUser(ctx, NewUser{Email: email, Username: username, PasswordHash: hash, IsAdmin: true},
				Event{Action: ActionAdminCreate, Actor: operator, TargetUsername: username,
					Change: map[string]any{"email": email, "username": username, "is_admin": true}})
			if (errors.Is(err, ErrEmailTaken) || errors.Is(err, ErrUsernameTaken)) && attempt == 0 {
				continue
			}
			if err != nil {
				return User{}, false, fmt.Errorf("admin create: %w", err)
			}
			return u, true, nil
		case 1:
			a := accts[0]
			if password != "" {
				match, _, err := s.hasher.Verify(ctx, password, a.PasswordHash)
				if err != nil && ctx.Err() != nil {
					return User{}, false, err
				}
				if !match {
					hash, err := s.hasher.Hash(ctx, password)
					if err != nil {
						return User{}, false, err
					}
					if err := s.store.SetPasswordHash(ctx, a.ID, hash, true, Event{Action: ActionPasswordChange, Actor: operator, TargetID: a.ID}); err != nil {
						return User{}, false, fmt.Errorf("admin create: set password: %w", err)
					}
				}
			}
			u, err := s.store.PromoteAdmin(ctx, a.ID, Event{Action: ActionAdminPromote, Actor: operator, TargetID: a.ID,
				Change: map[string]any{"is_admin": true, "is_active": true}})
			if err != nil {
				return User{}, false, fmt.Errorf("admin create: promote user %d: %w", a.ID, err)
			}
			return u, false, nil
		default:
			return User{}, false, &ConflictingUsersError{
				Email: email, EmailOwner: emailOwner(accts, email),
				Username: username, UsernameOwner: usernameOwner(accts, username),
			}
		}
	}
}

func emailOwner(accts []Account, email string) int64 {
	for _, a := range accts {
		if a.Email == email {
			return a.ID
		}
	}
	return 0
}

func usernameOwner(accts []Account, username string) int64 {
	for _, a := range accts {
		if a.Username == username {
			return a.ID
		}
	}
	return 0
}

// Cleanup deletes expired refresh sessions and closed failure counters and
// returns how many rows it deleted. It is safe to run on several replicas
// at once.
func (s *Service) Cleanup(ctx context.Context) (int64, error) {
	now := s.now()
	n, err := s.store.DeleteExpired(ctx, now, now.Add(-s.cfg.ThrottleWindow))
	if err != nil {
		return 0, fmt.Errorf("clean up: %w", err)
	}
	return n, nil
}

// AuditMonthsAhead is how many months after the current one always have an
// audit partition.
const AuditMonthsAhead = 3

// AuditMaintenanceInterval is how often the audit partitions are made and
// dropped; well under a month, so the next months' always exist.
const AuditMaintenanceInterval = 6 * time.Hour

// MaintainAudit makes the audit log's partitions for this month and the
// next AuditMonthsAhead, and drops those older than keepMonths months,
// logging each one it drops. It is safe to run on several replicas at once.
func (s *Service) MaintainAudit(ctx context.Context, keepMonths int) error {
	dropped, err := s.store.MaintainAudit(ctx, AuditMonthsAhead, keepMonths)
	if err != nil {
		return fmt.Errorf("maintain audit partitions: %w", err)
	}
	for _, name := range dropped {
		s.log.InfoContext(ctx, "audit partition dropped (retention)", slog.String("partition", name), slog.Int("keep_months", keepMonths))
	}
	return nil
}
