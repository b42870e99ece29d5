package jwks

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// testKeys are generated once per test binary: RSA generation is the slow part of these tests.
var testKeys struct {
	once              sync.Once
	a, b, c, weak1024 *rsa.PrivateKey
}

func keys(t *testing.T) (a, b, c, weak1024 *rsa.PrivateKey) {
	t.Helper()
	testKeys.once.Do(func() {
		gen := func(bits int) *rsa.PrivateKey {
			k, err := rsa.GenerateKey(rand.Reader, bits)
			if err != nil {
				panic(err)
			}
			return k
		}
		testKeys.a, testKeys.b, testKeys.c = gen(2048), gen(2048), gen(2048)
		testKeys.weak1024 = gen(1024)
	})
	return testKeys.a, testKeys.b, testKeys.c, testKeys.weak1024
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// rsaJWK is a usable public JWK for k, built by hand so a test can bend any member.
func rsaJWK(k *rsa.PrivateKey, kid string) map[string]any {
	return map[string]any{
		"kty": "RSA",
		"kid": kid,
		"n":   b64(k.N.Bytes()),
		"e":   b64(big.NewInt(int64(k.E)).Bytes()),
	}
}

// with returns a copy of m with the given members set; a nil value deletes the member.
func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

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

// jwksBody is {"keys":[elems...]}.
func jwksBody(t *testing.T, elems ...any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": elems})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jwksServer is a real HTTP endpoint whose answer a test can change and whose hits it can count.
type jwksServer struct {
	*httptest.Server
	hits    atomic.Int64
	handler atomic.Pointer[http.HandlerFunc]
	accepts atomic.Pointer[string] // Accept header of the latest request
}

func newJWKSServer(t *testing.T, body []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.serve(body)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		accept := r.Header.Get("Accept")
		s.accepts.Store(&accept)
		(*s.handler.Load())(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// serve makes the server answer 200 with body.
func (s *jwksServer) serve(body []byte) {
	s.handle(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
}

func (s *jwksServer) handle(h http.HandlerFunc) { s.handler.Store(&h) }

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

// eventually waits for cond, failing the test if it is not met by a generous deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond) // polling interval, not synchronisation: cond decides
	}
}
