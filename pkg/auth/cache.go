package auth

import (
	"crypto/ed25519"
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultCacheSize is the number of verified tokens a Verifier remembers
// unless WithCacheSize says otherwise.
const DefaultCacheSize = 10_000

// cacheShards is the most shards a tokenCache is split into, so that
// concurrent requests rarely wait on the same mutex.
const cacheShards = 16

// tokenDigest identifies a token by the SHA-256 of its exact bytes.
type tokenDigest [sha256.Size]byte

// cacheEntry is what a successful verification proved about one token.
type cacheEntry struct {
	principal Principal
	exp       time.Time         // the token's exp claim; the entry is used only before it
	kid       string            // the token's kid header
	key       ed25519.PublicKey // the key that checked the signature
}

// tokenCache remembers verified tokens, at most max of them. It is safe for
// concurrent use.
type tokenCache struct {
	shards []cacheShard
}

type cacheShard struct {
	mu      sync.Mutex
	max     int
	entries map[tokenDigest]cacheEntry
}

// newTokenCache returns a cache of at most size entries, or nil (no cache)
// when size is not positive.
func newTokenCache(size int) *tokenCache {
	if size <= 0 {
		return nil
	}
	n := min(size, cacheShards)
	c := &tokenCache{shards: make([]cacheShard, n)}
	for i := range c.shards {
		c.shards[i].max = size / n
		if i < size%n {
			c.shards[i].max++ // the shards' bounds add up to size
		}
		c.shards[i].entries = make(map[tokenDigest]cacheEntry)
	}
	return c
}

func (c *tokenCache) shard(d tokenDigest) *cacheShard {
	return &c.shards[int(d[0])%len(c.shards)]
}

// get returns the entry for d if there is one and now is before its exp.
func (c *tokenCache) get(d tokenDigest, now time.Time) (cacheEntry, bool) {
	s := c.shard(d)
	s.mu.Lock()
	e, ok := s.entries[d]
	s.mu.Unlock()
	if !ok || !now.Before(e.exp) {
		return cacheEntry{}, false
	}
	return e, true
}

// put stores e under d unless now is not before e.exp. In a full shard it
// first drops the entries expired at now and, if none was, the entry that
// expires first (with one token lifetime, the oldest).
func (c *tokenCache) put(d tokenDigest, e cacheEntry, now time.Time) {
	if !now.Before(e.exp) {
		return
	}
	s := c.shard(d)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.entries[d]; !ok && len(s.entries) >= s.max {
		var (
			first    tokenDigest
			firstExp time.Time
			dropped  bool
		)
		for k, v := range s.entries {
			switch {
			case !now.Before(v.exp):
				delete(s.entries, k)
				dropped = true
			case firstExp.IsZero() || v.exp.Before(firstExp):
				first, firstExp = k, v.exp
			}
		}
		if !dropped {
			delete(s.entries, first)
		}
	}
	s.entries[d] = e
}

// putUnlessRevoked is put, except that it keeps nothing when epoch no
// longer holds seen: a revocation arrived while e was being proven, and e
// may be one of the tokens it voids. A revocation updates the list, then
// the epoch, then purges: either it moved the epoch before the check after
// the put (the entry is removed here), or the entry was stored before the
// purge (which removes it if the revocation voids it).
func (c *tokenCache) putUnlessRevoked(d tokenDigest, e cacheEntry, now time.Time, epoch *atomic.Uint64, seen uint64) {
	if epoch.Load() != seen {
		return
	}
	c.put(d, e, now)
	if epoch.Load() != seen {
		c.remove(d)
	}
}

// purge removes every entry of user whose generation is below gen.
func (c *tokenCache) purge(user, gen int64) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for k, e := range s.entries {
			if e.principal.UserID == user && e.principal.Generation < gen {
				delete(s.entries, k)
			}
		}
		s.mu.Unlock()
	}
}

// len returns the number of entries, expired or not.
func (c *tokenCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.entries)
		s.mu.Unlock()
	}
	return n
}

// remove forgets the entry for d, if any.
func (c *tokenCache) remove(d tokenDigest) {
	s := c.shard(d)
	s.mu.Lock()
	delete(s.entries, d)
	s.mu.Unlock()
}
