// Package pagetoken makes the page tokens of the List methods: opaque,
// versioned, tamper-evident, and bound to the listing they were issued for.
//
// A token is the unpadded base64url of
//
//	byte 0        Version
//	bytes 1..n    the position (the cursor of the last item of the page)
//	last 8 bytes  SHA-256 of (the codec's name, the binding, bytes 0..n), truncated
//
// The binding is a canonical encoding of what the token is valid for (the
// filter and the order of the listing): a token presented with another
// binding, another codec, another version, or with any byte altered is
// refused. A token is not a secret: the check catches mistakes and casual
// tampering, and forging one only moves the starting point of a listing that
// is still limited to what the caller may see.
package pagetoken

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"time"
)

// Version is the format version every token starts with.
const Version = 1

// checkLen is the number of SHA-256 bytes a token carries.
const checkLen = 8

// ErrInvalid is returned for a token that was not issued by the codec for
// the binding it is presented with.
var ErrInvalid = errors.New("invalid page token")

// Codec encodes and decodes the tokens of one listing.
type Codec struct {
	name string
}

// New returns the codec of the listing called name (for example
// "todo.task.v1.ListTasks"): tokens of one codec are refused by another.
func New(name string) Codec { return Codec{name: name} }

// Encode returns the token of position for binding.
func (c Codec) Encode(binding, position Fields) string {
	b := make([]byte, 0, 1+len(position)+checkLen)
	b = append(b, Version)
	b = append(b, position...)
	sum := c.check(binding, b)
	b = append(b, sum[:checkLen]...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode returns a Reader of the position of token, or ErrInvalid when token
// is malformed, of another version, altered, or issued for another binding
// or codec.
func (c Codec) Decode(token string, binding Fields) (*Reader, error) {
	// encoding/base64 skips '\r' and '\n' even in strict mode: a token
	// holding them is not one Encode wrote.
	if strings.ContainsAny(token, "\r\n") {
		return nil, ErrInvalid
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(b) < 1+checkLen || b[0] != Version {
		return nil, ErrInvalid
	}
	body, got := b[:len(b)-checkLen], b[len(b)-checkLen:]
	sum := c.check(binding, body)
	if subtle.ConstantTimeCompare(sum[:checkLen], got) != 1 {
		return nil, ErrInvalid
	}
	return &Reader{b: body[1:]}, nil
}

func (c Codec) check(binding Fields, body []byte) [sha256.Size]byte {
	buf := make([]byte, 0, len(c.name)+len(binding)+len(body)+10)
	buf = append(buf, c.name...)
	buf = append(buf, 0)
	buf = binary.BigEndian.AppendUint64(buf, uint64(len(binding)))
	buf = append(buf, binding...)
	buf = append(buf, body...)
	return sha256.Sum256(buf)
}

// Fields is a canonical byte encoding of values, built by appending.
type Fields []byte

// Byte appends v.
func (f Fields) Byte(v byte) Fields { return append(f, v) }

// Bool appends v as one byte.
func (f Fields) Bool(v bool) Fields {
	if v {
		return append(f, 1)
	}
	return append(f, 0)
}

// Int64 appends v in 8 bytes.
func (f Fields) Int64(v int64) Fields { return binary.BigEndian.AppendUint64(f, uint64(v)) }

// OptInt64 appends whether v is set and, when it is, *v.
func (f Fields) OptInt64(v *int64) Fields {
	if v == nil {
		return f.Bool(false)
	}
	return f.Bool(true).Int64(*v)
}

// Time appends t with PostgreSQL's precision (microseconds).
func (f Fields) Time(t time.Time) Fields { return f.Int64(t.UnixMicro()) }

// OptTime appends whether t is set and, when it is, *t.
func (f Fields) OptTime(t *time.Time) Fields {
	if t == nil {
		return f.Bool(false)
	}
	return f.Bool(true).Time(*t)
}

// Reader reads the position of a decoded token, in the order Fields wrote
// it. After the first read past the end every read returns zero values and
// Done reports ErrInvalid.
type Reader struct {
	b   []byte
	bad bool
}

func (r *Reader) take(n int) []byte {
	if r.bad || len(r.b) < n {
		r.bad = true
		return make([]byte, n)
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// Byte reads a byte.
func (r *Reader) Byte() byte { return r.take(1)[0] }

// Bool reads a Bool; a byte other than 0 or 1 makes Done fail.
func (r *Reader) Bool() bool {
	v := r.Byte()
	if v > 1 {
		r.bad = true
	}
	return v == 1
}

// Int64 reads an Int64.
func (r *Reader) Int64() int64 { return int64(binary.BigEndian.Uint64(r.take(8))) }

// Time reads a Time, in UTC.
func (r *Reader) Time() time.Time { return time.UnixMicro(r.Int64()).UTC() }

// Done returns ErrInvalid when a read went past the end or bytes are left
// over, and nil otherwise.
func (r *Reader) Done() error {
	if r.bad || len(r.b) != 0 {
		return ErrInvalid
	}
	return nil
}
