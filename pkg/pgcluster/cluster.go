// Package pgcluster starts and stops throwaway PostgreSQL clusters, for the
// test harness (pkg/pgtest) and for programs such as the benchmark that need
// a server of their own. It does not import "testing".
//
// A cluster listens only on a Unix socket in its own temporary directory, not
// on TCP: PostgreSQL cannot be handed a socket its parent bound, and a TCP
// port chosen before the server binds it can be taken by another process in
// between. A socket path inside a directory the cluster owns cannot collide
// with anything, so starting a cluster never races and never retries.
//
// The exception is StartTLS: PostgreSQL speaks TLS only over TCP, so a TLS
// cluster also listens on 127.0.0.1, on a port the kernel chose a moment
// before; if another process takes it in between, postgres fails to bind
// and StartTLS tries again with another port.
package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// defaultPort is the server's port number when it has no TCP listener: it
// only names the socket file (.s.PGSQL.5432) in the cluster's directory.
const defaultPort = 5432

// maxSocketPath is the longest Unix socket path Linux accepts (sun_path is
// 108 bytes with the terminating NUL).
const maxSocketPath = 107

// Cluster is a throwaway PostgreSQL cluster: its data directory and socket
// directory live under one temporary directory that Stop removes.
type Cluster struct {
	dir      string
	bin      string
	cred     *syscall.Credential
	settings []string
	port     int  // the TCP port (StartTLS) or defaultPort
	tcp      bool // it listens on 127.0.0.1:port too
	cmd      *exec.Cmd
	exited   chan struct{} // closed when the postmaster has exited
	err      error         // the postmaster's exit status, valid after exited is closed

	stopOnce sync.Once
	stopErr  error
}

// URL returns a superuser URL to the cluster's "postgres" database. It names
// the cluster's socket directory in its host parameter
// (postgres://postgres@/postgres?host=/tmp/pgcluster-…), which libpq, pgx
// and the services' DATABASE_URL all accept.
func (c *Cluster) URL() string {
	u := url.URL{
		Scheme: "postgres",
		User:   url.User("postgres"),
		Path:   "/postgres",
		RawQuery: url.Values{
			"host":    {c.dir},
			"port":    {strconv.Itoa(c.port)},
			"sslmode": {"disable"},
		}.Encode(),
	}
	return u.String()
}

// BinDir returns the directory of the PostgreSQL server binaries: the output
// of `pg_config --bindir` when that has initdb, else the newest
// /usr/lib/postgresql/*/bin.
func BinDir() (string, error) {
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	best, bestVer := "", -1
	for _, m := range matches {
		v, err := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(m))))
		if err == nil && v > bestVer {
			best, bestVer = filepath.Dir(m), v
		}
	}
	if best == "" {
		return "", errors.New("PostgreSQL server binaries not found (no initdb via pg_config --bindir or in /usr/lib/postgresql/*/bin): install PostgreSQL, e.g. apt-get install postgresql, or run make postgres")
	}
	return best, nil
}

// Start initialises and starts a throwaway PostgreSQL cluster tuned for
// tests (no fsync, trust authentication, a Unix socket only; see URL). When
// running as root, initdb and postgres run as the postgres OS user. Extra
// server settings, each a "name=value" string, are passed to postgres as -c
// after the defaults, so that they override them (e.g. "shared_buffers=1GB"
// for a benchmark). The caller must call Stop.
func Start(ctx context.Context, settings ...string) (*Cluster, error) {
	return start(ctx, nil, settings)
}

// StartFrom starts a cluster on a data directory that fill makes, instead
// of initdb: fill is given the path of the cluster's data directory (which
// does not exist yet, inside a directory the postgres OS user owns) and
// the credential postgres will run as (nil when not running as root), and
// must create it, for example by restoring a base backup into it. The
// cluster otherwise runs as Start's does; a data directory that is
// recovering (recovery.signal) accepts connections once it is consistent.
func StartFrom(ctx context.Context, fill func(dataDir string, cred *syscall.Credential) error, settings ...string) (*Cluster, error) {
	for _, s := range settings {
		if name, _, ok := strings.Cut(s, "="); !ok || name == "" {
			return nil, fmt.Errorf("server setting %q: want name=value", s)
		}
	}
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	cred, err := postgresCredential()
	if err != nil {
		return nil, err
	}
	dir, err := clusterDir(cred)
	if err != nil {
		return nil, err
	}
	if err := fill(filepath.Join(dir, "data"), cred); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("fill data directory: %w", err)
	}
	c, err := startPostgres(ctx, &Cluster{dir: dir, bin: bin, cred: cred, settings: settings, port: defaultPort})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return c, nil
}

// postgresCredential returns the credential of the postgres OS user when
// this process runs as root (PostgreSQL refuses to), else nil.
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL must run as the postgres OS user: %w", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// clusterDir makes a cluster's temporary directory, owned by cred's user.
func clusterDir(cred *syscall.Credential) (string, error) {
	dir, err := os.MkdirTemp("", "pgcluster-")
	if err != nil {
		return "", fmt.Errorf("create cluster directory: %w", err)
	}
	// The longest port number names the longest socket.
	if sock := socketPath(dir, 65535); len(sock) > maxSocketPath {
		os.RemoveAll(dir)
		return "", fmt.Errorf("socket path %s is longer than %d bytes: set TMPDIR to a shorter directory", sock, maxSocketPath)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("create cluster directory: %w", err)
		}
	}
	return dir, nil
}

// TLS is a server certificate and key (PEM) for StartTLS.
type TLS struct {
	CertPEM, KeyPEM []byte
}

// StartTLS is Start with ssl=on: the cluster also listens on
// 127.0.0.1:Port() and serves TLS there with the given certificate and key
// (PostgreSQL offers no TLS on Unix sockets). The TCP listener trusts every
// local client as Start's socket does (pg_hba: trust), so what a test
// checks is the transport, not passwords.
func StartTLS(ctx context.Context, tls TLS, settings ...string) (*Cluster, error) {
	if len(tls.CertPEM) == 0 || len(tls.KeyPEM) == 0 {
		return nil, errors.New("pgcluster: StartTLS needs a certificate and a key")
	}
	return start(ctx, &tls, settings)
}

// Port returns the TCP port of a cluster started with StartTLS, on
// 127.0.0.1 (and the number in its socket file's name).
func (c *Cluster) Port() int { return c.port }

// PID returns the process id of the cluster's postmaster (whose children
// are the backends), for accounting such as make bench's CPU columns.
func (c *Cluster) PID() int { return c.cmd.Process.Pid }

func start(ctx context.Context, tlsFiles *TLS, settings []string) (*Cluster, error) {
	for _, s := range settings {
		if name, _, ok := strings.Cut(s, "="); !ok || name == "" {
			return nil, fmt.Errorf("server setting %q: want name=value", s)
		}
	}
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	cred, err := postgresCredential()
	if err != nil {
		return nil, err
	}
	dir, err := clusterDir(cred)
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := initdb(ctx, bin, data, cred); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if tlsFiles == nil {
		c, err := startPostgres(ctx, &Cluster{dir: dir, bin: bin, cred: cred, settings: settings, port: defaultPort})
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		return c, nil
	}
	tlsSettings, err := writeTLS(dir, cred, *tlsFiles)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	settings = append(tlsSettings, settings...)
	var errs []error
	for range 5 {
		port, err := freePort()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		c, err := startPostgres(ctx, &Cluster{dir: dir, bin: bin, cred: cred, settings: settings, port: port, tcp: true})
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if !strings.Contains(err.Error(), "could not bind") && !strings.Contains(err.Error(), "could not create any TCP/IP sockets") {
			break
		}
	}
	os.RemoveAll(dir)
	return nil, errors.Join(errs...)
}

// writeTLS writes the server certificate and key into dir, the key owned by
// the user postgres runs as with mode 0600 as postgres requires, and returns
// the settings that turn TLS on with them.
func writeTLS(dir string, cred *syscall.Credential, t TLS) ([]string, error) {
	certFile, keyFile := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	if err := os.WriteFile(certFile, t.CertPEM, 0o644); err != nil {
		return nil, fmt.Errorf("write server certificate: %w", err)
	}
	if err := os.WriteFile(keyFile, t.KeyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("write server key: %w", err)
	}
	if cred != nil {
		if err := os.Chown(keyFile, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, fmt.Errorf("write server key: %w", err)
		}
	}
	return []string{"ssl=on", "ssl_cert_file=" + certFile, "ssl_key_file=" + keyFile}, nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	port := lis.Addr().(*net.TCPAddr).Port
	if err := lis.Close(); err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	return port, nil
}

// socketPath is the path of the socket file of a cluster in dir whose
// socket is named after port.
func socketPath(dir string, port int) string {
	return filepath.Join(dir, ".s.PGSQL."+strconv.Itoa(port))
}

func initdb(ctx context.Context, bin, data string, cred *syscall.Credential) error {
	var errs []error
	// C.UTF-8 gives lower() full Unicode case mapping; plain C is the fallback
	// where that locale is missing.
	for _, locale := range []string{"C.UTF-8", "C"} {
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
			"--pgdata", data, "--username", "postgres", "--auth", "trust",
			"--encoding", "UTF8", "--locale", locale, "--no-sync", "--no-instructions")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		out, err := cmd.CombinedOutput()
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("initdb --locale %s: %w\n%s", locale, err, out))
		os.RemoveAll(data)
	}
	return errors.Join(errs...)
}

// startPostgres starts postgres for c (dir, bin, cred, settings, port and
// tcp set) and returns c once it accepts connections.
func startPostgres(ctx context.Context, c *Cluster) (*Cluster, error) {
	dir, bin, cred := c.dir, c.bin, c.cred
	logPath := filepath.Join(dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create postgres log: %w", err)
	}
	defer logFile.Close()

	c.exited = make(chan struct{})
	listenAddresses := ""
	if c.tcp {
		listenAddresses = "127.0.0.1"
	}
	args := []string{
		"-D", filepath.Join(dir, "data"),
		"-c", "port=" + strconv.Itoa(c.port),
		"-c", "listen_addresses=" + listenAddresses,
		"-c", "unix_socket_directories=" + dir,
		"-c", "max_connections=300",
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "shared_buffers=64MB",
		"-c", "max_wal_size=1GB",
		"-c", "log_min_messages=warning",
		"-c", "log_min_error_statement=panic",
	}
	for _, s := range c.settings {
		args = append(args, "-c", s)
	}
	c.cmd = exec.Command(filepath.Join(bin, "postgres"), args...)
	c.cmd.Stdout, c.cmd.Stderr = logFile, logFile
	// If this process dies without stopping the cluster, the kernel sends
	// postgres SIGQUIT (immediate shutdown). Pdeathsig fires when the thread
	// that started the child exits, so that thread stays locked to the
	// goroutine that waits for postgres.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := c.cmd.Start(); err != nil {
			started <- err
			close(c.exited)
			return
		}
		started <- nil
		c.err = c.cmd.Wait()
		close(c.exited)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}

	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-c.exited:
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("postgres in %s exited during start (%v):\n%s", dir, c.err, log)
		default:
		}
		if err := ping(ctx, c.URL()); err == nil {
			return c, nil
		} else if time.Now().After(deadline) || ctx.Err() != nil {
			c.kill()
			return nil, fmt.Errorf("postgres in %s did not accept connections: %w", dir, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ping(ctx context.Context, dsn string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// kill stops postgres with an immediate shutdown and waits for it.
func (c *Cluster) kill() {
	_ = c.cmd.Process.Signal(syscall.SIGQUIT)
	<-c.exited
}

// Restart shuts the server down (fast shutdown: sessions are ended, clients
// see PostgreSQL go away), calls whileDown, and starts it again on the same
// data and socket, for tests of what a client does while the database is
// gone and after it returns. It must not be called after or during Stop.
func (c *Cluster) Restart(ctx context.Context, whileDown func()) error {
	if err := c.cmd.Process.Signal(syscall.SIGINT); err != nil {
		return fmt.Errorf("restart postgres: %w", err)
	}
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		c.kill()
	}
	whileDown()
	n, err := startPostgres(ctx, &Cluster{dir: c.dir, bin: c.bin, cred: c.cred, settings: c.settings, port: c.port, tcp: c.tcp})
	if err != nil {
		return fmt.Errorf("restart postgres: %w", err)
	}
	c.cmd, c.exited = n.cmd, n.exited
	return nil
}

// Stop shuts the cluster down (fast shutdown: sessions are ended) and removes
// its directory. Calls after the first do nothing.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() { c.stopErr = c.stop() })
	return c.stopErr
}

func (c *Cluster) stop() error {
	var err error
	if sigErr := c.cmd.Process.Signal(syscall.SIGINT); sigErr == nil {
		select {
		case <-c.exited:
		case <-time.After(30 * time.Second):
			err = errors.New("postgres did not stop within 30s; killed it")
			c.kill()
		}
	}
	if rmErr := os.RemoveAll(c.dir); rmErr != nil {
		err = errors.Join(err, fmt.Errorf("remove cluster directory: %w", rmErr))
	}
	return err
}
