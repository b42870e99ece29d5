package revocation

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/cognito-authz/cognito-authz/internal/testkit"
)

// secretToken is a token text that must never show up in an error or a log line.
const secretToken = "eyJhbGciOiJSUzI1NiJ9.eyJzZWNyZXQiOiJ0b2tlbiJ9.c2VjcmV0LXNpZ25hdHVyZQ"

// Cognito's answers, as Cognito and moto 5.2.1 give them.
const (
	answerLive          = `{"Username":"alice","UserAttributes":[{"Name":"sub","Value":"0c1d"}],"MFAOptions":[]}`
	answerRevoked       = `{"__type":"NotAuthorizedException","message":"Access Token has been revoked"}`
	answerRevokedMoto   = `{"__type":"NotAuthorizedException","message":"Invalid token"}`
	answerExpired       = `{"__type":"NotAuthorizedException","message":"Access Token has expired"}`
	answerThrottled     = `{"__type":"TooManyRequestsException","message":"Too many requests"}`
	answerUserNotFound  = `{"__type":"UserNotFoundException","message":"User does not exist."}`
	answerUserDisabled  = `{"__type":"NotAuthorizedException","message":"User is disabled."}`
	answerNamespaced    = `{"__type":"com.amazonaws.cognito.identity.idp.model#NotAuthorizedException","message":"Access Token has been revoked"}`
	answerBadParameter  = `{"__type":"InvalidParameterException","message":"1 validation error detected"}`
	answerEchoesToken   = `{"__type":"InternalErrorException","message":"` + secretToken + `"}`
	answerNoUser        = `{"MFAOptions":[]}`
	answerHTML          = "<html><body>502 Bad Gateway</body></html>"
	answerMotoRevokeErr = "<!doctype html>\n<title>500 Internal Server Error</title>"
)

// cognito is a stand-in Cognito API: it answers GetUser as told and counts the calls.
type cognito struct {
	*httptest.Server
	calls atomic.Int64
	stop  chan struct{} // closed when the test ends: a held answer gives up

	mu     sync.Mutex
	answer func(w http.ResponseWriter, r *http.Request, body getUserBody)
}

type getUserBody struct{ AccessToken string }

// newCognito starts a stand-in answering every call with status and body.
func newCognito(t testing.TB, status int, body string) *cognito {
	t.Helper()
	c := &cognito{stop: make(chan struct{})}
	c.answerWith(status, body)
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.calls.Add(1)
		raw, _ := io.ReadAll(r.Body)
		var b getUserBody
		_ = json.Unmarshal(raw, &b)
		c.mu.Lock()
		answer := c.answer
		c.mu.Unlock()
		answer(w, r, b)
	}))
	t.Cleanup(func() {
		close(c.stop)
		c.Close()
	})
	return c
}

func (c *cognito) answerWith(status int, body string) {
	c.setAnswer(func(w http.ResponseWriter, _ *http.Request, _ getUserBody) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
}

func (c *cognito) setAnswer(f func(w http.ResponseWriter, r *http.Request, body getUserBody)) {
	c.mu.Lock()
	c.answer = f
	c.mu.Unlock()
}

// hold makes every call wait for release (or for the caller to give up) before answering live.
func (c *cognito) hold() (release func()) {
	ch := make(chan struct{})
	c.setAnswer(func(w http.ResponseWriter, r *http.Request, _ getUserBody) {
		select {
		case <-ch:
			_, _ = io.WriteString(w, answerLive)
		case <-r.Context().Done():
		case <-c.stop:
		}
	})
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

// clock is a test's time, which moves only when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// counts is an Observer that counts.
type counts struct {
	mu          sync.Mutex
	checked     map[Result]int
	from        map[Source]int
	called      map[CallOutcome]int
	rateLimited int
}

func newCounts() *counts {
	return &counts{checked: map[Result]int{}, from: map[Source]int{}, called: map[CallOutcome]int{}}
}

func (c *counts) Checked(v Verdict) {
	c.mu.Lock()
	c.checked[v.Result]++
	c.from[v.From]++
	c.mu.Unlock()
}

func (c *counts) Called(o CallOutcome, d time.Duration) {
	c.mu.Lock()
	c.called[o]++
	c.mu.Unlock()
}

func (c *counts) RateLimited() {
	c.mu.Lock()
	c.rateLimited++
	c.mu.Unlock()
}

func (c *counts) calledTotal() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.called {
		n += v
	}
	return n
}

// fixture is a Checker of a stand-in Cognito, on a test clock, observed and logged.
type fixture struct {
	*Checker
	cognito *cognito
	clock   *clock
	counts  *counts
	logs    *observer.ObservedLogs
}

// newFixture returns a checker of a stand-in answering status and body; edit adjusts the
// configuration and options.
func newFixture(t testing.TB, status int, body string, edit func(*Config, *Options)) *fixture {
	t.Helper()
	f := &fixture{cognito: newCognito(t, status, body), clock: newClock(), counts: newCounts()}
	core, logs := observer.New(zap.DebugLevel)
	f.logs = logs
	cfg := Config{Mode: ModeOnline, Endpoint: f.cognito.URL + "/"}
	o := Options{Now: f.clock.Now, Observer: f.counts, Logger: zap.New(core), CallTimeout: 2 * time.Second}
	if edit != nil {
		edit(&cfg, &o)
	}
	c, err := New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	f.Checker = c
	t.Cleanup(func() {
		// Every call the test started ends (bounded by CallTimeout): none outlives the test.
		testkit.Eventually(t, "calls under way to end", func() bool {
			c.mu.Lock()
			defer c.mu.Unlock()
			return len(c.flights) == 0
		})
	})
	return f
}

// access is a user's access token of sign-in originJTI, expiring in an hour of f's clock.
func (f *fixture) access(raw, originJTI string) Token {
	return Token{Raw: raw, Use: UseAccess, OriginJTI: originJTI, ExpiresAt: f.clock.Now().Add(time.Hour), HasUser: true}
}

// id is the ID token of sign-in originJTI.
func (f *fixture) id(raw, originJTI string) Token {
	return Token{Raw: raw, Use: UseID, OriginJTI: originJTI, ExpiresAt: f.clock.Now().Add(time.Hour), HasUser: true}
}

// checkWithin checks t under a deadline of d, failing the test if the check ends after it.
func (f *fixture) checkWithin(t *testing.T, tok Token, d time.Duration) Verdict {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	v := f.Check(ctx, tok)
	if ctx.Err() != nil {
		t.Fatalf("the check answered %s after its deadline of %s", v.Result, d)
	}
	return v
}
