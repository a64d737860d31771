package pgcluster_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/todo-platform/todo/pkg/certgen"
	"github.com/todo-platform/todo/pkg/pgcluster"
)

// TestStartTLS_VerifyFull starts a cluster with ssl=on and a server
// certificate for localhost from a CA made here: sslmode=verify-full with
// that CA connects over TLS; a host name the certificate does not name, and
// a CA that did not sign it, fail with an error that says so.
func TestStartTLS_VerifyFull(t *testing.T) {
	ctx := context.Background()
	ca, err := certgen.NewCA("pgcluster test CA")
	if err != nil {
		t.Fatal(err)
	}
	server, err := ca.Server("localhost")
	if err != nil {
		t.Fatal(err)
	}
	c, err := pgcluster.StartTLS(ctx, pgcluster.TLS{CertPEM: server.CertPEM, KeyPEM: server.KeyPEM})
	if err != nil {
		t.Fatalf("StartTLS: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	dir := t.TempDir()
	caFile, err := ca.WriteCA(dir, "ca")
	if err != nil {
		t.Fatal(err)
	}
	dsn := func(host, rootCert string) string {
		return fmt.Sprintf("postgres://postgres@%s:%d/postgres?sslmode=verify-full&sslrootcert=%s&connect_timeout=10", host, c.Port(), rootCert)
	}

	conn, err := pgx.Connect(ctx, dsn("localhost", caFile))
	if err != nil {
		t.Fatalf("verify-full to localhost: %v", err)
	}
	var ssl bool
	var version string
	if err := conn.QueryRow(ctx, "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl, &version); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if !ssl || !strings.HasPrefix(version, "TLS") {
		t.Errorf("pg_stat_ssl: ssl %v version %q, want a TLS connection", ssl, version)
	}

	// 127.0.0.1 is the same server, but not a name in its certificate.
	_, err = pgx.Connect(ctx, dsn("127.0.0.1", caFile))
	if err == nil || !strings.Contains(err.Error(), "cannot validate certificate for 127.0.0.1") {
		t.Errorf("verify-full to a host the certificate does not name: %v, want a certificate name error", err)
	}

	other, err := certgen.NewCA("another CA")
	if err != nil {
		t.Fatal(err)
	}
	otherFile := filepath.Join(dir, "other.crt")
	if err := os.WriteFile(otherFile, other.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = pgx.Connect(ctx, dsn("localhost", otherFile))
	if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("verify-full with a CA that did not sign the server's certificate: %v, want unknown authority", err)
	}
}
