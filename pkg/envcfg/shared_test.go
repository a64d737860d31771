package envcfg_test

import (
	"testing"

	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/envcfg"
	"github.com/todo-platform/todo/pkg/grpcserver"
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
	if sh.ShutdownTimeout != grpcserver.DefaultShutdownTimeout {
		t.Errorf("SHUTDOWN_TIMEOUT default %v, want grpcserver's %v", sh.ShutdownTimeout, grpcserver.DefaultShutdownTimeout)
	}
	if err := (envcfg.Shutdown{}).Validate(); err == nil {
		t.Error("zero SHUTDOWN_TIMEOUT validated")
	}
}
