package main

import (
	"time"

	"github.com/todo-platform/todo/pkg/envcfg"
)

// config is the service's configuration, from the environment (see
// envcfg.Load): the envDefault tags are the defaults.
type config struct {
	envcfg.Database
	// GRPCAddr is the listen address of serve: a TCP address or "fd:N".
	GRPCAddr string `env:"GRPC_ADDR" envDefault:":50052"`
	// AdminAddr is the admin port's listen address (metrics, health,
	// pprof; see package admin); empty turns it off.
	AdminAddr string `env:"ADMIN_ADDR" envDefault:":9092"`
	// ServerTLS is the gRPC listener's TLS (TLS_CERT_FILE, …); unset:
	// plaintext.
	envcfg.ServerTLS
	envcfg.Shutdown
	// UserServiceAddr is the user service's gRPC address, asked for the
	// token verification keys and for assignees; over TLS when
	// UPSTREAM_CA_FILE is set (UpstreamTLS).
	UserServiceAddr string `env:"USER_SERVICE_ADDR" envDefault:"localhost:50051"`
	envcfg.UpstreamTLS
	envcfg.Tokens
	envcfg.Audit
	// TokenKeysMinRefresh is the least time between two fetches of the
	// verification keys prompted by tokens naming an unknown key id.
	TokenKeysMinRefresh time.Duration `env:"TOKEN_KEYS_MIN_REFRESH" envDefault:"30s"`
	// DeletedTaskRetention is how long a deleted task can be undeleted
	// before the periodic job task.purge removes it (at least a day).
	DeletedTaskRetention time.Duration `env:"DELETED_TASK_RETENTION" envDefault:"720h"`
	// ChangeFeedRetention is how long the change feed keeps its rows and
	// its tokens stay valid (at least 7 days); an older token must resync.
	ChangeFeedRetention time.Duration `env:"CHANGE_FEED_RETENTION" envDefault:"720h"`
}

// Validate names each variable whose value cannot work.
func (c config) Validate() error {
	var p envcfg.Problems
	p.Add(c.Shutdown.Validate())
	p.Check(c.UserServiceAddr != "", "USER_SERVICE_ADDR must not be empty")
	p.Add(c.Tokens.Validate())
	p.Add(c.Audit.Validate())
	p.Check(c.TokenKeysMinRefresh > 0, "TOKEN_KEYS_MIN_REFRESH must be positive")
	p.Check(c.DeletedTaskRetention >= 24*time.Hour, "DELETED_TASK_RETENTION must be at least 24h")
	p.Check(c.ChangeFeedRetention >= 7*24*time.Hour, "CHANGE_FEED_RETENTION must be at least 168h")
	return p.Err()
}
