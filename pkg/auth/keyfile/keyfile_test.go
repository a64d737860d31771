package keyfile_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/auth/keyfile"
)

func TestPrivateKeyFile_WriteThenLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token.pem")
	if err := keyfile.WritePrivate(path); err != nil {
		t.Fatalf("keyfile.WritePrivate: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("mode = %v, want 0600", got)
	}
	key, err := keyfile.LoadPrivate(path)
	if err != nil {
		t.Fatalf("keyfile.LoadPrivate: %v", err)
	}
	s := auth.NewSigner(key, auth.DefaultIssuer, auth.DefaultAudience, time.Minute)
	tok, _, err := s.Sign(auth.Principal{UserID: 3}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	v := auth.NewVerifier(auth.StaticKeys{s.KeyID(): s.PublicKey().Key}, auth.DefaultIssuer, auth.DefaultAudience)
	if p, err := v.Verify(t.Context(), tok); err != nil || p.UserID != 3 {
		t.Errorf("Verify = %+v, %v", p, err)
	}
	if err := keyfile.WritePrivate(path); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second keyfile.WritePrivate = %v, want fs.ErrExist", err)
	}
	again, err := keyfile.LoadPrivate(path)
	if err != nil || !again.Equal(key) {
		t.Errorf("key changed after the refused overwrite (%v)", err)
	}
}

func TestLoadPrivate_RFC8410Example(t *testing.T) {
	// RFC 8410 section 10.3: the PKCS #8 form openssl genpkey writes.
	const pemText = "-----BEGIN PRIVATE KEY-----\n" +
		"MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n" +
		"-----END PRIVATE KEY-----\n"
	path := filepath.Join(t.TempDir(), "rfc.pem")
	if err := os.WriteFile(path, []byte(pemText), 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := keyfile.LoadPrivate(path)
	if err != nil {
		t.Fatalf("keyfile.LoadPrivate: %v", err)
	}
	if got, want := hex.EncodeToString(key.Seed()), "d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842"; got != want {
		t.Errorf("seed = %s, want %s", got, want)
	}
}

func TestLoadPrivate_RefusesOtherKeys(t *testing.T) {
	dir := t.TempDir()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edDER, err := x509.MarshalPKCS8PrivateKey(ed)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"ecdsa.pem":     pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}),
		"wrongtype.pem": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: edDER}),
		"notpem.pem":    []byte("hello"),
		"garbage.pem":   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("nope")}),
	}
	for name, data := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := keyfile.LoadPrivate(path); err == nil {
			t.Errorf("keyfile.LoadPrivate(%s) = nil error", name)
		}
	}
	if _, err := keyfile.LoadPrivate(filepath.Join(dir, "missing.pem")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("keyfile.LoadPrivate(missing) = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadPublic_ReadsPrivateAndPublicPEM(t *testing.T) {
	dir := t.TempDir()
	privPath := filepath.Join(dir, "priv.pem")
	if err := keyfile.WritePrivate(privPath); err != nil {
		t.Fatal(err)
	}
	priv, err := keyfile.LoadPrivate(privPath)
	if err != nil {
		t.Fatal(err)
	}
	want := priv.Public().(ed25519.PublicKey)
	der, err := x509.MarshalPKIXPublicKey(want)
	if err != nil {
		t.Fatal(err)
	}
	pubPath := filepath.Join(dir, "pub.pem")
	if err := os.WriteFile(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{privPath, pubPath} {
		got, err := keyfile.LoadPublic(p)
		if err != nil || !got.Equal(want) {
			t.Errorf("LoadPublic(%s) = %x, %v; want %x", filepath.Base(p), got, err, want)
		}
	}
	other := filepath.Join(dir, "other.pem")
	if err := os.WriteFile(other, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := keyfile.LoadPublic(other); err == nil {
		t.Error("LoadPublic(CERTIFICATE) = nil error")
	}
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := keyfile.LoadPublic(notPEM); err == nil {
		t.Error("LoadPublic(no PEM block) = nil error")
	}
}

func TestKeySet_SigningKeyFirstWithoutRepeats(t *testing.T) {
	dir := t.TempDir()
	cur, old := filepath.Join(dir, "cur.pem"), filepath.Join(dir, "old.pem")
	for _, p := range []string{cur, old} {
		if err := keyfile.WritePrivate(p); err != nil {
			t.Fatal(err)
		}
	}
	key, err := keyfile.LoadPrivate(cur)
	if err != nil {
		t.Fatal(err)
	}
	signer := auth.NewSigner(key, auth.DefaultIssuer, auth.DefaultAudience, time.Minute)
	keys, err := keyfile.KeySet(signer, []string{old, " ", cur, old})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].KeyID != signer.KeyID() || keys[1].KeyID == signer.KeyID() {
		t.Fatalf("KeySet = %+v, want the signing key then the old one", keys)
	}
	if s := keyfile.Static(keys); len(s) != 2 || !s[signer.KeyID()].Equal(signer.PublicKey().Key) {
		t.Errorf("Static = %v", s)
	}
	if _, err := keyfile.KeySet(signer, []string{filepath.Join(dir, "missing.pem")}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("KeySet(missing file) = %v, want fs.ErrNotExist", err)
	}
}
