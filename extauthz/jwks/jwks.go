// Package jwks keeps one issuer's JSON Web Key Set: loaded at start, refreshed in the background,
// refetched on an unknown key id at a bounded rate, and never emptied by a failing endpoint.
package jwks

import (
	"context"
	"crypto/rsa"
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// Errors returned by Cache.Lookup. Both are wrapped with detail; test with errors.Is.
var (
	// ErrUnknownKid: the key set was fetched but holds no usable key with that id.
	ErrUnknownKid = errors.New("unknown key id")
	// ErrUnavailable: no key set could be had (never loaded, or the refetch failed or was cancelled).
	ErrUnavailable = errors.New("key set unavailable")
)

// Options tune a Cache. Zero values take the SPEC defaults.
type Options struct {
	RefreshInterval    time.Duration // background refresh period; default 1h
	MinRefetchInterval time.Duration // least time between fetches caused by unknown kids; also the retry delay before the first load; default 10s
	FetchTimeout       time.Duration // one fetch, connect to end of body; default 5s
	MaxBytes           int64         // response body cap; default 1 MiB
	Client             *http.Client  // default: a client with no redirects to other hosts
	Now                func() time.Time
	Logger             *zap.Logger
	// OnFetch, when set, is called after every fetch attempt with its outcome (nil on success) and
	// the number of usable keys held afterwards.
	OnFetch func(err error, keys int)
}

// Set is one immutable snapshot of usable keys.
type Set struct {
	// Generation increases each time the usable keys change (not on a refresh that returns the same keys).
	Generation uint64
	keys       map[string]*rsa.PublicKey
}

// Key returns the key with id kid, or nil.
func (s *Set) Key(kid string) *rsa.PublicKey { return s.keys[kid] }

// Len is the number of usable keys.
func (s *Set) Len() int { return len(s.keys) }

// Cache holds one JWKS URL's keys.
type Cache struct {
	url  string
	opts Options
}

// New returns a Cache for url; it fetches nothing until Load, Lookup or Run.
func New(url string, opts Options) *Cache { return &Cache{url: url, opts: opts} }

// Load fetches the key set now.
func (c *Cache) Load(ctx context.Context) error { panic("not implemented") }

// Current returns the current key set, or nil before the first successful load.
func (c *Cache) Current() *Set { panic("not implemented") }

// Ready reports whether a key set has been loaded.
func (c *Cache) Ready() bool { panic("not implemented") }

// Lookup returns the key with id kid and the generation of the set it came from, refetching once
// (rate-limited, concurrent misses merged) when kid is unknown.
func (c *Cache) Lookup(ctx context.Context, kid string) (*rsa.PublicKey, uint64, error) {
	panic("not implemented")
}

// Run refreshes the key set until ctx ends: every MinRefetchInterval until the first load succeeds,
// then every RefreshInterval.
func (c *Cache) Run(ctx context.Context) { panic("not implemented") }
