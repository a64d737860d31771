// Package tlsconfig builds the TLS configurations of the platform's servers
// (gRPC services, the gateway) and of their clients from PEM files, with
// certificates reloaded when their files change: a server or client picks
// up a renewed certificate on its next handshake, without a restart.
//
// A certificate and key pair is re-read when the file of either changes
// (its size, modification time or inode, so both an overwrite and the
// symlink swap Kubernetes does for secrets count); a pair that fails to load
// leaves the last good one in use and the error is returned only when there
// is none. CA files are read once, at start.
package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"
)

// Server describes a server's TLS: its certificate and, for mutual TLS, the
// CA its clients' certificates must chain to.
type Server struct {
	// CertFile and KeyFile are the PEM certificate (chain) and private key.
	CertFile, KeyFile string
	// ClientCAFile, when set, turns on mutual TLS: a client must present a
	// certificate signed by this CA (PEM, one or more certificates).
	ClientCAFile string
	// ClientNames, when set with ClientCAFile, are the identities a client
	// certificate may have: one of its DNS names or its common name must be
	// among them.
	ClientNames []string
}

// ServerConfig returns the tls.Config for s, TLS 1.2 at least. The
// certificate is loaded now (an error if it cannot be) and reloaded when its
// files change.
func ServerConfig(s Server) (*tls.Config, error) {
	if s.CertFile == "" || s.KeyFile == "" {
		return nil, errors.New("tlsconfig: a server needs both a certificate file and a key file")
	}
	pair, err := newReloader(s.CertFile, s.KeyFile)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return pair.get()
		},
	}
	if len(s.ClientNames) > 0 && s.ClientCAFile == "" {
		return nil, errors.New("tlsconfig: client names are checked only with a client CA (mutual TLS)")
	}
	if s.ClientCAFile != "" {
		pool, err := loadPool(s.ClientCAFile)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		if names := s.ClientNames; len(names) > 0 {
			cfg.VerifyConnection = func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 {
					return errors.New("tlsconfig: no client certificate")
				}
				return checkName(cs.PeerCertificates[0], names)
			}
		}
	}
	return cfg, nil
}

// checkName returns nil when one of cert's DNS names, or its common name, is
// in names.
func checkName(cert *x509.Certificate, names []string) error {
	if slices.Contains(names, cert.Subject.CommonName) {
		return nil
	}
	for _, n := range cert.DNSNames {
		if slices.Contains(names, n) {
			return nil
		}
	}
	return fmt.Errorf("tlsconfig: client certificate %q (DNS names %v) is not one of the allowed clients %v", cert.Subject.CommonName, cert.DNSNames, names)
}

// Client describes a client's TLS: the CA it verifies servers with and,
// for mutual TLS, its own certificate.
type Client struct {
	// CAFile is the PEM CA (one or more certificates) the server's
	// certificate must chain to; empty means the system roots.
	CAFile string
	// CertFile and KeyFile, both or neither, are the client certificate
	// presented to servers that ask for one.
	CertFile, KeyFile string
}

// ClientConfig returns the tls.Config for c, TLS 1.2 at least. The server's
// name is checked against the address dialled (grpc-go and net/http set
// ServerName from it).
func ClientConfig(c Client) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pool, err := loadPool(c.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, errors.New("tlsconfig: a client certificate needs both a certificate file and a key file")
	}
	if c.CertFile != "" {
		pair, err := newReloader(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, err
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return pair.get()
		}
	}
	return cfg, nil
}

func loadPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tlsconfig: read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tlsconfig: CA file %s holds no PEM certificate", file)
	}
	return pool, nil
}

// fileID is what tells a changed file from the one loaded.
type fileID struct {
	size  int64
	mtime time.Time
	ino   uint64
}

func statFile(name string) (fileID, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return fileID{}, err
	}
	id := fileID{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.ino = st.Ino
	}
	return id, nil
}

// reloader holds a certificate and key pair, re-read when its files change.
type reloader struct {
	certFile, keyFile string

	mu     sync.Mutex
	cert   *tls.Certificate
	certID fileID
	keyID  fileID
}

func newReloader(certFile, keyFile string) (*reloader, error) {
	r := &reloader{certFile: certFile, keyFile: keyFile}
	if _, err := r.get(); err != nil {
		return nil, err
	}
	return r, nil
}

// get returns the pair, reloading it first if either file changed.
func (r *reloader) get() (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	certID, err1 := statFile(r.certFile)
	keyID, err2 := statFile(r.keyFile)
	if err := errors.Join(err1, err2); err != nil {
		return r.lastGood(fmt.Errorf("tlsconfig: %w", err))
	}
	if r.cert != nil && certID == r.certID && keyID == r.keyID {
		return r.cert, nil
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		// A half-written renewal: keep serving the old pair, and try
		// again on the next handshake.
		return r.lastGood(fmt.Errorf("tlsconfig: load %s and %s: %w", r.certFile, r.keyFile, err))
	}
	r.cert, r.certID, r.keyID = &cert, certID, keyID
	return r.cert, nil
}

func (r *reloader) lastGood(err error) (*tls.Certificate, error) {
	if r.cert != nil {
		return r.cert, nil
	}
	return nil, err
}
