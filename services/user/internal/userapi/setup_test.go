package userapi_test

import (
	"context"
	"crypto/ed25519"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/auth/grpcauth"
	"github.com/todo-platform/todo/pkg/auth/keyfile"
	"github.com/todo-platform/todo/pkg/grpcserver"
	"github.com/todo-platform/todo/pkg/grpcserver/grpcservertest"
	"github.com/todo-platform/todo/pkg/jobs"
	"github.com/todo-platform/todo/pkg/keyring/keyringtest"
	"github.com/todo-platform/todo/pkg/mail"
	"github.com/todo-platform/todo/pkg/mail/mailtest"
	"github.com/todo-platform/todo/pkg/pat"
	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/pkg/revocation"
	"github.com/todo-platform/todo/pkg/schema"
	"github.com/todo-platform/todo/pkg/testkit"
	"github.com/todo-platform/todo/services/user/internal/user"
	"github.com/todo-platform/todo/services/user/internal/userapi"
	"github.com/todo-platform/todo/services/user/internal/userstore"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// bundle is one test's running user service.
type bundle struct {
	db *pgtest.DB
	// cluster is the test's own PostgreSQL cluster, with options.private.
	cluster *pgtest.Cluster
	cfg     user.Config
	svc     *user.Service
	client  userv1.UserServiceClient
	conn    *grpc.ClientConn
	signer  *auth.Signer
	key     ed25519.PrivateKey
	// mail is the SMTP server the service mails to (options.mail).
	mail *mailtest.Server
}

type options struct {
	cfg     user.Config
	params  user.Params
	proxies []netip.Prefix
	// statementTimeout, when set, is the runtime pool's statement_timeout,
	// given in its DSN as operators do.
	statementTimeout time.Duration
	// private puts the database on a cluster of the test's own, which the
	// test may stop (bundle.cluster).
	private bool
	// mail runs the outbox's worker, delivering to an SMTP server of the
	// test's own (bundle.mail); without it mail is queued, never sent.
	mail bool
}

// withMail delivers the service's mail to a test SMTP server.
func withMail(o *options) { o.mail = true }

// defaultConfig is the service configuration tests start from: the limits
// an operator gets without setting any variable.
func defaultConfig() user.Config {
	return user.Config{RefreshTTL: 720 * time.Hour, ThrottleWindow: time.Hour, MaxFailuresPerAccount: 100, MaxFailuresPerAddress: 1000, MaxSignUpsPerAddress: 20}
}

// cheapHashing makes password hashing cheap, for tests of behaviour that does
// not depend on the hash cost (throttling counts attempts, not hashes).
func cheapHashing(o *options) {
	o.params = user.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// setup starts the user service on a fresh database (as the app role), with
// a fresh signing key, on a loopback listener, and returns a client for it.
func setup(t testing.TB, opts ...func(*options)) *bundle {
	t.Helper()
	o := options{
		cfg:     defaultConfig(),
		params:  user.NewParams(user.OWASPMemoryKiB, user.OWASPTime, user.OWASPThreads),
		proxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	}
	for _, f := range opts {
		f(&o)
	}
	var (
		db      *pgtest.DB
		cluster *pgtest.Cluster
	)
	if o.private {
		db, cluster = pgtest.NewPrivate(t)
	} else {
		db = pgtest.New(t)
	}
	app := db.UserApp
	if o.statementTimeout > 0 {
		app = openWithStatementTimeout(t, db.UserAppURL, o.statementTimeout)
	}

	keyPath := filepath.Join(t.TempDir(), "key.pem")
	if err := keyfile.WritePrivate(keyPath); err != nil {
		t.Fatal(err)
	}
	key, err := keyfile.LoadPrivate(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	signer := auth.NewSigner(key, auth.DefaultIssuer, auth.DefaultAudience, 15*time.Minute)
	ring, _ := keyringtest.New(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(t.Output(), nil))
	}

	outbox, err := mail.NewOutbox(app.Pool, schema.User().RiverSchema, ring)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := user.NewService(testkit.Context(t), log, userstore.New(app, ring, userstore.WithOutbox(outbox)), user.NewHasher(o.params, 2), signer, o.cfg)
	if err != nil {
		t.Fatal(err)
	}
	var smtp *mailtest.Server
	if o.mail {
		smtp = mailtest.New(t)
		sender, err := mail.NewSMTP(smtp.URL(), "todo <no-reply@example.com>")
		if err != nil {
			t.Fatal(err)
		}
		runner, err := jobs.Start(testkit.Context(t), log, app.Pool, jobs.Config{
			Schema: schema.User().RiverSchema, PollInterval: 100 * time.Millisecond,
			Register: mail.NewWorker(log, sender, ring, "no-reply@example.com").Register,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := runner.Stop(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	pub := signer.PublicKey()
	verifier := auth.NewVerifier(auth.StaticKeys{pub.KeyID: pub.Key}, auth.DefaultIssuer, auth.DefaultAudience, auth.WithPATs(pat.NewSource(app.Pool)))
	// Revocations as the binary learns them: LISTEN on a connection of
	// the runtime role, and polling.
	watcher, err := revocation.Start(testkit.Context(t), log, verifier, revocation.Config{Pool: app.Pool, ListenDSN: db.UserAppURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(watcher.Stop)
	srv := grpcserver.New(log, grpcserver.Config{}, grpcauth.UnaryServerInterceptor(verifier, userapi.PublicMethods()...))
	userapi.New(log, svc, []auth.PublicKey{pub}, o.proxies).Register(srv.GRPC())

	conn := grpcservertest.Serve(t, srv)
	return &bundle{db: db, cluster: cluster, cfg: o.cfg, svc: svc, client: userv1.NewUserServiceClient(conn), conn: conn, signer: signer, key: key, mail: smtp}
}

// openWithStatementTimeout opens a runtime pool on dsn with
// statement_timeout=timeout added to the DSN, and closes it when the test
// ends.
func openWithStatementTimeout(t testing.TB, dsn string, timeout time.Duration) *pgdb.DB {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("statement_timeout", timeout.String())
	u.RawQuery = q.Encode()
	db, err := pgdb.OpenRuntime(context.Background(), u.String(), schema.UserRole)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if db.StatementTimeout != timeout {
		t.Fatalf("statement_timeout from the DSN: %v, want %v", db.StatementTimeout, timeout)
	}
	return db
}

// as returns ctx carrying token as its bearer token.
func as(ctx context.Context, token string) context.Context {
	return grpcauth.WithBearer(ctx, token)
}

// signUp creates a user through the API and fails the test on error.
func (b *bundle) signUp(t testing.TB, email, username, password string) *userv1.User {
	t.Helper()
	resp, err := b.client.CreateUser(testkit.Context(t), &userv1.CreateUserRequest{Email: email, Username: username, Password: password})
	if err != nil {
		t.Fatalf("CreateUser(%s, %s): %v", email, username, err)
	}
	return resp
}

// login signs in and fails the test on error.
func (b *bundle) login(t testing.TB, login, password string) *userv1.LoginResponse {
	t.Helper()
	resp, err := b.client.Login(testkit.Context(t), &userv1.LoginRequest{Login: login, Password: password})
	if err != nil {
		t.Fatalf("Login(%s): %v", login, err)
	}
	return resp
}

// signedIn creates a user and returns it with an access token.
func (b *bundle) signedIn(t testing.TB, username string) (*userv1.User, string) {
	t.Helper()
	const pw = "correct horse battery"
	u := b.signUp(t, username+"@example.com", username, pw)
	return u, b.login(t, username, pw).GetTokens().GetAccessToken()
}

// admin creates an admin (promoted in the database) and returns it with an
// access token that carries adm.
func (b *bundle) admin(t testing.TB, username string) (*userv1.User, string) {
	t.Helper()
	const pw = "correct horse battery"
	u := b.signUp(t, username+"@example.com", username, pw)
	if _, err := b.db.Owner.Exec(testkit.Context(t), `UPDATE "user" SET is_admin = true WHERE id = $1`, u.GetId()); err != nil {
		t.Fatal(err)
	}
	return u, b.login(t, username, pw).GetTokens().GetAccessToken()
}

func wantCode(t *testing.T, err error, want codes.Code) *status.Status {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != want {
		t.Fatalf("got %v (%q), want %v", st.Code(), st.Message(), want)
	}
	return st
}
