package pgcluster_test

import (
	"context"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/todo-platform/todo/pkg/pgcluster"
)

func TestStart_SettingsOverrideDefaults(t *testing.T) {
	ctx := context.Background()
	c, err := pgcluster.Start(ctx, "shared_buffers=24MB", "work_mem=7MB")
	if err != nil {
		t.Fatalf("Start: %v", err)
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
	// listen_addresses is empty: the cluster has no TCP port to collide on.
	for name, want := range map[string]string{"shared_buffers": "24MB", "work_mem": "7MB", "fsync": "off", "listen_addresses": ""} {
		var got string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&got); err != nil {
			t.Fatalf("current_setting(%s): %v", name, err)
		}
		if got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func TestStart_RefusesMalformedSetting(t *testing.T) {
	if c, err := pgcluster.Start(context.Background(), "shared_buffers"); err == nil {
		c.Stop()
		t.Fatal("Start accepted a setting without a value")
	}
}

func TestStop_TakesTheServerDownAndRemovesItsDirectory(t *testing.T) {
	ctx := context.Background()
	c, err := pgcluster.Start(ctx)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	u, err := url.Parse(c.URL())
	if err != nil {
		t.Fatal(err)
	}
	dir := u.Query().Get("host")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the URL's socket directory %q: %v", dir, err)
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if conn, err := pgx.Connect(ctx, c.URL()); err == nil {
		conn.Close(ctx)
		t.Error("the cluster accepts connections after Stop")
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the cluster directory is still there after Stop: %v", err)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("a second Stop: %v, want nil", err)
	}
}
