package tlsconfig_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/todo-platform/todo/pkg/certgen"
	"github.com/todo-platform/todo/pkg/tlsconfig"
)

// serve accepts connections on a loopback listener with cfg; each gets
// "ok" once its handshake succeeds. It returns the address.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	lis, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if err := c.(*tls.Conn).Handshake(); err == nil {
					_, _ = c.Write([]byte("ok"))
				}
			}()
		}
	}()
	return lis.Addr().String()
}

// call connects to addr as cfg and returns the server's leaf certificate,
// or the error of the handshake or of reading the server's "ok".
func call(addr string, cfg *tls.Config) (*x509.Certificate, error) {
	cfg = cfg.Clone()
	cfg.ServerName = "localhost"
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	buf := make([]byte, 2)
	if _, err := io.ReadFull(c, buf); err != nil {
		return nil, err
	}
	return c.ConnectionState().PeerCertificates[0], nil
}

type files struct {
	dir                       string
	ca                        *certgen.CA
	caFile, certFile, keyFile string
}

func newFiles(t *testing.T) files {
	t.Helper()
	f := files{dir: t.TempDir()}
	var err error
	if f.ca, err = certgen.NewCA("test CA"); err != nil {
		t.Fatal(err)
	}
	if f.caFile, err = f.ca.WriteCA(f.dir, "ca"); err != nil {
		t.Fatal(err)
	}
	f.certFile, f.keyFile = f.replace(t, f.ca)
	return f
}

// replace writes a new server certificate from ca over the pair's files
// (written aside, then renamed, as a renewal does).
func (f files) replace(t *testing.T, ca *certgen.CA) (string, string) {
	t.Helper()
	p, err := ca.Server("localhost")
	if err != nil {
		t.Fatal(err)
	}
	tmpCert, tmpKey, err := p.Write(t.TempDir(), "new")
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(f.dir, "server.crt"), filepath.Join(f.dir, "server.key")
	if err := os.Rename(tmpKey, keyFile); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmpCert, certFile); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func serial(t *testing.T, certFile string) string {
	t.Helper()
	b, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber.String()
}

func TestServer_ReloadsTheCertificateWhenItsFilesChange(t *testing.T) {
	f := newFiles(t)
	srv, err := tlsconfig.ServerConfig(tlsconfig.Server{CertFile: f.certFile, KeyFile: f.keyFile})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, srv)
	cli, err := tlsconfig.ClientConfig(tlsconfig.Client{CAFile: f.caFile})
	if err != nil {
		t.Fatal(err)
	}
	first := serial(t, f.certFile)
	leaf, err := call(addr, cli)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if got := leaf.SerialNumber.String(); got != first {
		t.Fatalf("server certificate serial %s, want %s", got, first)
	}

	f.replace(t, f.ca)
	second := serial(t, f.certFile)
	leaf, err = call(addr, cli)
	if err != nil {
		t.Fatalf("handshake after the renewal: %v", err)
	}
	if got := leaf.SerialNumber.String(); got != second || got == first {
		t.Errorf("after the renewal the server presents serial %s, want the new %s", got, second)
	}

	// A broken renewal leaves the last good certificate in use.
	if err := os.WriteFile(f.certFile, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	leaf, err = call(addr, cli)
	if err != nil || leaf.SerialNumber.String() != second {
		t.Errorf("after a broken renewal: %v, %v; want the last good certificate", leaf, err)
	}
}

func TestClient_VerifiesTheServerWithTheCA(t *testing.T) {
	f := newFiles(t)
	srv, err := tlsconfig.ServerConfig(tlsconfig.Server{CertFile: f.certFile, KeyFile: f.keyFile})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, srv)
	other, err := certgen.NewCA("other CA")
	if err != nil {
		t.Fatal(err)
	}
	otherFile, err := other.WriteCA(t.TempDir(), "other")
	if err != nil {
		t.Fatal(err)
	}
	cli, err := tlsconfig.ClientConfig(tlsconfig.Client{CAFile: otherFile})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := call(addr, cli); err == nil {
		t.Error("a client trusting another CA accepted the server")
	}
}

func TestServer_MutualTLS(t *testing.T) {
	f := newFiles(t)
	dir := t.TempDir()
	client := func(ca *certgen.CA, name string) tlsconfig.Client {
		p, err := ca.Client(name)
		if err != nil {
			t.Fatal(err)
		}
		cert, key, err := p.Write(dir, name+"-"+ca.Cert.Subject.CommonName)
		if err != nil {
			t.Fatal(err)
		}
		return tlsconfig.Client{CAFile: f.caFile, CertFile: cert, KeyFile: key}
	}
	other, err := certgen.NewCA("other CA")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := tlsconfig.ServerConfig(tlsconfig.Server{CertFile: f.certFile, KeyFile: f.keyFile, ClientCAFile: f.caFile, ClientNames: []string{"gateway"}})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, srv)
	tests := []struct {
		name string
		c    tlsconfig.Client
		ok   bool
	}{
		{"allowed client", client(f.ca, "gateway"), true},
		{"no certificate", tlsconfig.Client{CAFile: f.caFile}, false},
		{"certificate from another CA", client(other, "gateway"), false},
		{"a name not allowed", client(f.ca, "intruder"), false},
	}
	for _, tt := range tests {
		cfg, err := tlsconfig.ClientConfig(tt.c)
		if err != nil {
			t.Fatal(err)
		}
		_, err = call(addr, cfg)
		if got := err == nil; got != tt.ok {
			t.Errorf("%s: err = %v, want accepted %v", tt.name, err, tt.ok)
		}
	}
}

func TestConfig_RefusesIncompleteFiles(t *testing.T) {
	f := newFiles(t)
	if _, err := tlsconfig.ServerConfig(tlsconfig.Server{CertFile: f.certFile}); err == nil {
		t.Error("a server without a key file")
	}
	if _, err := tlsconfig.ServerConfig(tlsconfig.Server{CertFile: f.certFile, KeyFile: f.keyFile, ClientNames: []string{"x"}}); err == nil {
		t.Error("client names without a client CA")
	}
	if _, err := tlsconfig.ClientConfig(tlsconfig.Client{CAFile: f.caFile, CertFile: f.certFile}); err == nil {
		t.Error("a client certificate without its key")
	}
	if _, err := tlsconfig.ClientConfig(tlsconfig.Client{CAFile: f.certFile + ".missing"}); err == nil {
		t.Error("a missing CA file")
	}
}
