package envcfg

import (
	"crypto/tls"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/tlsconfig"
)

// DefaultShutdownTimeout is SHUTDOWN_TIMEOUT's default, and the grace
// period of a grpcserver.Server configured without one.
const DefaultShutdownTimeout = 8 * time.Second

// The shared variables below take their defaults from Go constants rather
// than envDefault tags, so that each default is written once, where the code
// that depends on it lives: Load sets them before it reads the environment.

// Shutdown is the variable every binary reads for its graceful stop; embed it
// in a configuration.
type Shutdown struct {
	// ShutdownTimeout bounds how long a binary waits for in-flight requests
	// after SIGINT or SIGTERM before it cancels them (default
	// DefaultShutdownTimeout).
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT"`
}

func (s *Shutdown) setDefaults() { s.ShutdownTimeout = DefaultShutdownTimeout }

// Tokens are the claims access tokens carry and the services check; the user
// service signs with them, the task service verifies them. Embed it in a
// configuration. The defaults are auth.DefaultIssuer and
// auth.DefaultAudience.
type Tokens struct {
	TokenIssuer   string `env:"TOKEN_ISSUER"`
	TokenAudience string `env:"TOKEN_AUDIENCE"`
}

func (t *Tokens) setDefaults() {
	t.TokenIssuer, t.TokenAudience = auth.DefaultIssuer, auth.DefaultAudience
}

// Database is the services' database variable; embed it in a configuration.
type Database struct {
	// DatabaseURL is the libpq/pgx DSN (URL or keyword/value form) of the
	// database. The serving commands connect as the runtime role it names
	// (see pgdb.OpenRuntime); migrate runs as whoever it names. Logged with
	// its password masked.
	DatabaseURL string `env:"DATABASE_URL,required,notEmpty" log:"dsn"`
	// DatabaseAllowInsecure lets the serving commands use a DSN that may
	// reach a database on another machine without TLS (see
	// pgdb.CheckTransport); off, they refuse to start.
	DatabaseAllowInsecure bool `env:"DATABASE_ALLOW_INSECURE" envDefault:"false"`
	// MigrateDatabaseURL is the DSN migrate runs with: the schema's owner
	// over a direct connection, because goose's advisory lock is
	// session-level and a transaction-mode pooler (Neon's pooled endpoint)
	// does not keep a session. Empty: DATABASE_URL.
	MigrateDatabaseURL string `env:"MIGRATE_DATABASE_URL" log:"dsn"`
}

// MigrateURL returns the DSN migrate runs with: MIGRATE_DATABASE_URL, else
// DATABASE_URL.
func (d Database) MigrateURL() string {
	if d.MigrateDatabaseURL != "" {
		return d.MigrateDatabaseURL
	}
	return d.DatabaseURL
}

// ServerTLS is the TLS of a binary's public listener (gRPC or the
// gateway's HTTP); embed it in a configuration. Unset, the listener is
// plaintext.
type ServerTLS struct {
	// TLSCertFile and TLSKeyFile are the PEM certificate and key; both or
	// neither. They are re-read when they change (see package tlsconfig).
	TLSCertFile string `env:"TLS_CERT_FILE"`
	TLSKeyFile  string `env:"TLS_KEY_FILE"`
	// TLSClientCAFile turns on mutual TLS: clients must present a
	// certificate from this CA.
	TLSClientCAFile string `env:"TLS_CLIENT_CA_FILE"`
	// TLSClientNames, with TLSClientCAFile, are the client identities
	// (a DNS name or the common name of the certificate) accepted.
	TLSClientNames []string `env:"TLS_CLIENT_NAMES" envSeparator:","`
}

// Config returns the listener's TLS configuration, nil when TLS is off.
func (s ServerTLS) Config() (*tls.Config, error) {
	if s.TLSCertFile == "" && s.TLSKeyFile == "" {
		if s.TLSClientCAFile != "" || len(s.TLSClientNames) > 0 {
			return nil, errors.New("TLS_CLIENT_CA_FILE and TLS_CLIENT_NAMES need TLS_CERT_FILE and TLS_KEY_FILE")
		}
		return nil, nil
	}
	cfg, err := tlsconfig.ServerConfig(tlsconfig.Server{
		CertFile: s.TLSCertFile, KeyFile: s.TLSKeyFile, ClientCAFile: s.TLSClientCAFile, ClientNames: s.TLSClientNames,
	})
	if err != nil {
		return nil, fmt.Errorf("TLS_CERT_FILE, TLS_KEY_FILE, TLS_CLIENT_CA_FILE: %w", err)
	}
	return cfg, nil
}

// UpstreamTLS is the TLS of a binary's gRPC clients of the other services
// (the gateway's, the task service's of the user service); embed it in a
// configuration. Unset, they dial plaintext.
type UpstreamTLS struct {
	// UpstreamCAFile turns TLS on: the services' certificates must chain
	// to this CA (PEM) and name the host dialled.
	UpstreamCAFile string `env:"UPSTREAM_CA_FILE"`
	// UpstreamCertFile and UpstreamKeyFile are the client certificate for
	// services that require mutual TLS; both or neither.
	UpstreamCertFile string `env:"UPSTREAM_CERT_FILE"`
	UpstreamKeyFile  string `env:"UPSTREAM_KEY_FILE"`
}

// Config returns the clients' TLS configuration, nil when TLS is off.
func (u UpstreamTLS) Config() (*tls.Config, error) {
	if u.UpstreamCAFile == "" {
		if u.UpstreamCertFile != "" || u.UpstreamKeyFile != "" {
			return nil, errors.New("UPSTREAM_CERT_FILE and UPSTREAM_KEY_FILE need UPSTREAM_CA_FILE")
		}
		return nil, nil
	}
	cfg, err := tlsconfig.ClientConfig(tlsconfig.Client{CAFile: u.UpstreamCAFile, CertFile: u.UpstreamCertFile, KeyFile: u.UpstreamKeyFile})
	if err != nil {
		return nil, fmt.Errorf("UPSTREAM_CA_FILE, UPSTREAM_CERT_FILE, UPSTREAM_KEY_FILE: %w", err)
	}
	return cfg, nil
}

// Validate names what is wrong with s.
func (s Shutdown) Validate() error {
	var p Problems
	p.Check(s.ShutdownTimeout > 0, "SHUTDOWN_TIMEOUT must be positive")
	return p.Err()
}

// Validate names what is wrong with t.
func (t Tokens) Validate() error {
	var p Problems
	p.Check(t.TokenIssuer != "", "TOKEN_ISSUER must not be empty")
	p.Check(t.TokenAudience != "", "TOKEN_AUDIENCE must not be empty")
	return p.Err()
}

// setDefaults sets the defaults of every Shutdown and Tokens within v (a
// struct), however deeply embedded or nested.
func setDefaults(v reflect.Value) {
	for i := range v.NumField() {
		f := v.Field(i)
		if !v.Type().Field(i).IsExported() || f.Kind() != reflect.Struct {
			continue
		}
		switch p := f.Addr().Interface().(type) {
		case *Shutdown:
			p.setDefaults()
		case *Tokens:
			p.setDefaults()
		default:
			setDefaults(f)
		}
	}
}

// MinAuditRetentionMonths is the least AUDIT_RETENTION_MONTHS the database
// accepts (audit_maintain refuses less).
const MinAuditRetentionMonths = 12

// Audit is the audit log's retention, read by both services; embed it in a
// configuration.
type Audit struct {
	// AuditRetentionMonths is how many whole months of audit rows are kept
	// before the current one: older monthly partitions are detached and
	// dropped by the periodic partition job.
	AuditRetentionMonths int `env:"AUDIT_RETENTION_MONTHS" envDefault:"13"`
}

// Validate names what is wrong with a.
func (a Audit) Validate() error {
	var p Problems
	p.Check(a.AuditRetentionMonths >= MinAuditRetentionMonths, "AUDIT_RETENTION_MONTHS must be at least 12")
	return p.Err()
}
