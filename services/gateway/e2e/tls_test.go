package e2e

import (
	"net/url"
	"testing"

	"github.com/todo-platform/todo/pkg/certgen"
	"github.com/todo-platform/todo/pkg/pgcluster"
	"github.com/todo-platform/todo/pkg/pgtest"
)

// TestQuickstart_DatabaseOverVerifyFull runs the quickstart journey with
// both services connected to a PostgreSQL that serves TLS with a
// certificate from a CA made here, over sslmode=verify-full with that CA;
// and checks that every TCP connection of the services' role is encrypted
// (the test harness's own pool uses the socket).
func TestQuickstart_DatabaseOverVerifyFull(t *testing.T) {
	ca, err := certgen.NewCA("e2e database CA")
	if err != nil {
		t.Fatal(err)
	}
	server, err := ca.Server("localhost")
	if err != nil {
		t.Fatal(err)
	}
	caFile, err := ca.WriteCA(t.TempDir(), "ca")
	if err != nil {
		t.Fatal(err)
	}
	db, c := pgtest.NewPrivateTLS(t, pgcluster.TLS{CertPEM: server.CertPEM, KeyPEM: server.KeyPEM})
	dsn := pgtest.Via(t, db.AppURL, "localhost", c.Port(), url.Values{"sslmode": {"verify-full"}, "sslrootcert": {caFile}})
	s := startStackWith(t, db, stackConfig{databaseURL: dsn})
	quickstart(t, s)

	var plain, encrypted int
	if err := db.Owner.QueryRow(t.Context(), `
SELECT count(*) FILTER (WHERE NOT s.ssl), count(*) FILTER (WHERE s.ssl)
FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
WHERE a.datname = current_database() AND a.usename = $1 AND a.client_addr IS NOT NULL`, pgtest.AppRoleName).Scan(&plain, &encrypted); err != nil {
		t.Fatal(err)
	}
	if plain != 0 || encrypted == 0 {
		t.Errorf("the services' connections: %d without TLS, %d with TLS; want none without and some with", plain, encrypted)
	}
}
