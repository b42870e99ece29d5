package testkit

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// JWKSServer is an issuer's key endpoint on loopback: it serves a body a test can change, can be
// taken down or handed any handler, can hold its answers back to keep a fetch in flight, and
// counts its requests. It closes when the test ends.
type JWKSServer struct {
	*httptest.Server
	// Hits counts requests, held ones included.
	Hits atomic.Int64

	mu         sync.Mutex
	body       []byte
	handler    http.HandlerFunc // non-nil: answers instead of body
	hold       chan struct{}    // non-nil: requests wait until it is closed
	lastAccept string
}

// NewJWKSServer serves body (see JWKSBody) with 200 and Content-Type application/json.
func NewJWKSServer(t testing.TB, body []byte) *JWKSServer {
	t.Helper()
	s := &JWKSServer{body: body}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	t.Cleanup(s.Close)
	return s
}

// NewKeysServer serves the public JWKs of keys.
func NewKeysServer(t testing.TB, keys ...*Key) *JWKSServer {
	t.Helper()
	return NewJWKSServer(t, KeysBody(keys...))
}

// KeysBody is the JWKS document of keys' public halves.
func KeysBody(keys ...*Key) []byte {
	jwks := make([]any, 0, len(keys))
	for _, k := range keys {
		jwks = append(jwks, k.PublicJWK())
	}
	return JWKSBody(jwks...)
}

func (s *JWKSServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.Hits.Add(1)
	s.mu.Lock()
	s.lastAccept = r.Header.Get("Accept")
	hold := s.hold
	s.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	s.mu.Lock()
	body, handler := s.body, s.handler
	s.mu.Unlock()
	if handler != nil {
		handler(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// Serve makes the server answer 200 with body from now on (undoing Handle and Fail).
func (s *JWKSServer) Serve(body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.handler = body, nil
}

// Handle makes h answer every request from now on.
func (s *JWKSServer) Handle(h http.HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handler = h
}

// Fail makes the server answer status from now on: the endpoint is down.
func (s *JWKSServer) Fail(status int) {
	s.Handle(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", status) })
}

// Hold makes every request from now on wait until release is called (once or more); the answer
// is what the server serves at release.
func (s *JWKSServer) Hold() (release func()) {
	hold := make(chan struct{})
	s.mu.Lock()
	s.hold = hold
	s.mu.Unlock()
	return sync.OnceFunc(func() {
		s.mu.Lock()
		s.hold = nil
		s.mu.Unlock()
		close(hold)
	})
}

// LastAccept is the Accept header of the latest request.
func (s *JWKSServer) LastAccept() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastAccept
}
