package envcfg_test

import (
	"testing"

	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/envcfg"
)

func TestTokens_DefaultsAreAuthDefaults(t *testing.T) {
	cfg, err := envcfg.Load[envcfg.Tokens]()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TokenIssuer != auth.DefaultIssuer || cfg.TokenAudience != auth.DefaultAudience {
		t.Errorf("defaults %q %q, want auth's %q %q", cfg.TokenIssuer, cfg.TokenAudience, auth.DefaultIssuer, auth.DefaultAudience)
	}
	if err := (envcfg.Tokens{}).Validate(); err == nil {
		t.Error("empty Tokens validated")
	}
	if err := (envcfg.Shutdown{}).Validate(); err == nil {
		t.Error("zero SHUTDOWN_TIMEOUT validated")
	}
}
