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
	// DeletedTaskRetention is how long a deleted task can be undeleted
	// before the periodic job task.purge removes it (at least a day).
	DeletedTaskRetention time.Duration `env:"DELETED_TASK_RETENTION" envDefault:"720h"`
	// ChangeFeedRetention is how long the change feed keeps its rows and
	// its tokens stay valid (at least 7 days); an older token must resync.
	ChangeFeedRetention time.Duration `env:"CHANGE_FEED_RETENTION" envDefault:"720h"`
	// WatchHeartbeat is how long a WatchTasks stream stays silent before
	// it sends a heartbeat (and reads the feed, whatever LISTEN said).
	WatchHeartbeat time.Duration `env:"WATCH_HEARTBEAT" envDefault:"15s"`
	// WatchMaxPerUser and WatchMax bound the WatchTasks streams open per
	// user and per process.
	WatchMaxPerUser int `env:"WATCH_MAX_PER_USER" envDefault:"16"`
	WatchMax        int `env:"WATCH_MAX" envDefault:"10000"`
	// WatchSendTimeout is how long a WatchTasks message may wait for a
	// slow client before the stream is cut off.
	WatchSendTimeout time.Duration `env:"WATCH_SEND_TIMEOUT" envDefault:"30s"`
	// WebhookAllowPrivate lets webhooks reach private, link-local and
	// loopback addresses: development and tests only (SSRF).
	WebhookAllowPrivate bool `env:"WEBHOOK_ALLOW_PRIVATE" envDefault:"false"`
	// WebhookTimeout bounds one delivery attempt.
	WebhookTimeout time.Duration `env:"WEBHOOK_TIMEOUT" envDefault:"10s"`
	// WebhookRetryBase is the wait after a webhook's first failed attempt;
	// it doubles with each further one, up to an hour.
	WebhookRetryBase time.Duration `env:"WEBHOOK_RETRY_BASE" envDefault:"10s"`
	// WebhookDisableAfter is how long a webhook may fail continuously
	// before its deliveries stop.
	WebhookDisableAfter time.Duration `env:"WEBHOOK_DISABLE_AFTER" envDefault:"72h"`
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
	p.Check(c.DeletedTaskRetention >= 24*time.Hour, "DELETED_TASK_RETENTION must be at least 24h")
	p.Check(c.ChangeFeedRetention >= 7*24*time.Hour, "CHANGE_FEED_RETENTION must be at least 168h")
	p.Check(c.WatchHeartbeat > 0, "WATCH_HEARTBEAT must be positive")
	p.Check(c.WatchMaxPerUser > 0, "WATCH_MAX_PER_USER must be positive")
	p.Check(c.WatchMax > 0, "WATCH_MAX must be positive")
	p.Check(c.WatchSendTimeout > 0, "WATCH_SEND_TIMEOUT must be positive")
	p.Check(c.WebhookTimeout > 0, "WEBHOOK_TIMEOUT must be positive")
	p.Check(c.WebhookRetryBase > 0, "WEBHOOK_RETRY_BASE must be positive")
	p.Check(c.WebhookDisableAfter > 0, "WEBHOOK_DISABLE_AFTER must be positive")
	p.Check(taskstore.ValidSearchConfig(c.SearchConfig), "TASK_SEARCH_CONFIG must name a text search configuration, such as simple or english")
	return p.Err()
}
