// Package keyfile reads and writes the user service's token keys as PEM
// files: the Ed25519 signing key (PKCS #8) and the older keys whose public
// halves stay published during a rotation.
package keyfile

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strings"

	"github.com/todo-platform/todo/pkg/auth"
)

// pemType is the PEM block type of a PKCS #8 private key.
const pemType = "PRIVATE KEY"

// LoadPrivate reads an Ed25519 private key from a PKCS #8 PEM file, as
// written by "openssl genpkey -algorithm ed25519" or WritePrivate.
func LoadPrivate(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keyfile: read private key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("keyfile: private key file %s: no PEM block", path)
	}
	if block.Type != pemType {
		return nil, fmt.Errorf("keyfile: private key file %s: PEM type %q, want %q (PKCS #8)", path, block.Type, pemType)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("keyfile: private key file %s: %w", path, err)
	}
	ed, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("keyfile: private key file %s: key is %T, want an Ed25519 key", path, key)
	}
	return ed, nil
}

// WritePrivate generates a new Ed25519 private key and writes it to
// path as PKCS #8 PEM with mode 0600. It refuses to overwrite an existing file
// (the error wraps fs.ErrExist).
func WritePrivate(path string) error {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("keyfile: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("keyfile: marshal key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("keyfile: create private key file: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: pemType, Bytes: der}); err != nil {
		_ = f.Close()
		return fmt.Errorf("keyfile: write private key file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("keyfile: write private key file %s: %w", path, err)
	}
	return nil
}

// LoadPublic reads the Ed25519 public key of a PEM file holding a PKCS #8
// private key or a PKIX public key.
func LoadPublic(path string) (ed25519.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keyfile: read key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("keyfile: key file %s: no PEM block", path)
	}
	switch block.Type {
	case pemType:
		priv, err := LoadPrivate(path)
		if err != nil {
			return nil, err
		}
		pub, _ := priv.Public().(ed25519.PublicKey)
		return pub, nil
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("keyfile: key file %s: %w", path, err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("keyfile: key file %s: key is %T, want an Ed25519 key", path, k)
		}
		return pub, nil
	default:
		return nil, fmt.Errorf("keyfile: key file %s: PEM type %q, want PRIVATE KEY or PUBLIC KEY", path, block.Type)
	}
}

// KeySet returns the verification keys to publish and accept: the public
// half of signer's key first, then those of olderFiles (private or public
// PEM files, see LoadPublic) in order, without repeats. Blank names are
// skipped.
func KeySet(signer *auth.Signer, olderFiles []string) ([]auth.PublicKey, error) {
	keys := []auth.PublicKey{signer.PublicKey()}
	seen := map[string]bool{signer.KeyID(): true}
	for _, f := range olderFiles {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		pub, err := LoadPublic(f)
		if err != nil {
			return nil, err
		}
		k := auth.PublicKey{KeyID: auth.Thumbprint(pub), Key: pub}
		if !seen[k.KeyID] {
			seen[k.KeyID] = true
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// Static returns keys as an auth.StaticKeys.
func Static(keys []auth.PublicKey) auth.StaticKeys {
	s := make(auth.StaticKeys, len(keys))
	for _, k := range keys {
		s[k.KeyID] = k.Key
	}
	return s
}
