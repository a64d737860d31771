package envcfg

import (
	"reflect"
	"time"

	"github.com/todo-platform/todo/pkg/auth"
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
