package pagetoken_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/todo-platform/todo/pkg/pagetoken"
)

// FuzzDecode: Decode never panics, refuses with ErrInvalid, and accepts
// only the token Encode would issue for the same position (no two spellings
// of one token); reading past a position's end is refused by Done.
func FuzzDecode(f *testing.F) {
	c := pagetoken.New("fuzz.List")
	binding := pagetoken.Fields{}.Byte(2).Bool(true)
	valid := c.Encode(binding, pagetoken.Fields{}.Time(time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)).Int64(42))
	for _, seed := range []string{
		valid, valid[:len(valid)-1], valid + "A", valid + "=", strings.ToUpper(valid),
		"", "A", "AQ", "garbage", "\x00", valid + "\x00", "\xff\xfe", "\xed\xa0\x80", "\U0010FFFF",
		strings.Repeat("A", 1<<16), c.Encode(pagetoken.Fields{}, nil),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		r, err := c.Decode(token, binding)
		if err != nil {
			if !errors.Is(err, pagetoken.ErrInvalid) {
				t.Fatalf("Decode(%q) = %v, want ErrInvalid", token, err)
			}
			return
		}
		b, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil {
			t.Fatalf("Decode accepted %q, which is not base64url: %v", token, err)
		}
		position := pagetoken.Fields(b[1 : len(b)-8])
		if again := c.Encode(binding, position); again != token {
			t.Fatalf("Decode accepted %q, but Encode spells that position %q", token, again)
		}
		for range len(position) {
			r.Byte()
		}
		if err := r.Done(); err != nil {
			t.Fatalf("reading the whole position: Done = %v", err)
		}
		r.Int64()
		if err := r.Done(); !errors.Is(err, pagetoken.ErrInvalid) {
			t.Fatalf("reading past the end: Done = %v, want ErrInvalid", err)
		}
	})
}
