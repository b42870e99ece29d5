package verifier

import (
	"hash/maphash"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// tokenCache remembers verified tokens so that a client's repeated token costs a hash and a map
// lookup instead of an RSA verification. It is sharded to keep lock contention low under
// parallel Checks. Entries are keyed by a seeded 64-bit hash of the token; the entry keeps the
// token itself so that a hash collision is a miss, never someone else's identity.
type tokenCache struct {
	seed   maphash.Seed
	shards []*lru.Cache[uint64, *cacheEntry]
}

type cacheEntry struct {
	token      string
	claims     *Claims
	notAfter   time.Time // exp + clock skew: the entry is dead from this instant on
	issuer     *issuer
	generation uint64 // the issuer's key-set generation the token was verified against
}

const maxCacheShards = 16

// newTokenCache returns a cache holding at most maxEntries tokens, or nil when maxEntries <= 0.
func newTokenCache(maxEntries int) *tokenCache {
	if maxEntries <= 0 {
		return nil
	}
	n := min(maxCacheShards, maxEntries)
	c := &tokenCache{seed: maphash.MakeSeed(), shards: make([]*lru.Cache[uint64, *cacheEntry], n)}
	for i := range c.shards {
		size := maxEntries / n
		if i < maxEntries%n {
			size++
		}
		c.shards[i], _ = lru.New[uint64, *cacheEntry](size) // size >= 1 cannot fail
	}
	return c
}

func (c *tokenCache) shard(token string) (*lru.Cache[uint64, *cacheEntry], uint64) {
	key := maphash.String(c.seed, token)
	return c.shards[key%uint64(len(c.shards))], key
}

// get returns the claims of a cached token still valid at now, or nil. An entry that expired or
// whose issuer's keys changed since it was verified is dropped.
func (c *tokenCache) get(token string, now time.Time) *Claims {
	shard, key := c.shard(token)
	e, ok := shard.Get(key)
	if !ok || e.token != token {
		return nil
	}
	if !now.Before(e.notAfter) || e.issuer.keys.Current().Generation != e.generation {
		shard.Remove(key)
		return nil
	}
	return e.claims
}

func (c *tokenCache) put(e *cacheEntry) {
	shard, key := c.shard(e.token)
	shard.Add(key, e)
}
