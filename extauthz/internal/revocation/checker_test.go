package revocation

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/internal/testkit"
)

// checkDeadline is the deadline a test check runs under: what Envoy gives a check, about.
const checkDeadline = 500 * time.Millisecond

// TestCheckClassifiesEveryAnswer: every kind of answer, and every way of not getting one, ends in
// its result before the caller's deadline, under both on_unavailable settings, with no token text
// in any error or log line.
func TestCheckClassifiesEveryAnswer(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		header  map[string]string // answer headers
		slow    bool              // the answer never comes
		down    bool              // nothing listens at the endpoint
		want    Result
		outcome CallOutcome
	}{
		{name: "live", status: 200, body: answerLive, want: Live, outcome: CallLive},
		{name: "revoked, as Cognito says it", status: 400, body: answerRevoked, want: Revoked, outcome: CallRevoked},
		{name: "signed out, as moto says it", status: 400, body: answerRevokedMoto, want: Revoked, outcome: CallRevoked},
		{name: "user disabled", status: 400, body: answerUserDisabled, want: Revoked, outcome: CallRevoked},
		{name: "user deleted", status: 400, body: answerUserNotFound, want: Revoked, outcome: CallRevoked},
		{name: "error type with a namespace", status: 400, body: answerNamespaced, want: Revoked, outcome: CallRevoked},
		{name: "error type in the header only", status: 400, body: `{"message":"Access Token has been revoked"}`,
			header: map[string]string{"X-Amzn-ErrorType": "NotAuthorizedException:http://internal.amazon.com/coral/"}, want: Revoked, outcome: CallRevoked},
		{name: "expired by Cognito's clock", status: 400, body: answerExpired, want: Expired, outcome: CallExpired},
		{name: "throttled", status: 400, body: answerThrottled, want: Unavailable, outcome: CallThrottled},
		{name: "429", status: 429, body: "", want: Unavailable, outcome: CallThrottled},
		{name: "500", status: 500, body: `{"__type":"InternalErrorException","message":"x"}`, want: Unavailable, outcome: CallServerError},
		{name: "503 page", status: 503, body: answerHTML, want: Unavailable, outcome: CallServerError},
		{name: "moto's 500 page", status: 500, body: answerMotoRevokeErr, want: Unavailable, outcome: CallServerError},
		{name: "an error echoing the token", status: 500, body: answerEchoesToken, want: Unavailable, outcome: CallServerError},
		{name: "200 page, not an API", status: 200, body: answerHTML, want: Unavailable, outcome: CallError},
		{name: "200 without a user", status: 200, body: answerNoUser, want: Unavailable, outcome: CallError},
		{name: "400 page", status: 400, body: answerHTML, want: Unavailable, outcome: CallError},
		{name: "another refusal", status: 400, body: answerBadParameter, want: Unavailable, outcome: CallError},
		{name: "404", status: 404, body: "not found", want: Unavailable, outcome: CallError},
		{name: "empty body", status: 400, body: "", want: Unavailable, outcome: CallError},
		{name: "slow past the deadline", slow: true, want: Unavailable, outcome: CallTimeout},
		{name: "unreachable port", down: true, want: Unavailable, outcome: CallError},
	}
	for _, tt := range tests {
		for _, on := range []OnUnavailable{OnUnavailableAccept, OnUnavailableRefuse} {
			t.Run(fmt.Sprintf("%s, on_unavailable %s", tt.name, on), func(t *testing.T) {
				f := newFixture(t, tt.status, tt.body, func(c *Config, o *Options) {
					c.OnUnavailable = on
					o.CallTimeout = checkDeadline // the held call ends soon after the check gives up
					if tt.down {
						c.Endpoint = "http://" + closedPort(t) + "/"
					}
				})
				if tt.header != nil {
					f.cognito.setAnswer(func(w http.ResponseWriter, _ *http.Request, _ getUserBody) {
						for k, v := range tt.header {
							w.Header().Set(k, v)
						}
						w.WriteHeader(tt.status)
						_, _ = w.Write([]byte(tt.body))
					})
				}
				if tt.slow {
					f.cognito.hold()
				}

				v := f.checkWithin(t, f.access(secretToken, "sign-in-1"), checkDeadline)
				if v.Result != tt.want {
					t.Fatalf("result %s (%v), want %s", v.Result, v.Err, tt.want)
				}
				wantRefuse := tt.want == Revoked || tt.want == Expired || (tt.want == Unavailable && on == OnUnavailableRefuse)
				if v.Refuse != wantRefuse {
					t.Errorf("Refuse %v, want %v", v.Refuse, wantRefuse)
				}
				if (v.Err != nil) != (tt.want == Unavailable) {
					t.Errorf("Err %v for result %s", v.Err, v.Result)
				}
				testkit.Eventually(t, "the call's outcome", func() bool { return f.counts.calledTotal() == 1 })
				if got := f.counts.called[tt.outcome]; got != 1 {
					t.Errorf("call outcomes %v, want one %s", f.counts.called, tt.outcome)
				}
				wantNoToken(t, f, v)
			})
		}
	}
}

// wantNoToken fails the test when the token's text, or its payload, shows in v's error or in a
// log line.
func wantNoToken(t *testing.T, f *fixture, v Verdict) {
	t.Helper()
	payload := strings.Split(secretToken, ".")[1]
	texts := []string{}
	if v.Err != nil {
		texts = append(texts, v.Err.Error())
	}
	testkit.Eventually(t, "the call to end", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.flights) == 0
	})
	for _, e := range f.logs.All() {
		texts = append(texts, e.Message)
		for k, field := range e.ContextMap() {
			texts = append(texts, fmt.Sprint(k, field))
		}
	}
	for _, text := range texts {
		if strings.Contains(text, payload) {
			t.Fatalf("token text in %q", text)
		}
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestGetUserRequest: the call is Cognito's GetUser as the AWS SDK sends it, with the token in the
// body and no credentials.
func TestGetUserRequest(t *testing.T) {
	f := newFixture(t, 200, answerLive, nil)
	got := make(chan *http.Request, 1)
	bodies := make(chan getUserBody, 1)
	f.cognito.setAnswer(func(w http.ResponseWriter, r *http.Request, b getUserBody) {
		got <- r
		bodies <- b
		_, _ = w.Write([]byte(answerLive))
	})
	if v := f.checkWithin(t, f.access(secretToken, "o"), checkDeadline); v.Result != Live {
		t.Fatalf("result %s (%v)", v.Result, v.Err)
	}
	r, b := <-got, <-bodies
	for k, want := range map[string]string{
		"Content-Type": "application/x-amz-json-1.1",
		"X-Amz-Target": "AWSCognitoIdentityProviderService.GetUser",
	} {
		if r.Header.Get(k) != want {
			t.Errorf("%s: %q, want %q", k, r.Header.Get(k), want)
		}
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		t.Errorf("%s %s, want POST /", r.Method, r.URL.Path)
	}
	if r.Header.Get("Authorization") != "" {
		t.Errorf("the call carries credentials: %q", r.Header.Get("Authorization"))
	}
	if b.AccessToken != secretToken {
		t.Errorf("AccessToken %q, want the token", b.AccessToken)
	}
}

// TestCacheOneCallPerTokenPerPeriod: 1,000 checks of one token within the cache TTL make one
// call; the answer holds until the TTL, or the token's exp when that is sooner, then it is asked
// again.
func TestCacheOneCallPerTokenPerPeriod(t *testing.T) {
	f := newFixture(t, 200, answerLive, func(c *Config, _ *Options) { c.CacheTTL = 30 * time.Second })
	tok := f.access(secretToken, "o")
	for i := range 1000 {
		if v := f.checkWithin(t, tok, checkDeadline); v.Result != Live || v.Refuse {
			t.Fatalf("check %d: %+v", i, v)
		}
		if i%100 == 0 {
			f.clock.advance(2 * time.Second) // 20 s in all: within the TTL
		}
	}
	if n := f.cognito.calls.Load(); n != 1 {
		t.Fatalf("%d calls for 1,000 checks of one token, want 1", n)
	}
	if f.counts.from[FromCache] != 999 {
		t.Errorf("%d checks answered from the cache, want 999", f.counts.from[FromCache])
	}

	f.clock.advance(10 * time.Second) // 30 s after the answer
	f.checkWithin(t, tok, checkDeadline)
	if n := f.cognito.calls.Load(); n != 2 {
		t.Fatalf("%d calls once the TTL passed, want 2", n)
	}

	soon := f.access("token-expiring-soon", "o2")
	soon.ExpiresAt = f.clock.Now().Add(5 * time.Second)
	f.checkWithin(t, soon, checkDeadline)
	f.clock.advance(5 * time.Second)
	f.checkWithin(t, soon, checkDeadline)
	if n := f.cognito.calls.Load(); n != 4 {
		t.Fatalf("%d calls, want 4: a live answer holds no longer than the token", n)
	}
}

// TestConcurrentFirstChecksShareOneCall: 200 checks of one new token at once make one call, and
// each gets its answer.
func TestConcurrentFirstChecksShareOneCall(t *testing.T) {
	const checks = 200
	f := newFixture(t, 200, answerLive, nil)
	release := f.cognito.hold()
	defer release()
	tok := f.access(secretToken, "o")
	verdicts := make(chan Verdict, checks)
	for range checks {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			verdicts <- f.Check(ctx, tok)
		}()
	}
	k := f.keys.key(tok.Raw)
	testkit.Eventually(t, "every check to wait for the one call", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.flights[k] != nil && f.flights[k].checks == checks
	})
	release()
	for range checks {
		if v := <-verdicts; v.Result != Live || v.From != FromCall {
			t.Fatalf("verdict %+v, want live from the call", v)
		}
	}
	if n := f.cognito.calls.Load(); n != 1 {
		t.Fatalf("%d calls for %d concurrent checks of one token, want 1", n, checks)
	}
}

// TestRateLimitBoundsCalls: with max_rps 5, a crowd of new tokens gets five calls (the burst),
// the others are unavailable at once rather than queued past their deadline; a second later five
// more calls are allowed.
func TestRateLimitBoundsCalls(t *testing.T) {
	const tokens = 50
	f := newFixture(t, 200, answerLive, func(c *Config, _ *Options) {
		c.MaxRPS = 5
		c.OnUnavailable = OnUnavailableAccept
	})
	crowd := func(round int) map[Result]int {
		var wg sync.WaitGroup
		var mu sync.Mutex
		results := map[Result]int{}
		for i := range tokens {
			wg.Go(func() {
				// 100 ms: the check gives up at 50 ms, before a sixth call's turn (200 ms).
				v := f.checkWithin(t, f.access(fmt.Sprintf("token-%d-%d", round, i), "o"), 100*time.Millisecond)
				mu.Lock()
				results[v.Result]++
				mu.Unlock()
			})
		}
		wg.Wait()
		return results
	}
	if got := crowd(1); got[Live] != 5 || got[Unavailable] != tokens-5 {
		t.Fatalf("results %v, want 5 live and %d unavailable", got, tokens-5)
	}
	if n := f.cognito.calls.Load(); n != 5 {
		t.Fatalf("%d calls, want 5", n)
	}
	if f.counts.rateLimited != tokens-5 {
		t.Errorf("%d checks counted rate-limited, want %d", f.counts.rateLimited, tokens-5)
	}

	f.clock.advance(time.Second)
	crowd(2)
	if n := f.cognito.calls.Load(); n != 10 {
		t.Fatalf("%d calls after a second more, want 10", n)
	}
}

// TestRevokedFamily: once one token of a sign-in is found revoked, its ID token and a later access
// token of the same sign-in are refused without a call, and a token of it answered live before is
// refused too; the sign-in is forgotten once its latest token has expired.
func TestRevokedFamily(t *testing.T) {
	f := newFixture(t, 400, answerRevokedMoto, nil)
	first := f.access("access-1", "sign-in")
	if v := f.checkWithin(t, first, checkDeadline); v.Result != Revoked || v.From != FromCall || !v.Refuse {
		t.Fatalf("first access token: %+v, want revoked from the call", v)
	}
	idToken := f.id("id-1", "sign-in")
	refreshed := f.access("access-2", "sign-in")
	refreshed.ExpiresAt = first.ExpiresAt.Add(30 * time.Minute) // refreshed later: lives longer
	for _, tok := range []Token{idToken, refreshed, idToken} {
		if v := f.checkWithin(t, tok, checkDeadline); v.Result != Revoked || v.From != FromFamily || !v.Refuse {
			t.Fatalf("%s token of the revoked sign-in: %+v, want revoked from the family", tok.Use, v)
		}
	}
	if n := f.cognito.calls.Load(); n != 1 {
		t.Fatalf("%d calls, want 1", n)
	}

	f.clock.advance(time.Hour) // past the first token's exp, not the refreshed one's
	if v := f.checkWithin(t, idToken, checkDeadline); v.Result != Revoked {
		t.Fatalf("ID token while a later token of the sign-in lives: %+v, want revoked", v)
	}
	f.clock.advance(30 * time.Minute) // past every exp seen
	if v := f.checkWithin(t, idToken, checkDeadline); v.Result != NotCheckable || v.Refuse {
		t.Fatalf("ID token after the sign-in expired: %+v, want not checkable", v)
	}
	if f.families.revoked.Len() != 0 {
		t.Errorf("%d sign-ins remembered after they expired, want 0", f.families.revoked.Len())
	}

	// A token answered live, then its sign-in found revoked through another of its tokens.
	f.cognito.answerWith(200, answerLive)
	earlier := f.access("access-3", "other-sign-in")
	if v := f.checkWithin(t, earlier, checkDeadline); v.Result != Live {
		t.Fatalf("%+v, want live", v)
	}
	f.cognito.answerWith(400, answerRevoked)
	f.checkWithin(t, f.access("access-4", "other-sign-in"), checkDeadline)
	if v := f.checkWithin(t, earlier, checkDeadline); v.Result != Revoked || v.From != FromFamily {
		t.Fatalf("cached live token of a sign-in since revoked: %+v, want revoked from the family", v)
	}
}

// TestExpiredIsNoRevokedSignIn: Cognito's "has expired" refuses that token but does not refuse
// its sign-in: the next token refreshed from it is live.
func TestExpiredIsNoRevokedSignIn(t *testing.T) {
	f := newFixture(t, 400, answerExpired, nil)
	if v := f.checkWithin(t, f.access("access-1", "sign-in"), checkDeadline); v.Result != Expired || !v.Refuse {
		t.Fatalf("%+v, want expired", v)
	}
	if v := f.checkWithin(t, f.id("id-1", "sign-in"), checkDeadline); v.Result != NotCheckable {
		t.Fatalf("ID token of the sign-in: %+v, want not checkable", v)
	}
}

// TestNotCheckable: ID tokens and client-credentials tokens are let through as not checkable,
// without a call; an access token without origin_jti is checked, though its sign-in cannot be
// remembered.
func TestNotCheckable(t *testing.T) {
	f := newFixture(t, 400, answerRevoked, nil)
	machine := f.access("m2m", "sign-in-m")
	machine.HasUser = false
	for name, tok := range map[string]Token{
		"ID token":                  f.id("id", "sign-in"),
		"ID token without a family": f.id("id-2", ""),
		"client-credentials token":  machine,
		"unknown token use":         {Raw: "x", Use: "refresh", HasUser: true},
	} {
		if v := f.checkWithin(t, tok, checkDeadline); v.Result != NotCheckable || v.Refuse || v.From != FromNone {
			t.Errorf("%s: %+v, want not checkable and let through", name, v)
		}
	}
	if n := f.cognito.calls.Load(); n != 0 {
		t.Fatalf("%d calls, want none", n)
	}

	noFamily := f.access("access-no-origin", "")
	if v := f.checkWithin(t, noFamily, checkDeadline); v.Result != Revoked {
		t.Fatalf("access token without origin_jti: %+v, want revoked from the call", v)
	}
	if f.families.revoked.Len() != 0 {
		t.Errorf("a sign-in remembered for a token without origin_jti")
	}
}

// TestMemoryIsBounded: the live answers and the revoked sign-ins kept never exceed their bounds.
func TestMemoryIsBounded(t *testing.T) {
	const bound, tokens = 20, 200
	f := newFixture(t, 200, answerLive, func(c *Config, o *Options) {
		c.MaxRPS = 1000
		o.MaxCachedTokens, o.MaxRevokedFamilies = bound, bound
	})
	for i := range tokens {
		f.checkWithin(t, f.access(fmt.Sprintf("live-%d", i), fmt.Sprintf("o-%d", i)), checkDeadline)
	}
	f.cognito.answerWith(400, answerRevoked)
	for i := range tokens {
		f.checkWithin(t, f.access(fmt.Sprintf("revoked-%d", i), fmt.Sprintf("r-%d", i)), checkDeadline)
	}
	if n := f.live.len(); n > bound {
		t.Errorf("%d live answers kept, bound %d", n, bound)
	}
	if n := f.families.revoked.Len(); n != bound {
		t.Errorf("%d revoked sign-ins kept, want the bound %d", n, bound)
	}
	// The newest revocation is still known.
	if v := f.checkWithin(t, f.id("id", fmt.Sprintf("r-%d", tokens-1)), checkDeadline); v.Result != Revoked {
		t.Errorf("newest revoked sign-in: %+v, want revoked", v)
	}
}

// TestLogsOutageOnce: an endpoint that stops answering is logged once, and once again when it
// answers.
func TestLogsOutageOnce(t *testing.T) {
	f := newFixture(t, 503, answerHTML, nil)
	for i := range 5 {
		f.checkWithin(t, f.access(fmt.Sprintf("t-%d", i), "o"), checkDeadline)
	}
	f.cognito.answerWith(200, answerLive)
	f.checkWithin(t, f.access("t-live", "o"), checkDeadline)
	testkit.Eventually(t, "the calls to end", func() bool { return f.counts.calledTotal() == 6 })
	var levels []string
	for _, e := range f.logs.All() {
		levels = append(levels, e.Level.String())
	}
	if strings.Join(levels, ",") != "warn,info" {
		t.Fatalf("log levels %v, want one warning and one recovery", levels)
	}
}

// TestCancelledCheckEnds: a check whose caller goes away (no deadline, cancelled) ends at once as
// unavailable; the call goes on for whoever joins it.
func TestCancelledCheckEnds(t *testing.T) {
	f := newFixture(t, 200, answerLive, nil)
	release := f.cognito.hold()
	defer release()
	tok := f.access(secretToken, "o")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Verdict, 1)
	go func() { done <- f.Check(ctx, tok) }()
	k := f.keys.key(tok.Raw)
	testkit.Eventually(t, "the check to wait for its call", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.flights[k] != nil
	})
	cancel()
	if v := <-done; v.Result != Unavailable || !v.Refuse || !errors.Is(v.Err, context.Canceled) {
		t.Fatalf("cancelled check: %+v, want unavailable for the cancellation (refused by default)", v)
	}
	release()
	testkit.Eventually(t, "the call to fill the cache", func() bool { return f.live.live(k, f.clock.Now()) })
}

// TestReloadKeepsWhatItLearnt: a checker replacing another (a reload) keeps its revoked sign-ins
// always, and its live answers while the endpoint and cache_ttl are unchanged.
func TestReloadKeepsWhatItLearnt(t *testing.T) {
	f := newFixture(t, 200, answerLive, nil)
	live := f.access("live", "sign-in-live")
	f.checkWithin(t, live, checkDeadline)
	f.cognito.answerWith(400, answerRevoked)
	f.checkWithin(t, f.access("revoked", "sign-in-revoked"), checkDeadline)
	// A token asked about again after the reload gets an answer that changes no sign-in.
	f.cognito.answerWith(400, answerExpired)

	reload := func(edit func(*Config)) *Checker {
		cfg := f.cfg
		if edit != nil {
			edit(&cfg)
		}
		c, err := New(cfg, Options{Now: f.clock.Now, Previous: f.Checker})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tt := range []struct {
		name     string
		edit     func(*Config)
		wantLive Result // of the token answered live before: from the cache, or asked again
	}{
		{"unchanged", nil, Live},
		{"another max_rps", func(c *Config) { c.MaxRPS = 7 }, Live},
		{"another cache_ttl", func(c *Config) { c.CacheTTL = time.Second }, Expired},
		{"another endpoint", func(c *Config) { c.Endpoint = f.cognito.URL + "/other" }, Expired},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := reload(tt.edit)
			ctx, cancel := context.WithTimeout(context.Background(), checkDeadline)
			defer cancel()
			if v := c.Check(ctx, f.id("id", "sign-in-revoked")); v.Result != Revoked {
				t.Fatalf("ID token of a sign-in revoked before the reload: %+v, want revoked", v)
			}
			if v := c.Check(ctx, live); v.Result != tt.wantLive {
				t.Fatalf("token answered live before the reload: %+v, want %s", v, tt.wantLive)
			}
		})
	}
}
