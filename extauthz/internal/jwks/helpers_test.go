package jwks

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/cognito-authz/cognito-authz/internal/testkit"
)

// keys are the shared test keys: three usable ones and one too small to use.
func keys(t *testing.T) (a, b, c, weak1024 *rsa.PrivateKey) {
	t.Helper()
	return testkit.SharedKey("a").Private, testkit.SharedKey("b").Private, testkit.SharedKey("c").Private,
		testkit.SharedWeakKey("weak").Private
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// rsaJWK is a usable public JWK for k with neither use nor alg, so a test can bend any member.
func rsaJWK(k *rsa.PrivateKey, kid string) map[string]any {
	return testkit.With(testkit.RSAJWK(kid, &k.PublicKey), "use", nil, "alg", nil)
}

// with is testkit.With: a copy of m with members set (nil deletes).
var with = testkit.With

// jwxJWK is the JWK jwx itself produces for raw (any key type), with kid set.
func jwxJWK(t *testing.T, raw any, kid string) json.RawMessage {
	t.Helper()
	k, err := jwk.FromRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Set(jwk.KeyIDKey, kid); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jwksServer is a real HTTP endpoint whose answer a test can change and whose hits it can count.
type jwksServer = testkit.JWKSServer

var newJWKSServer = testkit.NewJWKSServer

// fakeClock is the injected Options.Now: it moves only when a test moves it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fetchLog records OnFetch calls.
type fetchLog struct {
	mu    sync.Mutex
	calls []fetchCall
}

type fetchCall struct {
	err  error
	keys int
}

func (l *fetchLog) OnFetch(err error, keys int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, fetchCall{err, keys})
}

func (l *fetchLog) last(t *testing.T) fetchCall {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.calls) == 0 {
		t.Fatal("OnFetch was never called")
	}
	return l.calls[len(l.calls)-1]
}

func (l *fetchLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.calls)
}
