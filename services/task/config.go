package main

import (
	"time"

	"github.com/todo-platform/todo/pkg/envcfg"
	"github.com/todo-platform/todo/services/task/internal/taskstore"
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
	envcfg.Revocation
	// TokenKeysMinRefresh is the least time between two fetches of the
	// verification keys prompted by tokens naming an unknown key id.
	TokenKeysMinRefresh time.Duration `env:"TOKEN_KEYS_MIN_REFRESH" envDefault:"30s"`
	// SearchConfig is the PostgreSQL text search configuration ListTasks'
	// q matches words in (simple, english, german, …); only simple has an
	// index from the migrations (docs/search.md).
	SearchConfig string `env:"TASK_SEARCH_CONFIG" envDefault:"simple"`
}

// Validate names each variable whose value cannot work.
func (c config) Validate() error {
	var p envcfg.Problems
	p.Add(c.Shutdown.Validate())
	p.Check(c.UserServiceAddr != "", "USER_SERVICE_ADDR must not be empty")
	p.Add(c.Tokens.Validate())
	p.Add(c.Audit.Validate())
	p.Add(c.Revocation.Validate())
	p.Check(c.TokenKeysMinRefresh > 0, "TOKEN_KEYS_MIN_REFRESH must be positive")
	p.Check(taskstore.ValidSearchConfig(c.SearchConfig), "TASK_SEARCH_CONFIG must name a text search configuration, such as simple or english")
	return p.Err()
}
