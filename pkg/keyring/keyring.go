// Package keyring holds the data-encryption keys of the columns the services
// encrypt themselves: a Tink keyset of AES-256-GCM keys (Google's Tink,
// github.com/tink-crypto/tink-go) in a JSON file. Tink writes every
// ciphertext as a small envelope: a version byte (0x01), the 4-byte id of
// the key that sealed it, a 12-byte random nonce, then the ciphertext and
// its 16-byte tag; decryption picks the key by that id, so old keys keep
// opening what they sealed while a newer key (the primary) seals what is
// written now.
//
// A Keyring re-reads its file when it changes (size, modification time or
// inode), so `user-service keys rotate` run next to a serving process takes
// effect on that process's next encryption without a restart.
//
// The file is a cleartext keyset: whoever reads it can decrypt. Keep it
// out of the database's backups and readable only by the service (mode
// 0600; a Kubernetes secret). A KMS-wrapped keyset, or a KMS AEAD in place
// of the Keyring, fits the same interface (Encrypt, Decrypt, PrimaryPrefix).
package keyring

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// tinkPrefix is the first byte of a ciphertext with Tink's output prefix:
// the key id follows.
const tinkPrefix = 0x01

// Keyring encrypts and decrypts with the keyset in a file.
type Keyring struct {
	path string

	mu      sync.Mutex
	id      fileID
	aead    tink.AEAD
	primary uint32
	keys    int
}

// Create writes a new keyset with one AES-256-GCM key to path (mode 0600)
// unless the file exists; it reports whether it wrote one.
func Create(path string) (bool, error) {
	if _, err := os.Stat(path); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("keyring: %w", err)
	}
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		return false, fmt.Errorf("keyring: new key: %w", err)
	}
	if err := write(path, h); err != nil {
		return false, err
	}
	return true, nil
}

// Open loads the keyset at path.
func Open(path string) (*Keyring, error) {
	k := &Keyring{path: path}
	if err := k.reload(); err != nil {
		return nil, err
	}
	return k, nil
}

// Rotate adds a new AES-256-GCM key to the keyset at path and makes it the
// primary: what is encrypted from now on uses it, while the older keys stay
// for decryption. It returns the new key's id.
func Rotate(path string) (uint32, error) {
	h, err := read(path)
	if err != nil {
		return 0, err
	}
	m := keyset.NewManagerFromHandle(h)
	id, err := m.Add(aead.AES256GCMKeyTemplate())
	if err != nil {
		return 0, fmt.Errorf("keyring: add key: %w", err)
	}
	if err := m.SetPrimary(id); err != nil {
		return 0, fmt.Errorf("keyring: set primary: %w", err)
	}
	nh, err := m.Handle()
	if err != nil {
		return 0, fmt.Errorf("keyring: %w", err)
	}
	if err := write(path, nh); err != nil {
		return 0, err
	}
	return id, nil
}

// Prune removes every key but the primary from the keyset at path and
// returns how many it removed. Call it only when nothing is sealed with
// another key any more (`user-service keys reencrypt` reports 0 left):
// what they sealed could no longer be read.
func Prune(path string) (int, error) {
	h, err := read(path)
	if err != nil {
		return 0, err
	}
	primary := h.KeysetInfo().GetPrimaryKeyId()
	m := keyset.NewManagerFromHandle(h)
	n := 0
	for _, info := range h.KeysetInfo().GetKeyInfo() {
		if id := info.GetKeyId(); id != primary {
			if err := m.Delete(id); err != nil {
				return 0, fmt.Errorf("keyring: delete key %d: %w", id, err)
			}
			n++
		}
	}
	nh, err := m.Handle()
	if err != nil {
		return 0, fmt.Errorf("keyring: %w", err)
	}
	if err := write(path, nh); err != nil {
		return 0, err
	}
	return n, nil
}

// Encrypt seals plaintext, bound to associatedData, with the primary key.
func (k *Keyring) Encrypt(plaintext, associatedData []byte) ([]byte, error) {
	a, _, err := k.current()
	if err != nil {
		return nil, err
	}
	ct, err := a.Encrypt(plaintext, associatedData)
	if err != nil {
		return nil, fmt.Errorf("keyring: encrypt: %w", err)
	}
	return ct, nil
}

// Decrypt opens a ciphertext of Encrypt made with any key of the keyset;
// it fails when associatedData is not what the value was sealed with (a
// value moved to another row), or the value was changed.
func (k *Keyring) Decrypt(ciphertext, associatedData []byte) ([]byte, error) {
	a, _, err := k.current()
	if err != nil {
		return nil, err
	}
	pt, err := a.Decrypt(ciphertext, associatedData)
	if err != nil {
		return nil, fmt.Errorf("keyring: decrypt: %w", err)
	}
	return pt, nil
}

// PrimaryPrefix returns the bytes every ciphertext Encrypt makes now starts
// with (the version byte and the primary key's id), so a store can find the
// values sealed with another key.
func (k *Keyring) PrimaryPrefix() ([]byte, error) {
	_, primary, err := k.current()
	if err != nil {
		return nil, err
	}
	return Prefix(primary), nil
}

// Prefix returns the envelope prefix of ciphertexts sealed with key id.
func Prefix(id uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{tinkPrefix}, id)
}

// KeyID returns the id of the key that sealed ciphertext.
func KeyID(ciphertext []byte) (uint32, error) {
	if len(ciphertext) < 5 || ciphertext[0] != tinkPrefix {
		return 0, errors.New("keyring: not a ciphertext of this keyring")
	}
	return binary.BigEndian.Uint32(ciphertext[1:5]), nil
}

// Keys returns the number of keys in the keyring and the primary's id.
func (k *Keyring) Keys() (n int, primary uint32, err error) {
	if _, _, err := k.current(); err != nil {
		return 0, 0, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys, k.primary, nil
}

// current returns the AEAD and primary key id, re-reading the file first
// if it changed. A file that fails to load leaves the last good keyset in
// use.
func (k *Keyring) current() (tink.AEAD, uint32, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if id, err := stat(k.path); err == nil && id != k.id {
		if err := k.reloadLocked(); err != nil && k.aead == nil {
			return nil, 0, err
		}
	}
	if k.aead == nil {
		return nil, 0, fmt.Errorf("keyring: %s not loaded", k.path)
	}
	return k.aead, k.primary, nil
}

func (k *Keyring) reload() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.reloadLocked()
}

func (k *Keyring) reloadLocked() error {
	id, err := stat(k.path)
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	h, err := read(k.path)
	if err != nil {
		return err
	}
	a, err := aead.New(h)
	if err != nil {
		return fmt.Errorf("keyring: %s: %w", k.path, err)
	}
	k.aead, k.id = a, id
	k.primary = h.KeysetInfo().GetPrimaryKeyId()
	k.keys = len(h.KeysetInfo().GetKeyInfo())
	return nil
}

func read(path string) (*keyset.Handle, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	h, err := insecurecleartextkeyset.Read(keyset.NewJSONReader(bytes.NewReader(b)))
	if err != nil {
		return nil, fmt.Errorf("keyring: %s is not a Tink JSON keyset: %w", path, err)
	}
	return h, nil
}

// write writes h to path atomically (a temporary file renamed over it),
// mode 0600.
func write(path string, h *keyset.Handle) error {
	var buf bytes.Buffer
	if err := insecurecleartextkeyset.Write(h, keyset.NewJSONWriter(&buf)); err != nil {
		return fmt.Errorf("keyring: encode keyset: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".keyring-*")
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("keyring: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	return nil
}

type fileID struct {
	size  int64
	mtime time.Time
	ino   uint64
}

func stat(path string) (fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	id := fileID{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.ino = st.Ino
	}
	return id, nil
}
