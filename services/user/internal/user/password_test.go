package user

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// cheap are fast parameters for tests of the PHC format and comparison logic.
func cheap() Params { return Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32} }

func TestHasher_HashIsPHCAndVerifies(t *testing.T) {
	owasp := NewParams(OWASPMemoryKiB, OWASPTime, OWASPThreads)
	h := NewHasher(owasp, 1)
	hash, err := h.Hash(context.Background(), "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q does not start with the OWASP parameters", hash)
	}
	p, salt, key, err := DecodePHC(hash)
	if err != nil {
		t.Fatal(err)
	}
	if p != owasp || len(salt) != 16 || len(key) != 32 {
		t.Errorf("decoded %+v salt %d key %d", p, len(salt), len(key))
	}
	for _, tc := range []struct {
		password string
		want     bool
	}{{"correct horse battery", true}, {"correct horse batterz", false}, {"", false}} {
		match, rehash, err := h.Verify(context.Background(), tc.password, hash)
		if err != nil || match != tc.want || rehash {
			t.Errorf("Verify(%q) = %t, %t, %v; want %t, false, nil", tc.password, match, rehash, err, tc.want)
		}
	}
	other, _ := h.Hash(context.Background(), "correct horse battery")
	if other == hash {
		t.Error("two hashes of one password are equal: salt not random")
	}
}

func TestHasher_WeakerStoredParametersAskForRehash(t *testing.T) {
	weak := cheap()
	hash, err := NewHasher(weak, 1).Hash(context.Background(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	strong := weak
	strong.Time = 2
	match, rehash, err := NewHasher(strong, 1).Verify(context.Background(), "pw", hash)
	if err != nil || !match || !rehash {
		t.Errorf("Verify with stronger current parameters = %t, %t, %v; want match and rehash", match, rehash, err)
	}
	match, rehash, err = NewHasher(weak, 1).Verify(context.Background(), "pw", hash)
	if err != nil || !match || rehash {
		t.Errorf("Verify with equal parameters = %t, %t, %v; want match, no rehash", match, rehash, err)
	}
}

func TestDecodePHC_RefusesOtherFormatsAndAbsurdParameters(t *testing.T) {
	for _, s := range []string{
		"",
		"plain",
		"$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U",
		"$argon2id$v=16$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U",
		"$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U",
		"$argon2id$v=19$m=19456,t=0,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U",
		"$argon2id$v=19$m=19456,t=2,p=1$!!$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U",
		"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5",
	} {
		if _, _, _, err := DecodePHC(s); err == nil {
			t.Errorf("DecodePHC(%q) accepted it", s)
		}
	}
}

func TestHasher_WaitingForASlotHonoursTheDeadline(t *testing.T) {
	h := NewHasher(cheap(), 1)
	if err := h.acquire(context.Background()); err != nil { // the only slot is busy
		t.Fatal(err)
	}
	defer h.release()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := h.Hash(ctx, "correct horse battery")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Hash with all slots busy past the deadline: %v, want DeadlineExceeded", err)
	}
	_, _, err = h.Verify(ctx, "x", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Verify: %v, want DeadlineExceeded", err)
	}
}

func TestValidatePassword_CountsCharactersNotBytes(t *testing.T) {
	for _, tc := range []struct {
		pw string
		ok bool
	}{
		{strings.Repeat("a", 11), false},
		{strings.Repeat("a", 12), true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{strings.Repeat("é", 12), true}, // 24 bytes
		{strings.Repeat("😀", 32), true}, // 128 bytes
		{strings.Repeat("😀", 129), false},
		{"abcdefghijk\xff", false},
	} {
		err := ValidatePassword(tc.pw)
		if (err == nil) != tc.ok {
			t.Errorf("ValidatePassword(%d runes) = %v, want ok=%t", len([]rune(tc.pw)), err, tc.ok)
		}
		var pe *PasswordError
		if err != nil && (!errors.As(err, &pe) || pe.Reason == "" || !errors.Is(err, ErrInvalidPassword)) {
			t.Errorf("error %v is not a *PasswordError with a reason", err)
		}
	}
}
