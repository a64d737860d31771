package pagetoken_test

import (
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/todo-platform/todo/pkg/pagetoken"
)

func TestCodec_RoundTrip(t *testing.T) {
	c := pagetoken.New("test.List")
	at := time.Date(2026, 12, 1, 10, 0, 0, 123456000, time.UTC)
	binding := pagetoken.Fields{}.Byte(3).Bool(true)
	tok := c.Encode(binding, pagetoken.Fields{}.Time(at).Int64(42))
	r, err := c.Decode(tok, binding)
	if err != nil {
		t.Fatal(err)
	}
	gotAt, gotID := r.Time(), r.Int64()
	if err := r.Done(); err != nil {
		t.Fatal(err)
	}
	if !gotAt.Equal(at) || gotID != 42 {
		t.Errorf("decoded (%v, %d), want (%v, 42)", gotAt, gotID, at)
	}
}

func TestCodec_RefusesEveryAlteredByte(t *testing.T) {
	c := pagetoken.New("test.List")
	binding := pagetoken.Fields{}.Int64(7)
	tok := c.Encode(binding, pagetoken.Fields{}.Int64(99).Int64(100))
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		t.Fatal(err)
	}
	for i := range raw {
		for _, flip := range []byte{0x01, 0x80, 0xff} {
			b := append([]byte(nil), raw...)
			b[i] ^= flip
			if _, err := c.Decode(base64.RawURLEncoding.EncodeToString(b), binding); !errors.Is(err, pagetoken.ErrInvalid) {
				t.Errorf("byte %d ^ %#x: Decode = %v, want ErrInvalid", i, flip, err)
			}
		}
	}
	for _, bad := range []string{"", "!!", tok[:len(tok)-1], tok + "A", base64.RawURLEncoding.EncodeToString(raw[:len(raw)-1])} {
		if _, err := c.Decode(bad, binding); !errors.Is(err, pagetoken.ErrInvalid) {
			t.Errorf("Decode(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestCodec_BindsBindingAndName(t *testing.T) {
	c := pagetoken.New("test.List")
	tok := c.Encode(pagetoken.Fields{}.Bool(true), pagetoken.Fields{}.Int64(1))
	if _, err := c.Decode(tok, pagetoken.Fields{}.Bool(false)); !errors.Is(err, pagetoken.ErrInvalid) {
		t.Errorf("other binding: %v, want ErrInvalid", err)
	}
	if _, err := pagetoken.New("other.List").Decode(tok, pagetoken.Fields{}.Bool(true)); !errors.Is(err, pagetoken.ErrInvalid) {
		t.Errorf("other codec: %v, want ErrInvalid", err)
	}
}

func TestReader_ShortOrLongPositionIsInvalid(t *testing.T) {
	c := pagetoken.New("test.List")
	tok := c.Encode(nil, pagetoken.Fields{}.Int64(1))
	r, err := c.Decode(tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Int64()
	r.Int64()
	if err := r.Done(); !errors.Is(err, pagetoken.ErrInvalid) {
		t.Errorf("read past the end: Done = %v, want ErrInvalid", err)
	}
	r, _ = c.Decode(c.Encode(nil, pagetoken.Fields{}.Int64(1).Byte(0)), nil)
	r.Int64()
	if err := r.Done(); !errors.Is(err, pagetoken.ErrInvalid) {
		t.Errorf("bytes left over: Done = %v, want ErrInvalid", err)
	}
	r, _ = c.Decode(c.Encode(nil, pagetoken.Fields{}.Byte(2)), nil)
	r.Bool()
	if err := r.Done(); !errors.Is(err, pagetoken.ErrInvalid) {
		t.Errorf("bool byte 2: Done = %v, want ErrInvalid", err)
	}
}

// TestCodec_RefusesEveryAlteredCharacter alters the token text itself: the
// last character of a token whose length is not a multiple of 3 bytes has
// unused bits, which a lenient base64 decoder would ignore.
func TestCodec_RefusesEveryAlteredCharacter(t *testing.T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	c := pagetoken.New("test.List")
	for _, pos := range []pagetoken.Fields{
		pagetoken.Fields{}.Int64(5).Int64(6),         // 25-byte token
		pagetoken.Fields{}.Byte(1).Int64(5).Int64(6), // 26 bytes
		pagetoken.Fields{}.Byte(1).Bool(true).Int64(5).Int64(6),
	} {
		tok := c.Encode(nil, pos)
		for i := range len(tok) {
			for _, ch := range alphabet {
				if byte(ch) == tok[i] {
					continue
				}
				bad := tok[:i] + string(ch) + tok[i+1:]
				if _, err := c.Decode(bad, nil); !errors.Is(err, pagetoken.ErrInvalid) {
					t.Errorf("token %q with character %d changed to %q: Decode = %v, want ErrInvalid", tok, i, ch, err)
				}
			}
		}
	}
}
