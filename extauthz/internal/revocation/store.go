package revocation

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// tokenKey names a token in the cache and in the calls under way without keeping its text: a
// 64-bit hash of the whole token and one of its last tailBytes bytes (the end of its signature),
// with seeds drawn per process, so nobody can aim for a collision. Two tokens share a key only if
// both hashes collide, about one chance in 2^128 for tokens whose signatures end differently, as
// those of different tokens do; hashing the tail instead of the whole token twice halves the cost
// of a warm check.
type tokenKey [2]uint64

// tailBytes of the token are hashed for the second half of its key.
const tailBytes = 48

// keyer makes tokenKeys.
type keyer struct{ seeds [2]maphash.Seed }

func newKeyer() keyer { return keyer{[2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}} }

func (k keyer) key(token string) tokenKey {
	return tokenKey{maphash.String(k.seeds[0], token), maphash.String(k.seeds[1], token[max(0, len(token)-tailBytes):])}
}

// maxShards of the live cache, to keep lock contention low under parallel checks.
const maxShards = 16

// liveCache remembers tokens Cognito said were live, each until its deadline (the cache TTL
// after the answer, or the token's exp if sooner). It is bounded: past its size the oldest
// answers go first, and those tokens are asked about again.
type liveCache struct {
	id     uint64 // for Memo
	shards []*lru.Cache[tokenKey, *liveAnswer]
	putMu  sync.Mutex // one put at a time, so that every answer replaced is marked gone
}

// liveAnswer is one live answer kept. A Memo may point at it after it left the cache: gone then
// says so, and the Memo no longer holds.
type liveAnswer struct {
	until time.Time
	gone  atomic.Bool // evicted or replaced
}

func newLiveCache(maxEntries int) *liveCache {
	n := min(maxShards, maxEntries)
	c := &liveCache{id: cacheIDs.Add(1), shards: make([]*lru.Cache[tokenKey, *liveAnswer], n)}
	for i := range c.shards {
		size := maxEntries / n
		if i < maxEntries%n {
			size++
		}
		// size >= 1 cannot fail
		c.shards[i], _ = lru.NewWithEvict(size, func(_ tokenKey, a *liveAnswer) { a.gone.Store(true) })
	}
	return c
}

func (c *liveCache) shard(k tokenKey) *lru.Cache[tokenKey, *liveAnswer] {
	return c.shards[k[0]%uint64(len(c.shards))]
}

// live reports whether the token of k was answered live and that answer still holds at now.
func (c *liveCache) live(k tokenKey, now time.Time) bool { return c.get(k, now) != nil }

// get returns the live answer to the token of k that still holds at now, or nil. It peeks (a
// read lock): the entries expire by time anyway, so eviction by age serves as well as by use.
func (c *liveCache) get(k tokenKey, now time.Time) *liveAnswer {
	a, ok := c.shard(k).Peek(k)
	if !ok || !now.Before(a.until) {
		return nil
	}
	return a
}

func (c *liveCache) put(k tokenKey, until time.Time) {
	c.putMu.Lock() // once per call to Cognito: no contention worth sharding
	defer c.putMu.Unlock()
	shard := c.shard(k)
	if old, ok := shard.Peek(k); ok {
		old.gone.Store(true)
	}
	shard.Add(k, &liveAnswer{until: until})
}

func (c *liveCache) len() int {
	n := 0
	for _, s := range c.shards {
		n += s.Len()
	}
	return n
}

// families remembers the sign-ins (origin_jti) found revoked, each until the latest exp seen of
// its tokens: past that no token of it is valid anyway. It is bounded: past its size the oldest
// revocation goes first, after which that sign-in's access tokens are asked about again (and
// refused by Cognito) while its ID tokens, which cannot be asked about, pass.
type families struct {
	id      uint64 // for Memo
	revoked *lru.Cache[string, time.Time]
	// added counts the sign-ins added: a Memo taken when its token's sign-in was not revoked
	// holds only while no sign-in has been added since.
	added atomic.Uint64
}

func newFamilies(maxEntries int) *families {
	c, _ := lru.New[string, time.Time](maxEntries) // maxEntries >= 1 cannot fail
	return &families{id: cacheIDs.Add(1), revoked: c}
}

// has reports whether originJTI is a revoked sign-in at now. A token of it that expires later
// than any seen so far keeps it remembered until then.
func (f *families) has(originJTI string, exp, now time.Time) bool {
	until, ok := f.revoked.Peek(originJTI)
	if !ok {
		return false
	}
	if !now.Before(until) {
		f.revoked.Remove(originJTI)
		return false
	}
	if exp.After(until) {
		f.revoked.Add(originJTI, exp)
	}
	return true
}

// add remembers originJTI as revoked until exp (at least: a later exp already remembered stays).
func (f *families) add(originJTI string, exp, now time.Time) {
	if originJTI == "" || !now.Before(exp) {
		return
	}
	if until, ok := f.revoked.Peek(originJTI); ok && until.After(exp) {
		return
	}
	f.revoked.Add(originJTI, exp)
	f.added.Add(1) // after the add: a Memo reads the count before it looks the sign-in up
}
