// Command user-service runs the todo platform's user service: accounts,
// sign-in, tokens, profiles and administration over gRPC
// (todo.user.v1.UserService), on PostgreSQL.
//
// Usage:
//
//	user-service [serve]                       serve gRPC on GRPC_ADDR (the default)
//	user-service migrate up|down|status        apply, undo one, or list the user migrations
//	user-service admin create                  create or promote the first admin
//
// Configuration comes from the environment; see config. serve refuses to
// start when DATABASE_URL names a role that could bypass row-level security
// (superuser, BYPASSRLS, an owner) or is not a member of todo_app.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/auth/grpcauth"
	"github.com/todo-platform/todo/pkg/auth/keyfile"
	"github.com/todo-platform/todo/pkg/envcfg"
	"github.com/todo-platform/todo/pkg/grpcserver"
	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/pkg/schema"
	"github.com/todo-platform/todo/services/user/internal/user"
	"github.com/todo-platform/todo/services/user/internal/userapi"
	"github.com/todo-platform/todo/services/user/internal/userstore"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, log, os.Args[1:])
	stop()
	if err != nil {
		log.Error("user-service failed", slog.Any("error", err))
		os.Exit(1)
	}
}

const usage = `usage: user-service [serve | migrate up|down|status | admin create]`

// run dispatches the subcommand named by args (serve when empty).
func run(ctx context.Context, log *slog.Logger, args []string) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	log.InfoContext(ctx, "user-service", slog.String("command", cmd), slog.Any("config", cfg))
	switch cmd {
	case "serve":
		if len(args) != 0 {
			return errors.New(usage)
		}
		return serve(ctx, log, cfg)
	case "migrate":
		if len(args) != 1 {
			return errors.New(usage)
		}
		if err := schema.Run(ctx, log, cfg.DatabaseURL, schema.User(), args[0], os.Stdout); err != nil {
			return fmt.Errorf("migrate %s: %w", args[0], err)
		}
		return nil
	case "admin":
		if len(args) != 1 || args[0] != "create" {
			return errors.New(usage)
		}
		return adminCreate(ctx, log, cfg)
	default:
		return fmt.Errorf("unknown command %q; %s", cmd, usage)
	}
}

// config is the service's configuration, from the environment.
type config struct {
	// DatabaseURL is the libpq/pgx DSN. serve and admin create use it as the
	// runtime role; migrate runs as whoever it names.
	DatabaseURL string `env:"DATABASE_URL,required,notEmpty"`
	// GRPCAddr is the listen address of serve.
	GRPCAddr string `env:"GRPC_ADDR" envDefault:":50051"`
	// ShutdownTimeout bounds how long serve waits for in-flight RPCs on SIGTERM.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"8s"`

	// TokenPrivateKeyFile is the Ed25519 PKCS #8 PEM signing key (required by serve).
	TokenPrivateKeyFile string `env:"TOKEN_PRIVATE_KEY_FILE"`
	// TokenPublicKeyFiles are older keys (private or public PEM files) whose
	// public halves GetPublicKeys keeps publishing, and this service keeps
	// accepting, while tokens they signed are still alive.
	TokenPublicKeyFiles []string `env:"TOKEN_PUBLIC_KEY_FILES" envSeparator:","`
	TokenIssuer         string   `env:"TOKEN_ISSUER" envDefault:"todo-user-service"`
	TokenAudience       string   `env:"TOKEN_AUDIENCE" envDefault:"todo"`
	// AccessTokenTTL and RefreshTokenTTL are the token lifetimes.
	AccessTokenTTL  time.Duration `env:"ACCESS_TOKEN_TTL" envDefault:"15m"`
	RefreshTokenTTL time.Duration `env:"REFRESH_TOKEN_TTL" envDefault:"720h"`

	// Sign-in throttling: failed attempts per account and per client address
	// within a fixed window that starts at the first failure.
	LoginMaxFailuresPerAccount int           `env:"LOGIN_MAX_FAILURES_PER_ACCOUNT" envDefault:"100"`
	LoginMaxFailuresPerAddress int           `env:"LOGIN_MAX_FAILURES_PER_ADDRESS" envDefault:"1000"`
	LoginThrottleWindow        time.Duration `env:"LOGIN_THROTTLE_WINDOW" envDefault:"1h"`
	// TrustedProxies are the peers (CIDR prefixes or addresses) whose
	// x-forwarded-for metadata names the client, such as the REST gateway.
	TrustedProxies []string `env:"TRUSTED_PROXIES" envSeparator:"," envDefault:"127.0.0.0/8,::1/128"`

	// Password hashing: argon2id parameters (no lower than OWASP's minimum)
	// and how many hashes may run at once (0: one per CPU).
	PasswordHashMemoryKiB   uint32 `env:"PASSWORD_HASH_MEMORY_KIB" envDefault:"19456"`
	PasswordHashTime        uint32 `env:"PASSWORD_HASH_TIME" envDefault:"2"`
	PasswordHashThreads     uint8  `env:"PASSWORD_HASH_THREADS" envDefault:"1"`
	PasswordHashConcurrency int    `env:"PASSWORD_HASH_CONCURRENCY" envDefault:"0"`

	// The first admin, for admin create.
	AdminEmail    string `env:"ADMIN_EMAIL"`
	AdminUsername string `env:"ADMIN_USERNAME"`
	AdminPassword string `env:"ADMIN_PASSWORD"`
}

// loadConfig reads and validates the environment.
func loadConfig() (config, error) {
	cfg, err := env.ParseAs[config]()
	if err != nil {
		return config{}, fmt.Errorf("configuration: %w", err)
	}
	if cfg.PasswordHashConcurrency == 0 {
		cfg.PasswordHashConcurrency = runtime.NumCPU()
	}
	var problems []string
	check := func(ok bool, msg string) {
		if !ok {
			problems = append(problems, msg)
		}
	}
	check(cfg.AccessTokenTTL > 0, "ACCESS_TOKEN_TTL must be positive")
	check(cfg.RefreshTokenTTL > 0, "REFRESH_TOKEN_TTL must be positive")
	check(cfg.ShutdownTimeout > 0, "SHUTDOWN_TIMEOUT must be positive")
	check(cfg.TokenIssuer != "", "TOKEN_ISSUER must not be empty")
	check(cfg.TokenAudience != "", "TOKEN_AUDIENCE must not be empty")
	check(cfg.LoginMaxFailuresPerAccount > 0, "LOGIN_MAX_FAILURES_PER_ACCOUNT must be positive")
	check(cfg.LoginMaxFailuresPerAddress > 0, "LOGIN_MAX_FAILURES_PER_ADDRESS must be positive")
	check(cfg.LoginThrottleWindow > 0, "LOGIN_THROTTLE_WINDOW must be positive")
	check(cfg.PasswordHashMemoryKiB >= user.OWASPMemoryKiB, fmt.Sprintf("PASSWORD_HASH_MEMORY_KIB must be at least %d (OWASP)", user.OWASPMemoryKiB))
	check(cfg.PasswordHashTime >= user.OWASPTime, fmt.Sprintf("PASSWORD_HASH_TIME must be at least %d (OWASP)", user.OWASPTime))
	check(cfg.PasswordHashThreads >= user.OWASPThreads, "PASSWORD_HASH_THREADS must be at least 1")
	check(cfg.PasswordHashConcurrency > 0, "PASSWORD_HASH_CONCURRENCY must not be negative")
	if _, err := cfg.trustedProxies(); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return config{}, fmt.Errorf("configuration: %s", strings.Join(problems, "; "))
	}
	return cfg, nil
}

// trustedProxies parses TrustedProxies; a bare address is a one-address prefix.
func (c config) trustedProxies() ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(c.TrustedProxies))
	for _, s := range c.TrustedProxies {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("TRUSTED_PROXIES: %q is neither a CIDR prefix nor an address", s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func (c config) hashParams() user.Params {
	p := user.DefaultParams()
	p.Memory, p.Time, p.Threads = c.PasswordHashMemoryKiB, c.PasswordHashTime, c.PasswordHashThreads
	return p
}

func (c config) serviceConfig() user.Config {
	return user.Config{
		RefreshTTL:            c.RefreshTokenTTL,
		ThrottleWindow:        c.LoginThrottleWindow,
		MaxFailuresPerAccount: c.LoginMaxFailuresPerAccount,
		MaxFailuresPerAddress: c.LoginMaxFailuresPerAddress,
	}
}

// LogValue logs the configuration with the database password and the admin
// password masked.
func (c config) LogValue() slog.Value {
	adminPassword := ""
	if c.AdminPassword != "" {
		adminPassword = "xxxxx"
	}
	return slog.GroupValue(
		slog.String("DATABASE_URL", envcfg.MaskDSN(c.DatabaseURL)),
		slog.String("GRPC_ADDR", c.GRPCAddr),
		slog.Duration("SHUTDOWN_TIMEOUT", c.ShutdownTimeout),
		slog.String("TOKEN_PRIVATE_KEY_FILE", c.TokenPrivateKeyFile),
		slog.Any("TOKEN_PUBLIC_KEY_FILES", c.TokenPublicKeyFiles),
		slog.String("TOKEN_ISSUER", c.TokenIssuer),
		slog.String("TOKEN_AUDIENCE", c.TokenAudience),
		slog.Duration("ACCESS_TOKEN_TTL", c.AccessTokenTTL),
		slog.Duration("REFRESH_TOKEN_TTL", c.RefreshTokenTTL),
		slog.Int("LOGIN_MAX_FAILURES_PER_ACCOUNT", c.LoginMaxFailuresPerAccount),
		slog.Int("LOGIN_MAX_FAILURES_PER_ADDRESS", c.LoginMaxFailuresPerAddress),
		slog.Duration("LOGIN_THROTTLE_WINDOW", c.LoginThrottleWindow),
		slog.Any("TRUSTED_PROXIES", c.TrustedProxies),
		slog.Any("PASSWORD_HASH_MEMORY_KIB", c.PasswordHashMemoryKiB),
		slog.Any("PASSWORD_HASH_TIME", c.PasswordHashTime),
		slog.Any("PASSWORD_HASH_THREADS", c.PasswordHashThreads),
		slog.Int("PASSWORD_HASH_CONCURRENCY", c.PasswordHashConcurrency),
		slog.String("ADMIN_EMAIL", c.AdminEmail),
		slog.String("ADMIN_USERNAME", c.AdminUsername),
		slog.String("ADMIN_PASSWORD", adminPassword),
	)
}

// cleanupInterval is how often serve deletes expired sessions and closed
// throttle windows.
const cleanupInterval = 15 * time.Minute

// serve runs the gRPC server until ctx ends (SIGINT/SIGTERM), then stops
// gracefully.
func serve(ctx context.Context, log *slog.Logger, cfg config) error {
	if cfg.TokenPrivateKeyFile == "" {
		return errors.New("configuration: TOKEN_PRIVATE_KEY_FILE is required by serve")
	}
	key, err := keyfile.LoadPrivate(cfg.TokenPrivateKeyFile)
	if err != nil {
		return fmt.Errorf("TOKEN_PRIVATE_KEY_FILE: %w", err)
	}
	signer := auth.NewSigner(key, cfg.TokenIssuer, cfg.TokenAudience, cfg.AccessTokenTTL)
	keys, err := keyfile.KeySet(signer, cfg.TokenPublicKeyFiles)
	if err != nil {
		return fmt.Errorf("TOKEN_PUBLIC_KEY_FILES: %w", err)
	}
	static := keyfile.Static(keys)
	proxies, err := cfg.trustedProxies()
	if err != nil {
		return err
	}

	pcfg, err := pgdb.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	db, err := pgdb.Open(ctx, pcfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.CheckRuntimeRole(ctx); err != nil {
		return fmt.Errorf("refusing to start: %w", err)
	}

	hasher := user.NewHasher(cfg.hashParams(), cfg.PasswordHashConcurrency)
	svc, err := user.NewService(ctx, log, userstore.New(db), hasher, signer, cfg.serviceConfig())
	if err != nil {
		return err
	}
	api := userapi.New(log, svc, keys, proxies)
	verifier := auth.NewVerifier(static, cfg.TokenIssuer, cfg.TokenAudience)
	srv := grpcserver.New(log,
		grpcserver.Config{Addr: cfg.GRPCAddr, ShutdownTimeout: cfg.ShutdownTimeout},
		grpcauth.UnaryServerInterceptor(verifier, userapi.PublicMethods()...),
	)
	api.Register(srv.GRPC())

	var wg sync.WaitGroup
	wg.Go(func() { cleanupLoop(ctx, log, svc) })
	err = srv.ListenAndServe(ctx)
	wg.Wait()
	return err
}

// cleanupLoop runs svc.Cleanup every cleanupInterval until ctx ends.
func cleanupLoop(ctx context.Context, log *slog.Logger, svc *user.Service) {
	t := time.NewTicker(cleanupInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := svc.Cleanup(ctx)
			if err != nil {
				if ctx.Err() == nil {
					log.WarnContext(ctx, "cleanup failed", slog.Any("error", err))
				}
				continue
			}
			log.DebugContext(ctx, "cleanup done", slog.Int64("deleted", n))
		}
	}
}

// adminCreate creates or promotes the first admin from ADMIN_EMAIL,
// ADMIN_USERNAME and ADMIN_PASSWORD; see user.Service.EnsureAdmin for what
// happens when the user exists. Running it again changes nothing.
func adminCreate(ctx context.Context, log *slog.Logger, cfg config) error {
	if cfg.AdminEmail == "" || cfg.AdminUsername == "" {
		return errors.New("configuration: admin create needs ADMIN_EMAIL and ADMIN_USERNAME (and ADMIN_PASSWORD to create the user)")
	}
	pcfg, err := pgdb.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	db, err := pgdb.Open(ctx, pcfg)
	if err != nil {
		return err
	}
	defer db.Close()
	hasher := user.NewHasher(cfg.hashParams(), cfg.PasswordHashConcurrency)
	svc, err := user.NewService(ctx, log, userstore.New(db), hasher, nil, cfg.serviceConfig())
	if err != nil {
		return err
	}
	u, created, err := svc.EnsureAdmin(ctx, cfg.AdminEmail, cfg.AdminUsername, cfg.AdminPassword)
	if err != nil {
		return err
	}
	log.InfoContext(ctx, "admin ready", slog.Int64("user_id", u.ID), slog.String("username", u.Username),
		slog.String("email", u.Email), slog.Bool("created", created))
	return nil
}
