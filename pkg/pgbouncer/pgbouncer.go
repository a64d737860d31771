// Package pgbouncer starts and stops a throwaway PgBouncer in front of a
// PostgreSQL server, for tests that must see what a service does behind a
// pooler such as Neon's (PgBouncer in transaction mode). It does not import
// "testing"; pkg/pgtest wraps it for tests.
//
// Like pkg/pgcluster, a bouncer listens only on a Unix socket in its own
// temporary directory, never on TCP, so starting one never races another
// process for a port and never retries. When this process runs as root,
// pgbouncer (which refuses to run as root) runs as the postgres OS user.
//
// The PgBouncer of Debian 12 is 1.18: it has no protocol-level prepared
// statements (max_prepared_statements, 1.21+), so a pgx client must use a
// query exec mode that prepares nothing that outlives a transaction
// (default_query_exec_mode=exec; see ExecMode).
package pgbouncer

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
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ExecMode is the pgx default_query_exec_mode for a pooler without
// protocol-level prepared statements: every query is one round trip of
// Parse/Bind/Execute on the unnamed statement, so nothing prepared outlives
// the transaction that the pooler gave the server connection for.
const ExecMode = "exec"

// socketPort names the bouncer's socket file (.s.PGSQL.6432) in its
// directory; there is no TCP listener.
const socketPort = 6432

// Config is what Start runs PgBouncer with.
type Config struct {
	// Host and Port are the PostgreSQL server's: a socket directory (as
	// pgcluster.Cluster's URL names it) or a host name, and its port.
	Host string
	Port int
	// Users are the login roles clients may connect as, with their
	// passwords (PgBouncer's auth_file; clients authenticate with
	// SCRAM-SHA-256, and PgBouncer logs in to the server with the same
	// password).
	Users map[string]string
	// PoolMode is transaction (the default, as Neon's pooler), session or
	// statement.
	PoolMode string
	// PoolSize is the number of server connections per database and user
	// (default_pool_size); 0 means 20.
	PoolSize int
}

// Bouncer is a running PgBouncer whose socket, configuration and log live in
// one temporary directory that Stop removes.
type Bouncer struct {
	dir    string
	cmd    *exec.Cmd
	exited chan struct{} // closed when pgbouncer has exited
	err    error         // its exit status, valid once exited is closed

	stopOnce sync.Once
	stopErr  error
}

// Binary returns the path of the pgbouncer executable: the one on PATH, else
// Debian's /usr/sbin/pgbouncer.
func Binary() (string, error) {
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/pgbouncer"); err == nil {
		return "/usr/sbin/pgbouncer", nil
	}
	return "", errors.New("pgbouncer not found (not on PATH nor /usr/sbin/pgbouncer): install it, e.g. apt-get install pgbouncer, or run make pgbouncer")
}

// Start writes a configuration for cfg, starts pgbouncer and returns once
// its socket accepts connections. The caller must call Stop.
func Start(ctx context.Context, cfg Config) (*Bouncer, error) {
	if cfg.Host == "" || cfg.Port == 0 {
		return nil, errors.New("pgbouncer: Config needs the server's Host and Port")
	}
	if cfg.PoolMode == "" {
		cfg.PoolMode = "transaction"
	}
	if cfg.PoolSize == 0 {
		cfg.PoolSize = 20
	}
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root, pgbouncer must run as the postgres OS user: %w", err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	dir, err := os.MkdirTemp("", "pgbouncer-")
	if err != nil {
		return nil, fmt.Errorf("create pgbouncer directory: %w", err)
	}
	b := &Bouncer{dir: dir}
	if err := b.writeFiles(cfg, cred); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := b.start(ctx, bin, cred); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return b, nil
}

// writeFiles writes pgbouncer.ini and userlist.txt into b.dir, readable by
// the user pgbouncer runs as and by no one else.
func (b *Bouncer) writeFiles(cfg Config, cred *syscall.Credential) error {
	users := make([]string, 0, len(cfg.Users))
	for u := range cfg.Users {
		users = append(users, u)
	}
	sort.Strings(users)
	var list strings.Builder
	for _, u := range users {
		fmt.Fprintf(&list, "%s %s\n", quote(u), quote(cfg.Users[u]))
	}
	// The wildcard database forwards every database name to the same
	// server, so one bouncer serves every test database of a cluster.
	ini := fmt.Sprintf(`[databases]
* = host=%s port=%d

[pgbouncer]
listen_addr =
listen_port = %d
unix_socket_dir = %s
auth_type = scram-sha-256
auth_file = %s
pool_mode = %s
default_pool_size = %d
max_client_conn = 500
server_lifetime = 3600
log_connections = 0
log_disconnections = 0
`, cfg.Host, cfg.Port, socketPort, b.dir, filepath.Join(b.dir, "userlist.txt"), cfg.PoolMode, cfg.PoolSize)
	for name, body := range map[string]string{"pgbouncer.ini": ini, "userlist.txt": list.String()} {
		p := filepath.Join(b.dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		if cred != nil {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				return fmt.Errorf("write %s: %w", name, err)
			}
		}
	}
	if cred != nil {
		if err := os.Chown(b.dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("create pgbouncer directory: %w", err)
		}
	}
	return nil
}

// quote writes s as a double-quoted auth_file field.
func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func (b *Bouncer) start(ctx context.Context, bin string, cred *syscall.Credential) error {
	out, err := os.OpenFile(filepath.Join(b.dir, "pgbouncer.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create pgbouncer output: %w", err)
	}
	defer out.Close()
	b.exited = make(chan struct{})
	b.cmd = exec.Command(bin, filepath.Join(b.dir, "pgbouncer.ini"))
	b.cmd.Stdout, b.cmd.Stderr = out, out
	// As pgcluster does for postgres: if this process dies without Stop,
	// the kernel ends pgbouncer (Pdeathsig fires when the starting thread
	// exits, so that thread stays locked to the goroutine that waits).
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGTERM}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := b.cmd.Start(); err != nil {
			started <- err
			close(b.exited)
			return
		}
		started <- nil
		b.err = b.cmd.Wait()
		close(b.exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start pgbouncer: %w", err)
	}
	sock := filepath.Join(b.dir, ".s.PGSQL."+strconv.Itoa(socketPort))
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-b.exited:
			return fmt.Errorf("pgbouncer in %s exited during start (%v):\n%s", b.dir, b.err, b.Log())
		default:
		}
		c, err := net.DialTimeout("unix", sock, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			b.kill()
			return fmt.Errorf("pgbouncer in %s did not accept connections: %w\n%s", b.dir, err, b.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Host returns the directory of the bouncer's socket, for a DSN's host.
func (b *Bouncer) Host() string { return b.dir }

// Port returns the port number that names the bouncer's socket file.
func (b *Bouncer) Port() int { return socketPort }

// Log returns what pgbouncer has logged so far.
func (b *Bouncer) Log() string {
	data, _ := os.ReadFile(filepath.Join(b.dir, "pgbouncer.log"))
	return string(data)
}

// Pooled returns dsn (a postgres:// URL) connecting through the bouncer
// instead of the server, with default_query_exec_mode=exec (ExecMode) unless
// dsn sets an exec mode of its own.
func (b *Bouncer) Pooled(dsn string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("pgbouncer: %q is not a postgres:// URL", dsn)
	}
	q := u.Query()
	q.Set("host", b.dir)
	q.Set("port", strconv.Itoa(socketPort))
	if q.Get("default_query_exec_mode") == "" {
		q.Set("default_query_exec_mode", ExecMode)
	}
	u.Host = ""
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// kill ends pgbouncer at once and waits for it.
func (b *Bouncer) kill() {
	_ = b.cmd.Process.Signal(syscall.SIGKILL)
	<-b.exited
}

// Stop shuts pgbouncer down (SIGTERM: immediate shutdown, clients are
// disconnected) and removes its directory. Calls after the first do nothing.
func (b *Bouncer) Stop() error {
	b.stopOnce.Do(func() {
		if err := b.cmd.Process.Signal(syscall.SIGTERM); err == nil {
			select {
			case <-b.exited:
			case <-time.After(30 * time.Second):
				b.stopErr = errors.New("pgbouncer did not stop within 30s; killed it")
				b.kill()
			}
		}
		if err := os.RemoveAll(b.dir); err != nil {
			b.stopErr = errors.Join(b.stopErr, fmt.Errorf("remove pgbouncer directory: %w", err))
		}
	})
	return b.stopErr
}
