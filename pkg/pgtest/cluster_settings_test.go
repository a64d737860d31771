package pgtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/todo-platform/todo/pkg/pgtest"
)

func TestStartClusterWith_SettingsOverrideDefaults(t *testing.T) {
	ctx := context.Background()
	c, err := pgtest.StartClusterWith(ctx, "shared_buffers=24MB", "work_mem=7MB")
	if err != nil {
		t.Fatalf("StartClusterWith: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	for name, want := range map[string]string{"shared_buffers": "24MB", "work_mem": "7MB", "fsync": "off"} {
		var got string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&got); err != nil {
			t.Fatalf("current_setting(%s): %v", name, err)
		}
		if got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func TestStartClusterWith_RefusesMalformedSetting(t *testing.T) {
	if c, err := pgtest.StartClusterWith(context.Background(), "shared_buffers"); err == nil {
		c.Stop()
		t.Fatal("StartClusterWith accepted a setting without a value")
	}
}
