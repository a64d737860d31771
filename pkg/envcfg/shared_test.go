package envcfg_test

import (
	"testing"
	"time"

	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/envcfg"
)

func TestShared_DefaultsAreTheLibraries(t *testing.T) {
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
	sh, err := envcfg.Load[envcfg.Shutdown]()
	if err != nil {
		t.Fatal(err)
	}
	if sh.ShutdownTimeout != envcfg.DefaultShutdownTimeout {
		t.Errorf("SHUTDOWN_TIMEOUT default %v, want %v", sh.ShutdownTimeout, envcfg.DefaultShutdownTimeout)
	}
	t.Setenv("SHUTDOWN_TIMEOUT", "3s")
	t.Setenv("TOKEN_ISSUER", "other")
	type both struct {
		envcfg.Shutdown
		Inner struct{ envcfg.Tokens }
	}
	got, err := envcfg.Load[both]()
	if err != nil {
		t.Fatal(err)
	}
	if got.ShutdownTimeout != 3*time.Second || got.Inner.TokenIssuer != "other" || got.Inner.TokenAudience != auth.DefaultAudience {
		t.Errorf("set variables and nested defaults: %+v", got)
	}
	if err := (envcfg.Shutdown{}).Validate(); err == nil {
		t.Error("zero SHUTDOWN_TIMEOUT validated")
	}
}

// TestDatabase_MigrateURLFallsBackToDatabaseURL checks MIGRATE_DATABASE_URL:
// it wins when set, DATABASE_URL otherwise.
func TestDatabase_MigrateURLFallsBackToDatabaseURL(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://app@pooler/todo")
	cfg, err := envcfg.Load[envcfg.Database]()
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.MigrateURL(); got != "postgres://app@pooler/todo" {
		t.Errorf("MigrateURL() unset = %q, want DATABASE_URL", got)
	}
	t.Setenv("MIGRATE_DATABASE_URL", "postgres://owner@direct/todo")
	if cfg, err = envcfg.Load[envcfg.Database](); err != nil {
		t.Fatal(err)
	}
	if got := cfg.MigrateURL(); got != "postgres://owner@direct/todo" {
		t.Errorf("MigrateURL() = %q", got)
	}
}
