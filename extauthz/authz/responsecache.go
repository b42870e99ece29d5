package authz

import (
	"hash/maphash"
	"sync/atomic"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/cognito-authz/cognito-authz/extauthz/verifier"
)

// responseCacheSlots bounds the authenticated answers kept, at most a few MiB. A direct-mapped
// cache needs many more slots than active clients: with 1000 clients spread over 1024 slots a
// third of the checks missed (colliding clients evict each other), and each miss builds and
// encodes an answer again; over 8192 slots about one in twenty does.
const responseCacheSlots = 8192

// responseCache remembers the authenticated answer built for one *verifier.Claims. The verifier's
// token cache hands out the same *Claims for a repeated token, and the answer depends only on the
// claims and the Server's fixed configuration, so a repeated token skips building it.
//
// It is direct-mapped and lock-free: a slot holds one entry, a colliding claims value replaces it.
// An entry is used only for the identical pointer, after the verifier has vouched for the token
// again on this request, so a stale entry never answers for a token the verifier no longer accepts.
type responseCache struct {
	seed  maphash.Seed
	slots [responseCacheSlots]atomic.Pointer[responseCacheEntry]
}

type responseCacheEntry struct {
	claims *verifier.Claims
	resp   *authv3.CheckResponse
}

func newResponseCache() *responseCache { return &responseCache{seed: maphash.MakeSeed()} }

func (c *responseCache) slot(claims *verifier.Claims) *atomic.Pointer[responseCacheEntry] {
	return &c.slots[maphash.Comparable(c.seed, claims)%responseCacheSlots]
}

func (c *responseCache) get(claims *verifier.Claims) *authv3.CheckResponse {
	if e := c.slot(claims).Load(); e != nil && e.claims == claims {
		return e.resp
	}
	return nil
}

func (c *responseCache) put(claims *verifier.Claims, resp *authv3.CheckResponse) {
	c.slot(claims).Store(&responseCacheEntry{claims: claims, resp: resp})
}
