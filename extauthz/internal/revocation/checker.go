package revocation

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Token uses a Token may have.
const (
	UseAccess = "access"
	UseID     = "id"
)

// Token is what a check needs of a token that passed every local check. Only Raw is secret: it is
// hashed for the cache, sent to Cognito, and neither kept nor logged.
type Token struct {
	Raw       string
	Use       string    // UseAccess or UseID (token_use)
	OriginJTI string    // origin_jti: one per sign-in, shared by its refreshed tokens; "" when absent
	ExpiresAt time.Time // exp
	// HasUser is whether the token names a user (username): a client-credentials token does not,
	// and GetUser has no one to answer for.
	HasUser bool
	// Memo, when set, is this token's own (never another's): a warm check reads its live answer
	// there instead of hashing the token and looking it up.
	Memo *Memo
}

// Result is what a check found: a metric label.
type Result string

// Results.
const (
	Live         Result = "live"          // Cognito says the token is live (now, or within the cache TTL)
	Revoked      Result = "revoked"       // Cognito refused it, or its sign-in is known revoked
	Expired      Result = "expired"       // Cognito says it has expired (its clock is past exp, ours is not)
	Unavailable  Result = "unavailable"   // no answer in time (down, slow, throttled, rate limit reached)
	NotCheckable Result = "not_checkable" // GetUser cannot tell: an ID token or a token with no user
)

// Results lists every result, so metrics can be pre-registered.
var Results = []Result{Live, Revoked, Expired, Unavailable, NotCheckable}

// Source is where a check's result came from: a metric label.
type Source string

// Sources.
const (
	FromCall   Source = "call"   // a GetUser call, this check's or one it joined
	FromCache  Source = "cache"  // a live answer within the cache TTL
	FromFamily Source = "family" // a revoked sign-in remembered: no call
	FromNone   Source = "none"   // not checkable, or no call could be made in time
)

// Verdict is the outcome of one check.
type Verdict struct {
	Result Result
	From   Source
	// Refuse is whether the token must be refused: Revoked and Expired always; Unavailable
	// when on_unavailable is unavailable. The caller gives the reason code.
	Refuse bool
	// Err says why the result is Unavailable; it never holds the token.
	Err error
}

// Observer receives events for metrics. Every method must be cheap and safe for concurrent use.
type Observer interface {
	// Checked is called once per Check.
	Checked(Verdict)
	// Called is called once per GetUser call, with how long it took.
	Called(CallOutcome, time.Duration)
	// RateLimited is called when the rate limit kept a check from calling Cognito in time.
	RateLimited()
}

// Options are a Checker's settings beyond its Config.
type Options struct {
	// Issuer is the issuer's URL, whose regional endpoint is asked when Config.Endpoint is empty.
	Issuer string
	// HTTPClient sends the calls; nil is a client of the package's own.
	HTTPClient *http.Client
	// CallTimeout bounds one call, whoever waits for it; default 5 s.
	CallTimeout time.Duration
	// MaxCachedTokens bounds the live answers kept; default DefaultMaxCachedTokens.
	MaxCachedTokens int
	// MaxRevokedFamilies bounds the revoked sign-ins kept; default DefaultMaxRevokedFamilies.
	MaxRevokedFamilies int
	Now                func() time.Time // default time.Now
	Observer           Observer         // nil observes nothing
	Logger             *zap.Logger      // nil logs nothing
	// Previous, when set, is the checker of the same issuer this one replaces (a configuration
	// reload). Its revoked sign-ins are kept, since a revocation is a fact about the sign-in,
	// not the configuration; its live answers when the endpoint and cache_ttl are unchanged; its
	// rate limit's state when max_rps is, so a reload grants no extra burst.
	Previous *Checker
}

// Default bounds of the checker's memory: as many live answers as the verifier keeps verified
// tokens by default, and as many revoked sign-ins.
const (
	DefaultMaxCachedTokens    = 10000
	DefaultMaxRevokedFamilies = 10000
)

// Checker checks tokens of one issuer with Cognito. It is safe for concurrent use; calls it
// started end within CallTimeout (plus a wait for the rate limit no longer than the caller's)
// and need no stopping.
type Checker struct {
	cfg         Config
	client      *Client
	callTimeout time.Duration
	now         func() time.Time
	observer    Observer
	logger      *zap.Logger

	keys     keyer
	live     *liveCache
	families *families
	limiter  *limiter

	mu      sync.Mutex
	flights map[tokenKey]*flight

	failing atomic.Bool // the last call got no answer: logged once until one does
}

// flight is one GetUser call under way, shared by every check of its token meanwhile.
type flight struct {
	done    chan struct{}
	verdict Verdict // set before done is closed
	checks  int     // how many checks wait for it (under Checker.mu)
}

// New returns a Checker for cfg, which must be valid (Config.Validate), whatever its mode: the
// caller asks Config.Wanted, per route, whether to check.
func New(cfg Config, o Options) (*Checker, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate("revocation", o.Issuer, true); err != nil {
		return nil, err
	}
	endpoint, err := cfg.endpointFor(o.Issuer)
	if err != nil {
		return nil, err
	}
	c := &Checker{
		cfg:         cfg,
		client:      NewClient(endpoint, o.HTTPClient),
		callTimeout: o.CallTimeout,
		now:         o.Now,
		observer:    o.Observer,
		logger:      o.Logger,
		keys:        newKeyer(),
		limiter:     newLimiter(cfg.MaxRPS),
		flights:     map[tokenKey]*flight{},
	}
	if c.callTimeout <= 0 {
		c.callTimeout = defaultCallTimeout
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.observer == nil {
		c.observer = nopObserver{}
	}
	if c.logger == nil {
		c.logger = zap.NewNop()
	}
	c.live = newLiveCache(orDefault(o.MaxCachedTokens, DefaultMaxCachedTokens))
	c.families = newFamilies(orDefault(o.MaxRevokedFamilies, DefaultMaxRevokedFamilies))
	if p := o.Previous; p != nil {
		c.families = p.families
		if p.client.endpoint == endpoint && p.cfg.CacheTTL == cfg.CacheTTL {
			c.keys, c.live = p.keys, p.live
		}
		if p.cfg.MaxRPS == cfg.MaxRPS {
			c.limiter = p.limiter
		}
	}
	return c, nil
}

func orDefault(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

// Check asks whether t is still live, answering before ctx's deadline (a margin before it, to
// leave the caller time to answer: see giveUpTime). It never returns an error: every way a check
// can end is a Verdict.
func (c *Checker) Check(ctx context.Context, t Token) Verdict {
	v := c.check(ctx, t)
	v.Refuse = v.Result == Revoked || v.Result == Expired ||
		(v.Result == Unavailable && c.cfg.OnUnavailable == OnUnavailableRefuse)
	c.observer.Checked(v)
	return v
}

func (c *Checker) check(ctx context.Context, t Token) Verdict {
	now := c.now()
	// A warm check: what the lookups below found last time still holds (Memo).
	if t.Memo.load().liveFor(c, now) {
		return Verdict{Result: Live, From: FromCache}
	}
	added := c.families.added.Load()
	// The family comes first: it refuses what GetUser cannot ask about (ID tokens), and a token
	// answered live before its sign-in was found revoked.
	if t.OriginJTI != "" && c.families.has(t.OriginJTI, t.ExpiresAt, now) {
		return Verdict{Result: Revoked, From: FromFamily}
	}
	if t.Use != UseAccess || !t.HasUser {
		return Verdict{Result: NotCheckable, From: FromNone}
	}
	k := c.keys.key(t.Raw)
	if a := c.live.get(k, now); a != nil {
		t.Memo.store(&memo{liveID: c.live.id, answer: a, familiesID: c.families.id, added: added})
		return Verdict{Result: Live, From: FromCache}
	}
	return c.ask(ctx, k, t)
}

// ask waits for the call about the token of k, starting it when none is under way.
func (c *Checker) ask(ctx context.Context, k tokenKey, t Token) Verdict {
	giveUp, hasDeadline := giveUpTime(ctx)
	c.mu.Lock()
	f := c.flights[k]
	if f == nil {
		f = &flight{done: make(chan struct{})}
		c.flights[k] = f
		latest := c.now().Add(c.callTimeout)
		if hasDeadline {
			latest = c.now().Add(time.Until(giveUp))
		}
		// The call serves every check that joins it, so no one check's deadline ends it.
		go c.fly(k, f, t, latest)
	}
	f.checks++
	c.mu.Unlock()

	var timer <-chan time.Time
	if hasDeadline {
		tm := time.NewTimer(time.Until(giveUp))
		defer tm.Stop()
		timer = tm.C
	}
	select {
	case <-f.done:
		return f.verdict
	case <-ctx.Done():
		return Verdict{Result: Unavailable, From: FromNone, Err: fmt.Errorf("gave up waiting for Cognito: %w", ctx.Err())}
	case <-timer:
		return Verdict{Result: Unavailable, From: FromNone, Err: errors.New("no answer from Cognito before the caller's deadline")}
	}
}

// fly makes the call of f, unless the rate limit allows none before latest, and records what it
// learnt.
func (c *Checker) fly(k tokenKey, f *flight, t Token, latest time.Time) {
	defer func() {
		c.mu.Lock()
		delete(c.flights, k)
		c.mu.Unlock()
		close(f.done)
	}()
	now := c.now()
	at, ok := c.limiter.reserve(now, latest)
	if !ok {
		c.observer.RateLimited()
		f.verdict = Verdict{Result: Unavailable, From: FromNone,
			Err: fmt.Errorf("rate limit of %v calls a second reached", c.cfg.MaxRPS)}
		return
	}
	if wait := at.Sub(now); wait > 0 {
		time.Sleep(wait) // the booked turn: bounded by latest, at most the caller's deadline
	}

	ctx, cancel := context.WithTimeout(context.Background(), c.callTimeout)
	defer cancel()
	start := time.Now()
	outcome, err := c.client.GetUser(ctx, t.Raw)
	c.observer.Called(outcome, time.Since(start))
	c.noteHealth(outcome, err)

	now = c.now()
	switch outcome {
	case CallLive:
		until := now.Add(c.cfg.CacheTTL)
		if !t.ExpiresAt.IsZero() && t.ExpiresAt.Before(until) {
			until = t.ExpiresAt
		}
		c.live.put(k, until)
		f.verdict = Verdict{Result: Live, From: FromCall}
	case CallRevoked:
		c.families.add(t.OriginJTI, t.ExpiresAt, now)
		f.verdict = Verdict{Result: Revoked, From: FromCall}
	case CallExpired:
		f.verdict = Verdict{Result: Expired, From: FromCall}
	default:
		f.verdict = Verdict{Result: Unavailable, From: FromCall, Err: err}
	}
}

// noteHealth logs when calls stop getting answers and when they get them again: one line each
// way, not one per call, so an outage at the rate limit does not flood the log.
func (c *Checker) noteHealth(outcome CallOutcome, err error) {
	if outcome.answered() {
		if c.failing.Swap(false) {
			c.logger.Info("revocation check: Cognito answers again", zap.String("endpoint", c.client.endpoint))
		}
		return
	}
	if !c.failing.Swap(true) {
		c.logger.Warn("revocation check: no answer from Cognito; checks are unavailable until it answers",
			zap.String("endpoint", c.client.endpoint), zap.String("outcome", string(outcome)), zap.Error(err),
			zap.String("on_unavailable", string(c.cfg.OnUnavailable)))
	}
}

// Margins a check leaves its caller between giving up on Cognito and the caller's deadline:
// half the time left, within these bounds, as the key waits do. Past its deadline Envoy answers
// on its own, so the check must end early enough for the caller to answer.
const (
	minAnswerMargin = 5 * time.Millisecond
	maxAnswerMargin = 250 * time.Millisecond
)

// giveUpTime returns when a check waiting under ctx gives up: a margin before ctx's deadline,
// and false when ctx has none.
func giveUpTime(ctx context.Context) (time.Time, bool) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return time.Time{}, false
	}
	margin := min(max(time.Until(deadline)/2, minAnswerMargin), maxAnswerMargin)
	return deadline.Add(-margin), true
}

type nopObserver struct{}

func (nopObserver) Checked(Verdict)                   {}
func (nopObserver) Called(CallOutcome, time.Duration) {}
func (nopObserver) RateLimited()                      {}
