package keyring_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/todo-platform/todo/pkg/keyring"
)

func TestKeyring_RotateKeepsOldKeysAndTheOpenRingFollows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring.json")
	if made, err := keyring.Create(path); err != nil || !made {
		t.Fatalf("Create: %v, %v", made, err)
	}
	if made, err := keyring.Create(path); err != nil || made {
		t.Fatalf("Create over an existing file: %v, %v; want it kept", made, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("keyring file mode: %v, %v; want 0600", fi.Mode(), err)
	}
	k, err := keyring.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ad := []byte("user.full_name/1")
	old, err := k.Encrypt([]byte("Ann"), ad)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(old, []byte("Ann")) {
		t.Fatal("the ciphertext contains the plaintext")
	}
	if _, err := k.Decrypt(old, []byte("user.full_name/2")); err == nil {
		t.Error("a ciphertext opened with another row's associated data")
	}
	oldPrefix, _ := k.PrimaryPrefix()
	if !bytes.HasPrefix(old, oldPrefix) {
		t.Errorf("ciphertext %x does not start with the primary's prefix %x", old[:5], oldPrefix)
	}

	id, err := keyring.Rotate(path)
	if err != nil {
		t.Fatal(err)
	}
	// The open ring sees the new primary without being reopened.
	newPrefix, err := k.PrimaryPrefix()
	if err != nil || !bytes.Equal(newPrefix, keyring.Prefix(id)) {
		t.Fatalf("after Rotate the primary prefix is %x (%v), want %x", newPrefix, err, keyring.Prefix(id))
	}
	fresh, err := k.Encrypt([]byte("Ann"), ad)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := keyring.KeyID(fresh); got != id {
		t.Errorf("a new ciphertext uses key %d, want the new primary %d", got, id)
	}
	for _, ct := range [][]byte{old, fresh} {
		if pt, err := k.Decrypt(ct, ad); err != nil || string(pt) != "Ann" {
			t.Errorf("Decrypt after Rotate: %q, %v", pt, err)
		}
	}
	if n, primary, err := k.Keys(); err != nil || n != 2 || primary != id {
		t.Errorf("Keys = %d, %d, %v; want 2, %d", n, primary, err, id)
	}

	if n, err := keyring.Prune(path); err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v; want 1 key removed", n, err)
	}
	if _, err := k.Decrypt(old, ad); err == nil {
		t.Error("a value of a pruned key still opens")
	}
	if pt, err := k.Decrypt(fresh, ad); err != nil || string(pt) != "Ann" {
		t.Errorf("Decrypt with the primary after Prune: %q, %v", pt, err)
	}
}
