package revocation

import (
	"sync/atomic"
	"time"
)

// Memo is room a caller keeps beside one token (the service keeps one with each token in its
// verified-token cache), where checks of that token remember its live answer: while the answer
// holds and no sign-in has been found revoked since, a check of the token needs neither a hash
// of it nor a cache lookup. It holds no text of the token. The zero Memo is empty; a nil *Memo
// remembers nothing.
type Memo struct{ p atomic.Pointer[memo] }

// memo is what a Memo remembers: a live answer in one checker's cache, and the revoked sign-ins
// as they were when the token's sign-in was found not among them. It names the caches by their
// ids, not pointers, so that a Memo outliving a reload keeps no old cache alive.
type memo struct {
	liveID     uint64
	answer     *liveAnswer
	familiesID uint64
	added      uint64 // families.added, read before the token's sign-in was looked up
}

// cacheIDs number the live caches and the revoked sign-ins of every Checker.
var cacheIDs atomic.Uint64

func (m *Memo) load() *memo {
	if m == nil {
		return nil
	}
	return m.p.Load()
}

func (m *Memo) store(x *memo) {
	if m != nil {
		m.p.Store(x)
	}
}

// liveFor reports that m answers its token live for c at now, as the caches would: the answer is
// in c's live cache still and holds at now, and c's revoked sign-ins gained none since the
// token's was found not among them.
func (m *memo) liveFor(c *Checker, now time.Time) bool {
	return m != nil && m.liveID == c.live.id && m.familiesID == c.families.id &&
		m.added == c.families.added.Load() && !m.answer.gone.Load() && now.Before(m.answer.until)
}
