// Package authtest makes keys and signers for tests of code that issues or
// checks access tokens.
package authtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/todo-platform/todo/pkg/auth"
)

// TTL is the lifetime of the tokens of NewSigner's signers.
const TTL = 15 * time.Minute

// NewKey returns a fresh Ed25519 private key.
func NewKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// NewSigner returns a Signer with a fresh key, auth.DefaultIssuer,
// auth.DefaultAudience and TTL.
func NewSigner(t testing.TB) *auth.Signer {
	t.Helper()
	return auth.NewSigner(NewKey(t), auth.DefaultIssuer, auth.DefaultAudience, TTL)
}

// Keys returns the StaticKeys holding the public halves of the signers' keys.
func Keys(signers ...*auth.Signer) auth.StaticKeys {
	m := auth.StaticKeys{}
	for _, s := range signers {
		pk := s.PublicKey()
		m[pk.KeyID] = pk.Key
	}
	return m
}
