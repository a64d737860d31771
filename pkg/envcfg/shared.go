package envcfg

import "time"

// Shutdown is the variable every binary reads for its graceful stop; embed it
// in a configuration. Its default is grpcserver.DefaultShutdownTimeout (a
// test keeps them equal).
type Shutdown struct {
	// ShutdownTimeout bounds how long a binary waits for in-flight requests
	// after SIGINT or SIGTERM before it cancels them.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"8s"`
}

// Tokens are the claims access tokens carry and the services check; the user
// service signs with them, the task service verifies them. Embed it in a
// configuration. The defaults are auth.DefaultIssuer and
// auth.DefaultAudience (a test keeps them equal).
type Tokens struct {
	TokenIssuer   string `env:"TOKEN_ISSUER" envDefault:"todo-user-service"`
	TokenAudience string `env:"TOKEN_AUDIENCE" envDefault:"todo"`
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

// Database is the services' database variable; embed it in a configuration.
type Database struct {
	// DatabaseURL is the libpq/pgx DSN (URL or keyword/value form) of the
	// database. The serving commands connect as the runtime role it names
	// (see pgdb.OpenRuntime); migrate runs as whoever it names. Logged with
	// its password masked.
	DatabaseURL string `env:"DATABASE_URL,required,notEmpty" log:"dsn"`
}
