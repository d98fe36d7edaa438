package token

import (
	"crypto"
	"crypto/sha256"
	"slices"
	"sync"
	"time"
)

// Defaults of the verification cache.
const (
	// DefaultVerifyCacheSize is how many verified tokens a Keyring
	// remembers when Config.VerifyCacheSize is zero.
	DefaultVerifyCacheSize = 10_000
	// verifyCacheTTL is the longest a verification is remembered. A
	// token's expiry and its key's retirement end it sooner.
	verifyCacheTTL = time.Minute
	// cacheShards spreads the entries over that many locks, so that
	// concurrent requests seldom wait for one another.
	cacheShards = 16
	// evictionSample is how many entries a full shard looks at to choose
	// one to evict: an expired one if it finds one, else the one that
	// expires first.
	evictionSample = 8
)

// verifyCache remembers successful verifications, so that a token seen
// again within a minute costs a SHA-256 hash and a map lookup instead of a
// signature verification. It is keyed by the SHA-256 of the whole compact
// token, so a token that differs in any byte (a tampered payload or
// signature) is never found in it and goes through the full check.
//
// An entry is used only while everything the full check depends on still
// holds: the same expected type, the time within the token's validity
// (before "exp", not before "nbf" and "iat" minus the allowed skew), and
// the key that verified it still in the ring, the same key material, and
// not retired past its grace. The issuer and audience are those of the
// ring, which never change. The per-user epoch is not the cache's
// concern: callers check it against the database on every request.
//
// Its size is bounded: a full shard evicts an entry before adding one.
type verifyCache struct {
	perShard int
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]*cacheEntry
}

// cacheEntry is one verified token.
type cacheEntry struct {
	claims Claims     // Extra is always nil: see put
	key    *verifyKey // the key that verified it
	from   time.Time  // the entry is not used before this time ...
	until  time.Time  // ... nor from this one on
}

// newVerifyCache returns a cache of about size entries, or nil (no cache)
// when size is negative.
func newVerifyCache(size int) *verifyCache {
	if size < 0 {
		return nil
	}
	if size == 0 {
		size = DefaultVerifyCacheSize
	}
	c := &verifyCache{perShard: max(1, size/cacheShards)}
	for i := range c.shards {
		c.shards[i].entries = make(map[[sha256.Size]byte]*cacheEntry)
	}
	return c
}

func (c *verifyCache) shard(sum *[sha256.Size]byte) *cacheShard {
	return &c.shards[sum[0]%cacheShards]
}

// get returns a copy of the claims remembered for the token whose hash is
// sum, if they are still good for typ at now with the keys in byID.
func (c *verifyCache) get(sum *[sha256.Size]byte, typ string, now time.Time, byID map[string]*verifyKey) (*Claims, bool) {
	if c == nil {
		return nil, false
	}
	s := c.shard(sum)
	s.mu.Lock()
	e := s.entries[*sum]
	s.mu.Unlock()
	if e == nil || e.claims.Type != typ || now.Before(e.from) || !now.Before(e.until) {
		return nil, false
	}
	if cur := byID[e.key.info.ID]; cur == nil || !cur.live(now) || !sameKey(cur, e.key) {
		return nil, false
	}
	out := e.claims
	out.Audience = slices.Clone(e.claims.Audience)
	return &out, true
}

// put remembers that the token whose hash is sum verified with key at now
// and carries c. Tokens with custom claims (vended tokens) are not
// remembered: their values could be changed through the returned maps.
func (c *verifyCache) put(sum *[sha256.Size]byte, dc *decodedClaims, key *verifyKey, now time.Time) {
	if c == nil || len(dc.Extra) > 0 {
		return
	}
	e := &cacheEntry{claims: dc.Claims, key: key, until: now.Add(verifyCacheTTL)}
	e.claims.Audience = slices.Clone(dc.Audience)
	if dc.Expiry.Before(e.until) {
		e.until = dc.Expiry
	}
	e.from = dc.IssuedAt
	if dc.notBefore.After(e.from) {
		e.from = dc.notBefore
	}
	e.from = e.from.Add(-clockSkew)

	s := c.shard(sum)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.entries[*sum]; !ok && len(s.entries) >= c.perShard {
		s.evictLocked(now)
	}
	s.entries[*sum] = e
}

// evictLocked removes the expired entries among a few, or else the one of
// them that expires first. Map iteration starts at a random place, so the
// entries looked at are a random sample.
func (s *cacheShard) evictLocked(now time.Time) {
	var (
		victim  [sha256.Size]byte
		soonest time.Time
		expired bool
		n       int
	)
	for k, e := range s.entries {
		if !now.Before(e.until) {
			delete(s.entries, k)
			expired = true
		} else if soonest.IsZero() || e.until.Before(soonest) {
			victim, soonest = k, e.until
		}
		if n++; n == evictionSample {
			break
		}
	}
	if !expired && !soonest.IsZero() {
		delete(s.entries, victim)
	}
}

// retain drops every entry whose key keep refuses. The keyring calls it
// when a reload drops or replaces a key, so that nothing it verified
// outlives it in the cache.
func (c *verifyCache) retain(keep func(*verifyKey) bool) {
	if c == nil {
		return
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for k, e := range s.entries {
			if !keep(e.key) {
				delete(s.entries, k)
			}
		}
		s.mu.Unlock()
	}
}

// len reports the number of entries, for tests.
func (c *verifyCache) len() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.entries)
		s.mu.Unlock()
	}
	return n
}

// sameKey reports whether a and b verify the same signatures: the same
// algorithm and the same public key. Snapshots of the ring parse the
// stored keys afresh, so the same key may be two values.
func sameKey(a, b *verifyKey) bool {
	if a == b {
		return true
	}
	if a.alg != b.alg {
		return false
	}
	pub, ok := a.public.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(b.public)
}
