package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/certgen"
	"github.com/todo-platform/todo/pkg/pgcluster"
	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/pkg/proctest"
	"github.com/todo-platform/todo/pkg/tlsconfig"
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
	via := func(dsn string) string {
		return pgtest.Via(t, dsn, "localhost", c.Port(), url.Values{"sslmode": {"verify-full"}, "sslrootcert": {caFile}})
	}
	s := startStackWith(t, db, stackConfig{userDatabaseURL: via(db.UserAppURL), taskDatabaseURL: via(db.TaskAppURL)})
	quickstart(t, s)

	// Full names are encrypted by the user service: the API returns Ann's,
	// the table holds no clear text of it.
	anon := s.anon()
	ann := anon.as(logIn(t, anon, "ann", "correct horse battery"))
	if got := str(t, ann.ok("GET", "/v1/users/me", nil), "full_name"); got != "Ann" {
		t.Errorf("/v1/users/me full_name = %q, want Ann", got)
	}
	var clear int
	if err := db.Owner.QueryRow(t.Context(), `SELECT count(*) FROM "user" WHERE full_name IS NOT NULL OR position('Ann' in encode(full_name_ct, 'escape')) > 0`).Scan(&clear); err != nil {
		t.Fatal(err)
	}
	if clear != 0 {
		t.Errorf("%d rows of \"user\" hold a full name in clear text", clear)
	}

	var plain, encrypted int
	if err := db.Owner.QueryRow(t.Context(), `
SELECT count(*) FILTER (WHERE NOT s.ssl), count(*) FILTER (WHERE s.ssl)
FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
WHERE a.datname = current_database() AND a.usename = ANY($1) AND a.client_addr IS NOT NULL`,
		[]string{pgtest.UserAppRoleName, pgtest.TaskAppRoleName}).Scan(&plain, &encrypted); err != nil {
		t.Fatal(err)
	}
	if plain != 0 || encrypted == 0 {
		t.Errorf("the services' connections: %d without TLS, %d with TLS; want none without and some with", plain, encrypted)
	}
}

// internalName is the identity of the internal clients' certificate (the
// gateway's and the task service's), which the services accept under mTLS.
const internalName = "todo-internal"

// tlsStack is the certificates of a stack with TLS on every hop: one CA;
// one server certificate for localhost and 127.0.0.1 that the three
// servers share; one client certificate for the internal calls.
type tlsStack struct {
	mtls                  bool
	caFile                string
	serverCert, serverKey string
	clientCert, clientKey string
	internalClient        *tls.Config // verifies with the CA; the client certificate under mTLS
	restClient            *tls.Config // verifies the gateway with the CA
	ca                    *certgen.CA
}

func newTLSStack(t testing.TB, mtls bool) *tlsStack {
	t.Helper()
	dir := t.TempDir()
	ca, err := certgen.NewCA("e2e CA")
	if err != nil {
		t.Fatal(err)
	}
	ts := &tlsStack{mtls: mtls, ca: ca}
	if ts.caFile, err = ca.WriteCA(dir, "ca"); err != nil {
		t.Fatal(err)
	}
	server, err := ca.Server("localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if ts.serverCert, ts.serverKey, err = server.Write(dir, "server"); err != nil {
		t.Fatal(err)
	}
	client, err := ca.Client(internalName)
	if err != nil {
		t.Fatal(err)
	}
	if ts.clientCert, ts.clientKey, err = client.Write(dir, "client"); err != nil {
		t.Fatal(err)
	}
	internal := tlsconfig.Client{CAFile: ts.caFile}
	if mtls {
		internal.CertFile, internal.KeyFile = ts.clientCert, ts.clientKey
	}
	if ts.internalClient, err = tlsconfig.ClientConfig(internal); err != nil {
		t.Fatal(err)
	}
	if ts.restClient, err = tlsconfig.ClientConfig(tlsconfig.Client{CAFile: ts.caFile}); err != nil {
		t.Fatal(err)
	}
	return ts
}

// serviceEnv is a gRPC service's server TLS.
func (ts *tlsStack) serviceEnv() []string {
	env := []string{"TLS_CERT_FILE=" + ts.serverCert, "TLS_KEY_FILE=" + ts.serverKey}
	if ts.mtls {
		env = append(env, "TLS_CLIENT_CA_FILE="+ts.caFile, "TLS_CLIENT_NAMES="+internalName)
	}
	return env
}

// upstreamEnv is an internal client's TLS.
func (ts *tlsStack) upstreamEnv() []string {
	env := []string{"UPSTREAM_CA_FILE=" + ts.caFile}
	if ts.mtls {
		env = append(env, "UPSTREAM_CERT_FILE="+ts.clientCert, "UPSTREAM_KEY_FILE="+ts.clientKey)
	}
	return env
}

func (ts *tlsStack) userEnv() []string { return ts.serviceEnv() }
func (ts *tlsStack) taskEnv() []string { return append(ts.serviceEnv(), ts.upstreamEnv()...) }

// gatewayEnv: HTTPS for REST clients (no client certificates asked), and
// the internal client's TLS to the services.
func (ts *tlsStack) gatewayEnv() []string {
	return append([]string{"TLS_CERT_FILE=" + ts.serverCert, "TLS_KEY_FILE=" + ts.serverKey}, ts.upstreamEnv()...)
}

// TestQuickstart_TLSOnEveryHop runs the quickstart journey with HTTPS to the
// gateway and mutual TLS on every gRPC hop (gateway → services, task →
// user), then checks what an operator sees: a gRPC client with the CA and
// the internal certificate (what grpcurl -cacert -cert -key does) reaches
// health and reflection; one without a client certificate, one that does
// not trust the CA, and a plaintext one are refused; the gateway sends HSTS.
func TestQuickstart_TLSOnEveryHop(t *testing.T) {
	ts := newTLSStack(t, true)
	s := startStackWith(t, pgtest.New(t), stackConfig{tls: ts})
	quickstart(t, s)

	if got := s.anon().do("GET", "/healthz", nil).header.Get("Strict-Transport-Security"); got == "" {
		t.Error("the HTTPS gateway sends no Strict-Transport-Security")
	}
	noCert, err := tlsconfig.ClientConfig(tlsconfig.Client{CAFile: ts.caFile})
	if err != nil {
		t.Fatal(err)
	}
	other, err := certgen.NewCA("stranger CA")
	if err != nil {
		t.Fatal(err)
	}
	strangerPair, err := other.Client(internalName)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	strangerCert, strangerKey, err := strangerPair.Write(dir, "stranger")
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := tlsconfig.ClientConfig(tlsconfig.Client{CAFile: ts.caFile, CertFile: strangerCert, KeyFile: strangerKey})
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range []struct{ name, addr, service string }{
		{"user", s.user.Addr(), userv1.UserService_ServiceDesc.ServiceName},
		{"task", s.task.Addr(), taskv1.TaskService_ServiceDesc.ServiceName},
	} {
		t.Run(svc.name, func(t *testing.T) {
			check := func(conn *grpc.ClientConn) error {
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				defer cancel()
				resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: svc.service})
				if err == nil && resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
					return fmt.Errorf("status %s", resp.GetStatus())
				}
				return err
			}
			if err := check(proctest.DialTLS(t, svc.addr, ts.internalClient)); err != nil {
				t.Errorf("health with the CA and the internal certificate: %v", err)
			}
			if names := listServices(t, proctest.DialTLS(t, svc.addr, ts.internalClient)); !slices.Contains(names, svc.service) {
				t.Errorf("reflection over mTLS lists %v, want %s", names, svc.service)
			}
			for what, conn := range map[string]*grpc.ClientConn{
				"no client certificate":              proctest.DialTLS(t, svc.addr, noCert),
				"a client certificate of another CA": proctest.DialTLS(t, svc.addr, stranger),
				"plaintext":                          proctest.Dial(t, svc.addr),
			} {
				if err := check(conn); status.Code(err) != codes.Unavailable {
					t.Errorf("health with %s: %v, want refused (Unavailable)", what, err)
				}
			}
		})
	}

	// A REST client that does not trust the CA is refused by the gateway's
	// certificate check.
	_, err = http.Get(s.baseURL + "/healthz")
	if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("HTTPS without the CA: %v, want unknown authority", err)
	}
}

// listServices asks server reflection for the services it serves.
func listServices(t *testing.T, conn *grpc.ClientConn) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	return names
}
