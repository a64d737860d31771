package main

import (
	"strings"
	"testing"

	"github.com/todo-platform/todo/pkg/auth"
)

func TestLoadConfig_DefaultsAndRefusals(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://app:secret@localhost/todo")
	cfg, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GRPCAddr != ":50051" || cfg.AccessTokenTTL.String() != "15m0s" || cfg.RefreshTokenTTL.String() != "720h0m0s" ||
		cfg.LoginMaxFailuresPerAccount != 100 || cfg.PasswordHashConcurrency < 1 || cfg.TokenIssuer != auth.DefaultIssuer || cfg.TokenAudience != auth.DefaultAudience {
		t.Errorf("defaults: %+v", cfg)
	}
	for _, kv := range [][2]string{
		{"PASSWORD_HASH_MEMORY_KIB", "4096"},
		{"PASSWORD_HASH_TIME", "1"},
		{"ACCESS_TOKEN_TTL", "-1m"},
		{"TRUSTED_PROXIES", "not-an-address"},
		{"LOGIN_MAX_FAILURES_PER_ACCOUNT", "0"},
	} {
		t.Run(kv[0], func(t *testing.T) {
			t.Setenv(kv[0], kv[1])
			if _, err := loadConfig(); err == nil || !strings.Contains(err.Error(), kv[0]) {
				t.Errorf("%s=%s: %v, want an error naming it", kv[0], kv[1], err)
			}
		})
	}
	t.Setenv("DATABASE_URL", "")
	if _, err := loadConfig(); err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Errorf("no DATABASE_URL: %v", err)
	}
}
