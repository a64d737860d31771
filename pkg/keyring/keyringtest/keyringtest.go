// Package keyringtest makes throwaway keyrings for tests.
package keyringtest

import (
	"path/filepath"
	"testing"

	"github.com/todo-platform/todo/pkg/keyring"
)

// New creates a keyring file with one key in a temporary directory of t's
// and returns it opened, with its path (for DATA_KEYRING_FILE).
func New(t testing.TB) (*keyring.Keyring, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keyring.json")
	if _, err := keyring.Create(path); err != nil {
		t.Fatal(err)
	}
	k, err := keyring.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return k, path
}
