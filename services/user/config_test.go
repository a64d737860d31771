package main

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/envcfg"
	"github.com/todo-platform/todo/services/user/internal/user"
)

func TestConfig_DefaultsAndRefusals(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://app:secret@localhost/todo")
	cfg, err := envcfg.Load[config]()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GRPCAddr != ":50051" || cfg.ShutdownTimeout != 8*time.Second ||
		cfg.AccessTokenTTL != 15*time.Minute || cfg.RefreshTokenTTL != 720*time.Hour ||
		cfg.LoginMaxFailuresPerAccount != 100 || cfg.LoginMaxFailuresPerAddress != 1000 || cfg.LoginThrottleWindow != time.Hour ||
		cfg.PasswordHashMemoryKiB != user.OWASPMemoryKiB || cfg.PasswordHashTime != user.OWASPTime || cfg.PasswordHashThreads != user.OWASPThreads ||
		cfg.PasswordHashConcurrency != 0 ||
		cfg.TokenIssuer != auth.DefaultIssuer || cfg.TokenAudience != auth.DefaultAudience {
		t.Errorf("defaults: %+v", cfg)
	}
	proxies, err := cfg.trustedProxies()
	if err != nil || len(proxies) != 2 || proxies[0].String() != "127.0.0.0/8" || proxies[1].String() != "::1/128" {
		t.Errorf("default trusted proxies: %v, %v", proxies, err)
	}
	if _, err := user.NewService(t.Context(), nil, nil, user.NewHasher(user.NewParams(64, 1, 1), 1), nil, cfg.service()); err != nil {
		t.Errorf("the default configuration is not a valid user.Config: %v", err)
	}

	for _, kv := range [][2]string{
		{"PASSWORD_HASH_MEMORY_KIB", "4096"},
		{"PASSWORD_HASH_TIME", "1"},
		{"PASSWORD_HASH_CONCURRENCY", "-1"},
		{"ACCESS_TOKEN_TTL", "-1m"},
		{"REFRESH_TOKEN_TTL", "0s"},
		{"LOGIN_THROTTLE_WINDOW", "0s"},
		{"TRUSTED_PROXIES", "127.0.0.1,not-an-address"},
		{"LOGIN_MAX_FAILURES_PER_ACCOUNT", "0"},
		{"LOGIN_MAX_FAILURES_PER_ADDRESS", "0"},
		{"SHUTDOWN_TIMEOUT", "0s"},
	} {
		t.Run(kv[0], func(t *testing.T) {
			t.Setenv(kv[0], kv[1])
			if _, err := envcfg.Load[config](); err == nil || !strings.Contains(err.Error(), kv[0]) {
				t.Errorf("%s=%s: %v, want an error naming it", kv[0], kv[1], err)
			}
		})
	}
	bad := cfg
	bad.TokenIssuer, bad.ShutdownTimeout = "", 0
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "TOKEN_ISSUER") || !strings.Contains(err.Error(), "SHUTDOWN_TIMEOUT") {
		t.Errorf("Validate without issuer and shutdown timeout: %v, want both named", err)
	}
	t.Setenv("DATABASE_URL", "")
	if _, err := envcfg.Load[config](); err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Errorf("no DATABASE_URL: %v", err)
	}
}

func TestConfig_LogMasksPasswords(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://app:s3cr3t@localhost/todo")
	t.Setenv("ADMIN_PASSWORD", "hunter2 hunter2")
	t.Setenv("ADMIN_EMAIL", "root@example.com")
	cfg, err := envcfg.Load[config]()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	slog.New(slog.NewJSONHandler(&b, nil)).Info("config", slog.Any("config", envcfg.LogValue(cfg)))
	out := b.String()
	if strings.Contains(out, "s3cr3t") || strings.Contains(out, "hunter2") {
		t.Errorf("a password reached the log: %s", out)
	}
	for _, want := range []string{`"ADMIN_PASSWORD":"xxxxx"`, `"ADMIN_EMAIL":"root@example.com"`, `"SHUTDOWN_TIMEOUT":"8s"`, `"TOKEN_ISSUER":"todo-user-service"`, `"DATABASE_URL":"postgres://app:xxxxx@localhost/todo"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s: %s", want, out)
		}
	}
}

func TestAdminError_NamesTheVariable(t *testing.T) {
	cfg := config{AdminEmail: "root", AdminUsername: "Root"}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{user.ErrInvalidEmail, `ADMIN_EMAIL "root"`},
		{user.ErrInvalidUsername, `ADMIN_USERNAME "Root"`},
		{user.ValidatePassword("short"), "ADMIN_PASSWORD: password must be 12 to 128 characters long, not 5"},
		{user.ErrPasswordRequired, "ADMIN_PASSWORD is required"},
		{&user.ConflictingUsersError{Email: "a@example.com", EmailOwner: 1, Username: "b", UsernameOwner: 2}, `ADMIN_EMAIL "a@example.com" belongs to user 1 and ADMIN_USERNAME "b" to user 2`},
		{errors.New("connection refused"), "admin create: connection refused"},
	} {
		if got := cfg.adminError(tc.err).Error(); !strings.Contains(got, tc.want) {
			t.Errorf("adminError(%v) = %q, want it to contain %q", tc.err, got, tc.want)
		}
	}
}
