// Package jwks keeps one issuer's JSON Web Key Set: loaded at start, refreshed in the background,
// refetched on an unknown key id at a bounded rate, and never emptied by a failing endpoint.
package jwks

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
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

// Defaults of the jwks keys of docs/reference.md#configuration-file. This package owns them; the
// verifier and the configuration file take them from here.
const (
	DefaultRefreshInterval    = time.Hour
	DefaultMinRefetchInterval = 10 * time.Second
	DefaultFetchTimeout       = 5 * time.Second
	DefaultMaxBytes           = 1 << 20
)

// Options tune a Cache. Zero values take those defaults. New cannot fail, so a negative value
// takes the default too; callers that take values from a user refuse negatives first (see
// verifier.Config.Validate).
type Options struct {
	RefreshInterval    time.Duration // background refresh period; default 1h
	MinRefetchInterval time.Duration // least time between fetches caused by unknown kids; also the retry delay before the first load; default 10s
	FetchTimeout       time.Duration // one fetch, connect to end of body; default 5s
	MaxBytes           int64         // response body cap; default 1 MiB
	Client             *http.Client  // default http.DefaultTransport; redirects are never followed, with any client
	Now                func() time.Time
	Logger             *zap.Logger
	// OnFetch, when set, is called after every fetch attempt with its outcome (nil on success) and
	// the number of usable keys held afterwards.
	OnFetch func(err error, keys int)
}

func (o Options) withDefaults() Options {
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = DefaultRefreshInterval
	}
	if o.MinRefetchInterval <= 0 {
		o.MinRefetchInterval = DefaultMinRefetchInterval
	}
	if o.FetchTimeout <= 0 {
		o.FetchTimeout = DefaultFetchTimeout
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	// Redirects are never followed, whoever built the client.
	o.Client = noRedirects(o.Client)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return o
}

// Set is one immutable snapshot of usable keys.
type Set struct {
	// Generation increases each time the usable keys change (not on a refresh that returns the same keys).
	Generation uint64
	keys       map[string]*rsa.PublicKey
}

// Key returns the key with id kid, or nil.
func (s *Set) Key(kid string) *rsa.PublicKey {
	if s == nil {
		return nil
	}
	return s.keys[kid]
}

// Len is the number of usable keys.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.keys)
}

// kids lists the key ids in order, for logs.
func (s *Set) kids() []string {
	out := make([]string, 0, s.Len())
	for kid := range s.keys {
		out = append(out, logKid(kid))
	}
	sort.Strings(out)
	return out
}

// Cache holds one JWKS URL's keys.
type Cache struct {
	url  string
	opts Options

	// current is read without a lock on every Lookup; only a finishing fetch replaces it.
	current atomic.Pointer[Set]

	mu        sync.Mutex
	inflight  *flight   // the fetch under way, which every caller joins; nil when none
	lastStart time.Time // when the latest fetch began, by opts.Now; zero before the first
	lastErr   error     // outcome of the latest finished fetch
}

// flight is one fetch that any number of callers wait on.
type flight struct {
	done chan struct{}
	err  error // set before done is closed
}

// New returns a Cache for url; it fetches nothing until Load, Lookup or Run.
func New(url string, opts Options) *Cache { return &Cache{url: url, opts: opts.withDefaults()} }

// Serves reports whether c fetches from url with the same limits as opts would (refresh and
// refetch intervals, timeout, size cap), so that a new configuration may keep c and its keys
// instead of fetching them again.
func (c *Cache) Serves(url string, opts Options) bool {
	o := opts.withDefaults()
	return c.url == url && c.opts.RefreshInterval == o.RefreshInterval &&
		c.opts.MinRefetchInterval == o.MinRefetchInterval && c.opts.FetchTimeout == o.FetchTimeout &&
		c.opts.MaxBytes == o.MaxBytes
}

// Load fetches the key set now.
func (c *Cache) Load(ctx context.Context) error {
	f, owner := c.begin(false)
	if owner {
		c.fetch(ctx, f)
		return f.err
	}
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return fmt.Errorf("waiting for the key set fetch from %s: %w", c.url, ctx.Err())
	}
}

// Current returns the current key set, or nil before the first successful load.
func (c *Cache) Current() *Set { return c.current.Load() }

// Ready reports whether a key set has been loaded.
func (c *Cache) Ready() bool { return c.current.Load() != nil }

// Lookup returns the key with id kid and the generation of the set it came from, refetching once
// (rate-limited, concurrent misses merged) when kid is unknown. A wait for that fetch ends when
// ctx does, and a margin before ctx's deadline, with ErrUnavailable: the fetch goes on for the
// next caller, bounded by FetchTimeout.
func (c *Cache) Lookup(ctx context.Context, kid string) (*rsa.PublicKey, uint64, error) {
	if s := c.current.Load(); s != nil {
		if k := s.keys[kid]; k != nil {
			return k, s.Generation, nil
		}
	}
	if kid == "" {
		// No usable key has an empty kid, so no fetch can find one.
		return nil, 0, fmt.Errorf("%w: empty key id", ErrUnknownKid)
	}

	f, owner := c.begin(true)
	var fetchErr error
	if f != nil {
		if owner {
			// The fetch serves every caller that joins it, so this caller's deadline or
			// cancellation must not end it; FetchTimeout still bounds it.
			go c.fetch(context.WithoutCancel(ctx), f)
		}
		giveUp, stop := beforeDeadline(ctx)
		defer stop()
		select {
		case <-f.done:
			fetchErr = f.err
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("%w: gave up waiting for the key set from %s: %w", ErrUnavailable, c.url, ctx.Err())
		case <-giveUp:
			return nil, 0, fmt.Errorf("%w: no key set from %s before the caller's deadline", ErrUnavailable, c.url)
		}
	} else {
		c.mu.Lock()
		fetchErr = c.lastErr
		c.mu.Unlock()
	}

	s := c.current.Load()
	if k := s.Key(kid); k != nil {
		return k, s.Generation, nil
	}
	switch {
	case s == nil && fetchErr == nil:
		// Rate-limited before any fetch finished (one is due from Run or Load).
		return nil, 0, fmt.Errorf("%w: key set from %s not loaded yet", ErrUnavailable, c.url)
	case fetchErr != nil:
		// The endpoint is failing: kid may be a key it would now serve, so this is no verdict on the token.
		return nil, 0, fmt.Errorf("%w: %w", ErrUnavailable, fetchErr)
	default:
		return nil, 0, fmt.Errorf("%w: kid %q is not in the key set from %s", ErrUnknownKid, logKid(kid), c.url)
	}
}

// Margins Lookup leaves its caller between giving up on a fetch and the caller's deadline, to
// answer in: half the time left, within these bounds. Half, because the answer must still be
// built, sent and read by Envoy on a host that may be busy; a key endpoint that needs more than
// half a check's budget is as good as down for that check.
const (
	minAnswerMargin = 5 * time.Millisecond
	maxAnswerMargin = 250 * time.Millisecond
)

// beforeDeadline returns a channel that fires a margin before ctx's deadline (never, when ctx has
// none), and the function that releases its timer. A check's deadline is Envoy's: past it Envoy
// answers on its own (a 503 even where auth is optional), so a wait on keys ends early enough for
// the caller to answer jwks_unavailable itself (docs/reference.md#verification).
func beforeDeadline(ctx context.Context) (<-chan time.Time, func()) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return nil, func() {}
	}
	left := time.Until(deadline)
	margin := min(max(left/2, minAnswerMargin), maxAnswerMargin)
	timer := time.NewTimer(left - margin)
	return timer.C, func() { timer.Stop() }
}

// Run refreshes the key set until ctx ends: every MinRefetchInterval until the first load succeeds,
// then every RefreshInterval.
func (c *Cache) Run(ctx context.Context) {
	wait := time.Duration(0) // not loaded yet: fetch at once
	if c.Ready() {
		wait = c.opts.RefreshInterval
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		// The error is logged and reported through OnFetch by the fetch itself.
		_ = c.Load(ctx)
		if c.Ready() {
			timer.Reset(c.opts.RefreshInterval)
		} else {
			timer.Reset(c.opts.MinRefetchInterval)
		}
	}
}

// begin returns the fetch in flight for the caller to wait on, or starts one that the caller
// (owner) must carry out with fetch. When rateLimited, it starts none (nil, false) if the latest
// fetch began less than MinRefetchInterval ago: a flood of unknown kids costs one fetch per interval.
func (c *Cache) begin(rateLimited bool) (f *flight, owner bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inflight != nil {
		return c.inflight, false
	}
	now := c.opts.Now()
	if rateLimited && !c.lastStart.IsZero() && now.Sub(c.lastStart) < c.opts.MinRefetchInterval {
		return nil, false
	}
	c.lastStart = now
	c.inflight = &flight{done: make(chan struct{})}
	return c.inflight, true
}

// fetch carries out f: fetch, parse, publish, report, then release every waiter.
func (c *Cache) fetch(ctx context.Context, f *flight) {
	defer func() {
		c.mu.Lock()
		c.inflight = nil
		c.lastErr = f.err
		c.mu.Unlock()
		close(f.done)
	}()
	f.err = c.fetchAndStore(ctx)
	held := c.Current().Len()
	if f.err != nil {
		c.opts.Logger.Warn("JWKS fetch failed; keeping the last good keys",
			zap.String("url", c.url), zap.Error(f.err), zap.Int("keys", held))
	}
	if c.opts.OnFetch != nil {
		c.opts.OnFetch(f.err, held)
	}
}

// fetchAndStore fetches and parses the key set and publishes it when its keys differ from the
// current ones. On any error the current set stays as it is.
func (c *Cache) fetchAndStore(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.FetchTimeout)
	defer cancel()
	body, err := fetchBody(ctx, c.opts.Client, c.url, c.opts.MaxBytes)
	if err != nil {
		return fmt.Errorf("fetching JWKS %s: %w", c.url, err)
	}
	keys, skips, err := parseSet(body)
	if err != nil {
		return fmt.Errorf("JWKS %s: %w", c.url, err)
	}
	for _, s := range skips {
		c.opts.Logger.Warn("JWKS key skipped", zap.String("url", c.url), zap.String("kid", logKid(s.Kid)), zap.String("why", s.Reason))
	}
	if len(keys) == 0 {
		return fmt.Errorf("JWKS %s: no usable keys (%d skipped)", c.url, len(skips))
	}

	old := c.current.Load()
	if old != nil && sameKeys(old.keys, keys) {
		return nil // same keys: keep the generation, so verified tokens stay cached
	}
	next := &Set{Generation: 1, keys: keys}
	if old != nil {
		next.Generation = old.Generation + 1
	}
	c.current.Store(next)
	c.opts.Logger.Info("JWKS keys changed", zap.String("url", c.url),
		zap.Uint64("generation", next.Generation), zap.Strings("kids", next.kids()))
	return nil
}

// logKid bounds a kid for logs and error messages: a kid comes from a token header or a remote
// document, and neither should be able to flood a log line.
func logKid(kid string) string {
	const maxKid = 128
	if len(kid) <= maxKid {
		return kid
	}
	return kid[:maxKid] + "…"
}
