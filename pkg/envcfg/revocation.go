package envcfg

import (
	"time"
)

// Revocation is how a service learns token revocations (package
// revocation); embed it in a configuration.
type Revocation struct {
	// DatabaseListenURL is a direct (non-pooled) DSN for LISTEN; empty:
	// DATABASE_URL. Behind a transaction-mode pooler LISTEN does not work,
	// and revocations arrive by polling only.
	DatabaseListenURL string `env:"DATABASE_LISTEN_URL" log:"dsn"`
	// TokenRevocationPollInterval is how often the revocations are polled,
	// whether or not LISTEN works.
	TokenRevocationPollInterval time.Duration `env:"TOKEN_REVOCATION_POLL_INTERVAL" envDefault:"2s"`
}

// Validate names what is wrong with r.
func (r Revocation) Validate() error {
	var p Problems
	p.Check(r.TokenRevocationPollInterval > 0 && r.TokenRevocationPollInterval <= 30*time.Second,
		"TOKEN_REVOCATION_POLL_INTERVAL must be positive and at most 30s")
	return p.Err()
}

// ListenURL returns DatabaseListenURL, or databaseURL when it is empty.
func (r Revocation) ListenURL(databaseURL string) string {
	if r.DatabaseListenURL != "" {
		return r.DatabaseListenURL
	}
	return databaseURL
}
