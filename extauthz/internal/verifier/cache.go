package verifier

import (
	"hash/maphash"
	"strings"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/revocation"
)

// tokenCache is the service's one cache of verified tokens (cache.max_entries, docs/reference.md):
// a repeated token costs a hash and a map lookup instead of an RSA verification, and the caller's
// value for it (its Slot: the Check service's answer) is kept in the same entry, so it lives exactly as long: evicted with
// it, dead once the token expires, dropped when the issuer's key set changes. It is sharded to
// keep lock contention low under parallel Checks.
//
// The token itself is not kept: an entry is keyed by a seeded 64-bit hash of the token (the seed is
// random per process, so nobody can aim for a collision) and holds the token's last tailBytes
// bytes, the end of its signature, so that an accidental key collision between two tokens is a
// miss, never someone else's identity: their signatures would have to end alike too, a chance of
// about 2^-186. Comparing them costs less than hashing the token a second time.
type tokenCache[A any] struct {
	seed   maphash.Seed
	shards []*lru.Cache[uint64, *cacheEntry[A]]
}

// tailBytes of the token are kept to tell tokens with the same key apart.
const tailBytes = 32

// tokenTail is the last tailBytes bytes of a token, its length for shorter ones.
type tokenTail struct {
	bytes [tailBytes]byte
	n     uint8
}

func tailOf(token string) tokenTail {
	var t tokenTail
	t.n = uint8(copy(t.bytes[:], token[max(0, len(token)-tailBytes):]))
	return t
}

func (t *tokenTail) ends(token string) bool {
	return int(t.n) <= len(token) && string(t.bytes[:t.n]) == token[len(token)-int(t.n):] &&
		(t.n == tailBytes || int(t.n) == len(token))
}

type cacheEntry[A any] struct {
	tail       tokenTail // the end of the token
	claims     *Claims
	notAfter   time.Time // exp + clock skew: the entry is dead from this instant on
	issuer     *issuer
	generation uint64 // the issuer's key-set generation the token was verified against
	slot       Slot[A]
}

// Slot is room, beside cached claims, for one value of type A that the caller derives from the
// claims alone (the Check service keeps its answer there, with its encoding), so that the value
// lives and dies with the cached token. Claims that are not cached have none: VerifySlot gives a
// nil *Slot, which loads nothing and stores nothing.
type Slot[A any] struct {
	p atomic.Pointer[A]
	// revocation is the online revocation check's room for the token, so that a warm check
	// reuses this cache's lookup instead of hashing the token again.
	revocation revocation.Memo
}

// RevocationMemo is the revocation check's room for the token (revocation.Token.Memo), or nil
// for a nil Slot.
func (s *Slot[A]) RevocationMemo() *revocation.Memo {
	if s == nil {
		return nil
	}
	return &s.revocation
}

// Load returns the stored value, or nil.
func (s *Slot[A]) Load() *A {
	if s == nil {
		return nil
	}
	return s.p.Load()
}

// Store keeps a with the claims; a nil Slot drops it.
func (s *Slot[A]) Store(a *A) {
	if s != nil {
		s.p.Store(a)
	}
}

const maxCacheShards = 16

// newTokenCache returns a cache holding at most maxEntries tokens, or nil when maxEntries <= 0.
func newTokenCache[A any](maxEntries int) *tokenCache[A] {
	if maxEntries <= 0 {
		return nil
	}
	n := min(maxCacheShards, maxEntries)
	c := &tokenCache[A]{seed: maphash.MakeSeed(), shards: make([]*lru.Cache[uint64, *cacheEntry[A]], n)}
	for i := range c.shards {
		size := maxEntries / n
		if i < maxEntries%n {
			size++
		}
		c.shards[i], _ = lru.New[uint64, *cacheEntry[A]](size) // size >= 1 cannot fail
	}
	return c
}

func (c *tokenCache[A]) shard(key uint64) *lru.Cache[uint64, *cacheEntry[A]] {
	return c.shards[key%uint64(len(c.shards))]
}

// get returns the entry of a cached token still valid at now, or nil. An entry that expired or
// whose issuer's keys changed since it was verified is dropped.
func (c *tokenCache[A]) get(token string, now time.Time) *cacheEntry[A] {
	key := maphash.String(c.seed, token)
	shard := c.shard(key)
	e, ok := shard.Get(key)
	if !ok || !e.tail.ends(token) {
		return nil
	}
	if !now.Before(e.notAfter) || e.issuer.keys.Current().Generation != e.generation {
		shard.Remove(key)
		return nil
	}
	return e
}

// put caches claims verified from token; the claims keep nothing they were decoded from (detach).
func (c *tokenCache[A]) put(token string, e *cacheEntry[A]) {
	e.claims.detach()
	e.tail = tailOf(token)
	key := maphash.String(c.seed, token)
	c.shard(key).Add(key, e)
}

// detach gives the claims' text one allocation of its own. As decoded, the claims point into the
// JSON decoder's copy of the whole payload, and PayloadSegment into the token: a cached entry
// would keep both alive, several times the size of the claims themselves.
func (c *Claims) detach() {
	n := 0
	c.eachText(func(s *string) { n += len(*s) })
	var b strings.Builder
	b.Grow(n)
	c.eachText(func(s *string) { b.WriteString(*s) })
	own := b.String()
	c.eachText(func(s *string) { *s, own = own[:len(*s)], own[len(*s):] })
}

// eachText calls f with every text the claims hold but those that are configured strings or
// constants (Issuer, ClientID, TokenUse).
func (c *Claims) eachText(f func(*string)) {
	for _, s := range [...]*string{&c.Subject, &c.Username, &c.Email, &c.JTI, &c.OriginJTI, &c.PayloadSegment} {
		f(s)
	}
	for i := range c.Groups {
		f(&c.Groups[i])
	}
	for i := range c.Scopes {
		f(&c.Scopes[i])
	}
}
