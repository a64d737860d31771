package auth

import (
	"sync"
	"sync/atomic"
	"time"
)

// MaxTokenLifetime is the longest lifetime (exp - iat) of an access token
// a Verifier accepts. A Verifier forgets a revocation once it is older than
// RevocationRetention, which exceeds this: every token a forgotten
// revocation voided has expired by then, so the list stays bounded by the
// revocations of the last day without letting a voided token back in.
// (Access tokens live 15 minutes by default; the bound leaves room for
// longer ones, such as a benchmark's.)
const MaxTokenLifetime = 24 * time.Hour

// RevocationRetention is how long a Verifier keeps a revocation it learnt.
const RevocationRetention = MaxTokenLifetime + 2*Leeway + time.Minute

// revocation is the newest token generation learnt for one user.
type revocation struct {
	gen    int64
	learnt time.Time
}

// revocations is a Verifier's list of per-user token generations, learnt
// through Revoke. epoch changes at every revocation that raises a
// generation, so that a verification running across it does not cache
// what it proved (see tokenCache.putUnlessRevoked).
type revocations struct {
	epoch atomic.Uint64

	mu     sync.RWMutex
	byUser map[int64]revocation
}

// generation returns the generation last learnt for user, 0 if none.
func (r *revocations) generation(user int64) int64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.byUser[user].gen
}

// Revoke tells v that every token of user with a generation below gen is
// void: from its return, Verify refuses them, cached or not. Learning a
// generation no higher than the one known changes nothing, so the same
// revocation may be delivered any number of times and in any order (a
// notification, then a poll). A revocation is kept for RevocationRetention
// after it was learnt; call PruneRevocations now and then to forget the
// older ones.
func (v *Verifier) Revoke(user, gen int64) {
	now := v.now()
	v.revoked.mu.Lock()
	cur, ok := v.revoked.byUser[user]
	if ok && cur.gen >= gen {
		v.revoked.mu.Unlock()
		return
	}
	v.revoked.byUser[user] = revocation{gen: gen, learnt: now}
	v.revoked.mu.Unlock()
	v.revoked.epoch.Add(1)
	if v.cache != nil {
		v.cache.purge(user, gen)
	}
}

// PruneRevocations forgets the revocations learnt more than
// RevocationRetention ago and returns how many it still holds.
func (v *Verifier) PruneRevocations() int {
	cutoff := v.now().Add(-RevocationRetention)
	v.revoked.mu.Lock()
	defer v.revoked.mu.Unlock()
	for u, r := range v.revoked.byUser {
		if r.learnt.Before(cutoff) {
			delete(v.revoked.byUser, u)
		}
	}
	return len(v.revoked.byUser)
}
