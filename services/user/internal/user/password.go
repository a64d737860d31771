package user

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Password length bounds, in characters (Unicode code points). Nothing is
// truncated: every character of a password up to MaxPasswordLen counts.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 128
)

// OWASP's minimum argon2id parameters (Password Storage Cheat Sheet):
// 19 MiB of memory, 2 iterations, 1 degree of parallelism.
const (
	OWASPMemoryKiB = 19456
	OWASPTime      = 2
	OWASPThreads   = 1
)

// Params are argon2id parameters.
type Params struct {
	// Memory is the memory cost in KiB.
	Memory uint32
	// Time is the number of passes.
	Time uint32
	// Threads is the degree of parallelism.
	Threads uint8
	// SaltLen and KeyLen are the salt and derived key lengths in bytes.
	SaltLen uint32
	KeyLen  uint32
}

// Salt and key lengths of new hashes, in bytes.
const (
	SaltLen = 16
	KeyLen  = 32
)

// NewParams returns the parameters of new hashes with the given costs (see
// the OWASP constants for the least acceptable ones), a SaltLen-byte salt and
// a KeyLen-byte key.
func NewParams(memoryKiB, time uint32, threads uint8) Params {
	return Params{Memory: memoryKiB, Time: time, Threads: threads, SaltLen: SaltLen, KeyLen: KeyLen}
}

// weakerThan reports whether hashes made with p are cheaper to attack than
// hashes made with q, so that a hash with p should be replaced.
func (p Params) weakerThan(q Params) bool {
	return p.Memory < q.Memory || p.Time < q.Time || p.SaltLen < q.SaltLen || p.KeyLen < q.KeyLen
}

// Bounds on the parameters accepted from a stored hash, so that a corrupt
// row cannot make one verification take unbounded memory or time.
const (
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxTime      = 64
	minSaltLen   = 8
	maxSaltLen   = 64
	minKeyLen    = 16
	maxKeyLen    = 128
)

// Hasher hashes and verifies passwords with argon2id, in PHC string form
// ($argon2id$v=19$m=…,t=…,p=…$salt$hash, unpadded standard base64). At most
// a fixed number of hashes run at once, so a burst of sign-ins waits instead
// of exhausting memory. It is safe for concurrent use.
type Hasher struct {
	params  Params
	sem     chan struct{}
	waiting atomic.Int64
}

// NewHasher returns a Hasher making new hashes with p and running at most
// concurrency hashes at once; 0 (or less) means one per CPU.
func NewHasher(p Params, concurrency int) *Hasher {
	if concurrency < 1 {
		concurrency = runtime.NumCPU()
	}
	return &Hasher{params: p, sem: make(chan struct{}, concurrency)}
}

// acquire waits for a hashing slot or for ctx to end.
func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	default:
	}
	h.waiting.Add(1)
	defer h.waiting.Add(-1)
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for password hashing: %w", ctx.Err())
	}
}

// Slots returns how many hashes are running, how many wait for a slot, and
// how many may run at once.
func (h *Hasher) Slots() (inUse, waiting, capacity int) {
	return len(h.sem), int(h.waiting.Load()), cap(h.sem)
}

func (h *Hasher) release() { <-h.sem }

// Hash returns the PHC string of password hashed with a fresh random salt.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, h.params.Time, h.params.Memory, h.params.Threads, h.params.KeyLen)
	h.release()
	return encodePHC(h.params, salt, key), nil
}

// Verify reports whether password matches the stored hash encoded and, when
// it does, whether encoded should be replaced by a new Hash because its
// parameters are weaker than the Hasher's (or it is a legacy bcrypt hash, the
// format of accounts imported from the application this service replaces). The comparison takes constant
// time. An error means encoded is not a hash Verify understands, or ctx ended
// while waiting for a hashing slot.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (match, rehash bool, err error) {
	if isBcrypt(encoded) {
		if err := h.acquire(ctx); err != nil {
			return false, false, err
		}
		err := bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password))
		h.release()
		switch {
		case err == nil:
			return true, true, nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword), errors.Is(err, bcrypt.ErrPasswordTooLong):
			return false, false, nil
		default:
			return false, false, fmt.Errorf("verify bcrypt hash: %w", err)
		}
	}
	p, salt, want, err := DecodePHC(encoded)
	if err != nil {
		return false, false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	h.release()
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return false, false, nil
	}
	return true, p.weakerThan(h.params), nil
}

func isBcrypt(s string) bool {
	return strings.HasPrefix(s, "$2a$") || strings.HasPrefix(s, "$2b$") || strings.HasPrefix(s, "$2y$")
}

func encodePHC(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// DecodePHC parses an argon2id PHC string and returns its parameters, salt
// and key. It refuses other algorithms and versions, and parameters outside
// sane bounds.
func DecodePHC(s string) (Params, []byte, []byte, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return Params{}, nil, nil, errors.New("password hash: not a PHC string")
	}
	if parts[1] != "argon2id" {
		return Params{}, nil, nil, fmt.Errorf("password hash: algorithm %q, want argon2id", parts[1])
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return Params{}, nil, nil, fmt.Errorf("password hash: version %q, want v=%d", parts[2], argon2.Version)
	}
	var (
		p       Params
		threads uint32
	)
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &threads); err != nil {
		return Params{}, nil, nil, fmt.Errorf("password hash: parameters %q: %w", parts[3], err)
	}
	if p.Memory < 8 || p.Memory > maxMemoryKiB || p.Time < 1 || p.Time > maxTime || threads < 1 || threads > 255 {
		return Params{}, nil, nil, fmt.Errorf("password hash: parameters %q out of bounds", parts[3])
	}
	p.Threads = uint8(threads)
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < minSaltLen || len(salt) > maxSaltLen {
		return Params{}, nil, nil, errors.New("password hash: bad salt")
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) < minKeyLen || len(key) > maxKeyLen {
		return Params{}, nil, nil, errors.New("password hash: bad key")
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}

// ValidatePassword checks the length rule (MinPasswordLen to MaxPasswordLen
// characters, counted as Unicode code points) and returns a *PasswordError
// saying what is wrong, or nil.
func ValidatePassword(password string) error {
	if !utf8.ValidString(password) {
		return &PasswordError{Reason: "must be valid UTF-8"}
	}
	n := utf8.RuneCountInString(password)
	if n < MinPasswordLen || n > MaxPasswordLen {
		return &PasswordError{Reason: fmt.Sprintf("must be %d to %d characters long, not %d", MinPasswordLen, MaxPasswordLen, n)}
	}
	return nil
}
