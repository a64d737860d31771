package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/auth/keyfile"
	"github.com/todo-platform/todo/pkg/envcfg"
	"github.com/todo-platform/todo/pkg/keyring"
	"github.com/todo-platform/todo/pkg/mail"
	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/pkg/revocation"
	"github.com/todo-platform/todo/services/user/internal/user"
	"github.com/todo-platform/todo/services/user/internal/userapi"
)

// config is the service's configuration, from the environment (see
// envcfg.Load): the envDefault tags are the defaults.
type config struct {
	envcfg.Database
	// GRPCAddr is the listen address of serve.
	GRPCAddr string `env:"GRPC_ADDR" envDefault:":50051"`
	// AdminAddr is the admin port's listen address (metrics, health,
	// pprof; see package admin); empty turns it off.
	AdminAddr string `env:"ADMIN_ADDR" envDefault:":9091"`
	// ServerTLS is the gRPC listener's TLS (TLS_CERT_FILE, …); unset:
	// plaintext.
	envcfg.ServerTLS
	envcfg.Shutdown
	envcfg.Tokens
	envcfg.Audit
	envcfg.Revocation

	// TokenPrivateKeyFile is the Ed25519 PKCS #8 PEM signing key (required by serve).
	TokenPrivateKeyFile string `env:"TOKEN_PRIVATE_KEY_FILE"`
	// TokenPublicKeyFiles are older keys (private or public PEM files) whose
	// public halves GetPublicKeys keeps publishing, and this service keeps
	// accepting, while tokens they signed are still alive.
	TokenPublicKeyFiles []string `env:"TOKEN_PUBLIC_KEY_FILES" envSeparator:","`
	// AccessTokenTTL and RefreshTokenTTL are the token lifetimes.
	AccessTokenTTL  time.Duration `env:"ACCESS_TOKEN_TTL" envDefault:"15m"`
	RefreshTokenTTL time.Duration `env:"REFRESH_TOKEN_TTL" envDefault:"720h"`

	// Sign-in throttling: failed attempts per account and per client address
	// within a fixed window that starts at the first failure.
	LoginMaxFailuresPerAccount int           `env:"LOGIN_MAX_FAILURES_PER_ACCOUNT" envDefault:"100"`
	LoginMaxFailuresPerAddress int           `env:"LOGIN_MAX_FAILURES_PER_ADDRESS" envDefault:"1000"`
	LoginThrottleWindow        time.Duration `env:"LOGIN_THROTTLE_WINDOW" envDefault:"1h"`
	// SignUpMaxPerAddress is how many sign-up attempts one client address
	// may make within LOGIN_THROTTLE_WINDOW.
	SignUpMaxPerAddress int `env:"SIGNUP_MAX_PER_ADDRESS" envDefault:"20"`
	// Mail: SMTP_URL names the server (see mail.NewSMTP), MAIL_FROM the
	// sender. Without SMTP_URL, mail is appended to MAIL_LOG_FILE (make
	// run sets it), or not sent at all (logged without its text).
	SMTPURL     string `env:"SMTP_URL" log:"dsn"`
	MailFrom    string `env:"MAIL_FROM" envDefault:"todo <no-reply@localhost>"`
	MailLogFile string `env:"MAIL_LOG_FILE"`
	// MailLinkBaseURL is where the links of mails point (a web front
	// end); empty: mails carry the token and the API call only.
	MailLinkBaseURL string `env:"MAIL_LINK_BASE_URL"`
	// TrustedProxies are the peers (CIDR prefixes or addresses) whose
	// x-forwarded-for metadata names the client, such as the REST gateway.
	TrustedProxies []string `env:"TRUSTED_PROXIES" envSeparator:"," envDefault:"127.0.0.0/8,::1/128"`

	// Password hashing: argon2id parameters (no lower than OWASP's minimum)
	// and how many hashes may run at once (0: one per CPU).
	PasswordHashMemoryKiB   uint32 `env:"PASSWORD_HASH_MEMORY_KIB" envDefault:"19456"`
	PasswordHashTime        uint32 `env:"PASSWORD_HASH_TIME" envDefault:"2"`
	PasswordHashThreads     uint8  `env:"PASSWORD_HASH_THREADS" envDefault:"1"`
	PasswordHashConcurrency int    `env:"PASSWORD_HASH_CONCURRENCY" envDefault:"0"`

	// DataKeyringFile is the Tink keyset (JSON) of the keys that encrypt
	// full names (see package keyring); required by serve, admin create
	// and keys. Re-read when it changes.
	DataKeyringFile string `env:"DATA_KEYRING_FILE"`
	// KeysBatchSize is how many rows keys reencrypt and keys decrypt
	// rewrite per transaction.
	KeysBatchSize int `env:"KEYS_BATCH_SIZE" envDefault:"500"`

	// The first admin, for admin create.
	AdminEmail    string `env:"ADMIN_EMAIL"`
	AdminUsername string `env:"ADMIN_USERNAME"`
	AdminPassword string `env:"ADMIN_PASSWORD" log:"secret"`
}

// Validate names every variable whose value is not acceptable.
func (c config) Validate() error {
	var p envcfg.Problems
	p.Add(c.Shutdown.Validate())
	p.Add(c.Tokens.Validate())
	p.Add(c.Audit.Validate())
	p.Add(c.Revocation.Validate())
	p.Check(c.AccessTokenTTL > 0 && c.AccessTokenTTL <= auth.MaxTokenLifetime,
		fmt.Sprintf("ACCESS_TOKEN_TTL must be positive and at most %s (verifiers refuse longer-lived tokens)", auth.MaxTokenLifetime))
	p.Check(c.RefreshTokenTTL > 0, "REFRESH_TOKEN_TTL must be positive")
	p.Check(c.LoginMaxFailuresPerAccount > 0, "LOGIN_MAX_FAILURES_PER_ACCOUNT must be positive")
	p.Check(c.LoginMaxFailuresPerAddress > 0, "LOGIN_MAX_FAILURES_PER_ADDRESS must be positive")
	p.Check(c.LoginThrottleWindow > 0, "LOGIN_THROTTLE_WINDOW must be positive")
	p.Check(c.SignUpMaxPerAddress > 0, "SIGNUP_MAX_PER_ADDRESS must be positive")
	p.Check(c.PasswordHashMemoryKiB >= user.OWASPMemoryKiB, fmt.Sprintf("PASSWORD_HASH_MEMORY_KIB must be at least %d (OWASP)", user.OWASPMemoryKiB))
	p.Check(c.PasswordHashTime >= user.OWASPTime, fmt.Sprintf("PASSWORD_HASH_TIME must be at least %d (OWASP)", user.OWASPTime))
	p.Check(c.PasswordHashThreads >= user.OWASPThreads, "PASSWORD_HASH_THREADS must be at least 1")
	p.Check(c.PasswordHashConcurrency >= 0, "PASSWORD_HASH_CONCURRENCY must not be negative")
	p.Check(c.KeysBatchSize > 0, "KEYS_BATCH_SIZE must be positive")
	_, err := c.trustedProxies()
	p.Add(err)
	return p.Err()
}

// keyring opens DATA_KEYRING_FILE.
func (c config) keyring() (*keyring.Keyring, error) {
	if c.DataKeyringFile == "" {
		return nil, errors.New("configuration: DATA_KEYRING_FILE is required (the keys that encrypt full names; make run creates one, or: user-service keys rotate with DATA_KEYRING_FILE naming a new file)")
	}
	k, err := keyring.Open(c.DataKeyringFile)
	if err != nil {
		return nil, fmt.Errorf("DATA_KEYRING_FILE: %w", err)
	}
	return k, nil
}

// tokenKeys loads the signing key (TOKEN_PRIVATE_KEY_FILE, required by
// serve) and returns its Signer and the keys GetPublicKeys publishes: the
// signing key's first, then those of TOKEN_PUBLIC_KEY_FILES.
func (c config) tokenKeys() (*auth.Signer, []auth.PublicKey, error) {
	if c.TokenPrivateKeyFile == "" {
		return nil, nil, errors.New("configuration: TOKEN_PRIVATE_KEY_FILE is required by serve")
	}
	key, err := keyfile.LoadPrivate(c.TokenPrivateKeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("TOKEN_PRIVATE_KEY_FILE: %w", err)
	}
	signer := auth.NewSigner(key, c.TokenIssuer, c.TokenAudience, c.AccessTokenTTL)
	keys, err := keyfile.KeySet(signer, c.TokenPublicKeyFiles)
	if err != nil {
		return nil, nil, fmt.Errorf("TOKEN_PUBLIC_KEY_FILES: %w", err)
	}
	return signer, keys, nil
}

// trustedProxies parses TrustedProxies (see userapi.ParseTrustedProxies).
func (c config) trustedProxies() ([]netip.Prefix, error) {
	proxies, err := userapi.ParseTrustedProxies(c.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("TRUSTED_PROXIES: %w", err)
	}
	return proxies, nil
}

// mailSender returns the Sender of SMTP_URL, else of MAIL_LOG_FILE, else
// one that sends nothing.
func (c config) mailSender(log *slog.Logger) (mail.Sender, error) {
	switch {
	case c.SMTPURL != "":
		return mail.NewSMTP(c.SMTPURL, c.MailFrom)
	case c.MailLogFile != "":
		return mail.NewFile(c.MailLogFile)
	default:
		return mail.Discard{Log: log}, nil
	}
}

// revocation returns where the token revocations are read, on db.
func (c config) revocation(db *pgdb.DB) revocation.Config {
	return revocation.Config{Pool: db.Pool, ListenDSN: c.ListenURL(c.DatabaseURL), PollInterval: c.TokenRevocationPollInterval}
}

// service returns the business rules' tunables.
func (c config) service() user.Config {
	return user.Config{
		RefreshTTL:            c.RefreshTokenTTL,
		ThrottleWindow:        c.LoginThrottleWindow,
		MaxFailuresPerAccount: c.LoginMaxFailuresPerAccount,
		MaxFailuresPerAddress: c.LoginMaxFailuresPerAddress,
		MaxSignUpsPerAddress:  c.SignUpMaxPerAddress,
		LinkBaseURL:           c.MailLinkBaseURL,
	}
}

// adminError names the variable an error of user.Service.EnsureAdmin is
// about; other errors are returned as they are.
func (c config) adminError(err error) error {
	var (
		password *user.PasswordError
		conflict *user.ConflictingUsersError
	)
	switch {
	case errors.Is(err, user.ErrInvalidEmail):
		return fmt.Errorf("ADMIN_EMAIL %q: %w", c.AdminEmail, err)
	case errors.Is(err, user.ErrInvalidUsername):
		return fmt.Errorf("ADMIN_USERNAME %q: %w", c.AdminUsername, err)
	case errors.As(err, &password):
		return fmt.Errorf("ADMIN_PASSWORD: %w", err)
	case errors.Is(err, user.ErrPasswordRequired):
		return errors.New("ADMIN_PASSWORD is required to create the admin user (no user has ADMIN_EMAIL or ADMIN_USERNAME)")
	case errors.As(err, &conflict):
		return fmt.Errorf("admin create: ADMIN_EMAIL %q belongs to user %d and ADMIN_USERNAME %q to user %d; refusing to choose",
			conflict.Email, conflict.EmailOwner, conflict.Username, conflict.UsernameOwner)
	default:
		return fmt.Errorf("admin create: %w", err)
	}
}
