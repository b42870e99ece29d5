package jwks

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/internal/testkit"
)

const testInterval = 10 * time.Second // MinRefetchInterval under an injected clock: never waited for

func randomKid(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Error(err)
	}
	return hex.EncodeToString(b)
}

func TestLoadAtStartUp(t *testing.T) {
	a, b, _, _ := keys(t)
	srv := newJWKSServer(t, testkit.JWKSBody(rsaJWK(a, "a"), rsaJWK(b, "b")))
	var log fetchLog
	c := New(srv.URL, Options{OnFetch: log.OnFetch})

	if c.Ready() || c.Current() != nil || srv.Hits.Load() != 0 {
		t.Fatal("a new cache must hold nothing and fetch nothing")
	}
	if err := c.Load(context.Background()); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !c.Ready() {
		t.Fatal("not ready after a good load")
	}
	set := c.Current()
	if set.Len() != 2 || set.Generation != 1 {
		t.Fatalf("set has %d keys, generation %d; want 2 keys, generation 1", set.Len(), set.Generation)
	}
	if !set.Key("a").Equal(&a.PublicKey) || !set.Key("b").Equal(&b.PublicKey) || set.Key("c") != nil {
		t.Fatal("set holds the wrong keys")
	}
	k, gen, err := c.Lookup(context.Background(), "b")
	if err != nil || gen != 1 || !k.Equal(&b.PublicKey) {
		t.Fatalf("Lookup(b) = gen %d, %v", gen, err)
	}
	if got := srv.Hits.Load(); got != 1 {
		t.Errorf("server hit %d times, want 1 (a Lookup hit must not fetch)", got)
	}
	if got := srv.LastAccept(); got != "application/json" {
		t.Errorf("Accept = %q, want application/json", got)
	}
	if got := log.last(t); got.err != nil || got.keys != 2 {
		t.Errorf("OnFetch(%v, %d), want (nil, 2)", got.err, got.keys)
	}
}

func TestNilSetIsEmpty(t *testing.T) {
	var s *Set
	if s.Key("a") != nil || s.Len() != 0 {
		t.Fatal("a nil Set must read as empty")
	}
}

func TestDefaults(t *testing.T) {
	c := New("http://127.0.0.1:1/jwks.json", Options{})
	o := c.opts
	if o.RefreshInterval != time.Hour || o.MinRefetchInterval != 10*time.Second ||
		o.FetchTimeout != 5*time.Second || o.MaxBytes != 1<<20 {
		t.Errorf("defaults = %v %v %v %v", o.RefreshInterval, o.MinRefetchInterval, o.FetchTimeout, o.MaxBytes)
	}
	if o.Now == nil || o.Logger == nil || o.Client == nil || o.Client.CheckRedirect == nil {
		t.Error("Now, Logger and a no-redirect Client must be defaulted")
	}

	mine := &http.Client{Timeout: time.Minute}
	c = New("http://127.0.0.1:1/jwks.json", Options{Client: mine})
	if c.opts.Client == mine || c.opts.Client.Timeout != time.Minute || c.opts.Client.CheckRedirect == nil {
		t.Error("a caller's client must be copied, keep its settings and lose its redirects")
	}
	if mine.CheckRedirect != nil {
		t.Error("the caller's client was modified")
	}
}

// TestFetchFailureKeepsLastGoodKeys breaks a loaded endpoint in every way
// docs/reference.md#verification names and checks that the error is reported and the keys survive.
func TestFetchFailureKeepsLastGoodKeys(t *testing.T) {
	a, _, _, weak := keys(t)
	good := testkit.JWKSBody(rsaJWK(a, "a"))

	tests := []struct {
		name     string
		opts     Options
		breakIt  func(t *testing.T, s *jwksServer)
		wantErr  string
		wantIsTo error // when set, errors.Is must hold as well
	}{
		{
			name:    "endpoint down",
			breakIt: func(t *testing.T, s *jwksServer) { s.Close() },
			wantErr: "fetching JWKS",
		},
		{
			name: "status 500",
			breakIt: func(t *testing.T, s *jwksServer) {
				s.Handle(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) })
			},
			wantErr: "status 500",
		},
		{
			name: "status 404",
			breakIt: func(t *testing.T, s *jwksServer) {
				s.Handle(http.NotFound)
			},
			wantErr: "status 404",
		},
		{
			name:    "garbage body",
			breakIt: func(t *testing.T, s *jwksServer) { s.Serve([]byte("<html>maintenance</html>")) },
			wantErr: "not a JWKS document",
		},
		{
			name: "oversized body with Content-Length",
			opts: Options{MaxBytes: 4096},
			breakIt: func(t *testing.T, s *jwksServer) {
				s.Serve(append(bytes.TrimSuffix(good, []byte("}")), append(bytes.Repeat([]byte(" "), 4096), '}')...))
			},
			wantErr: "exceeds the 4096-byte limit",
		},
		{
			name: "oversized chunked body",
			opts: Options{MaxBytes: 4096},
			breakIt: func(t *testing.T, s *jwksServer) {
				s.Handle(func(w http.ResponseWriter, _ *http.Request) {
					// Flushing first sends the body chunked, without a Content-Length to judge by.
					_, _ = w.Write(bytes.TrimSuffix(good, []byte("}")))
					w.(http.Flusher).Flush()
					_, _ = w.Write(bytes.Repeat([]byte(" "), 8192))
					_, _ = w.Write([]byte("}"))
				})
			},
			wantErr: "exceeds the 4096-byte limit",
		},
		{
			name: "slow endpoint times out",
			opts: Options{FetchTimeout: 50 * time.Millisecond},
			breakIt: func(t *testing.T, s *jwksServer) {
				testEnded := make(chan struct{})
				t.Cleanup(func() { close(testEnded) })
				s.Handle(func(w http.ResponseWriter, r *http.Request) {
					select {
					case <-testEnded:
					case <-r.Context().Done(): // the client gave up
					}
				})
			},
			wantErr:  "deadline exceeded",
			wantIsTo: context.DeadlineExceeded,
		},
		{
			name:    "zero usable keys",
			breakIt: func(t *testing.T, s *jwksServer) { s.Serve(testkit.JWKSBody(rsaJWK(weak, "weak"))) },
			wantErr: "no usable keys (1 skipped)",
		},
		{
			name:    "empty key set",
			breakIt: func(t *testing.T, s *jwksServer) { s.Serve([]byte(`{"keys":[]}`)) },
			wantErr: "no usable keys (0 skipped)",
		},
		{
			name:     "redirect to another host",
			breakIt:  redirectElsewhere(good),
			wantErr:  "status 302",
			wantIsTo: errRedirect,
		},
		{
			name:     "redirect with a caller's client",
			opts:     Options{Client: &http.Client{}},
			breakIt:  redirectElsewhere(good),
			wantErr:  "status 302",
			wantIsTo: errRedirect,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			srv := newJWKSServer(t, good)
			clock := newFakeClock()
			var log fetchLog
			opts := tt.opts
			opts.Now, opts.OnFetch, opts.MinRefetchInterval = clock.Now, log.OnFetch, testInterval
			c := New(srv.URL, opts)
			if err := c.Load(ctx); err != nil {
				t.Fatalf("first Load: %v", err)
			}
			before := c.Current()

			tt.breakIt(t, srv)
			err := c.Load(ctx)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Load = %v, want an error containing %q", err, tt.wantErr)
			}
			if tt.wantIsTo != nil && !errors.Is(err, tt.wantIsTo) {
				t.Errorf("Load = %v, want errors.Is %v", err, tt.wantIsTo)
			}
			if got := log.last(t); got.err == nil || got.keys != 1 {
				t.Errorf("OnFetch(%v, %d), want (an error, 1)", got.err, got.keys)
			}
			if c.Current() != before || !c.Ready() {
				t.Fatal("a failed fetch replaced or dropped the last good keys")
			}
			if k, gen, err := c.Lookup(ctx, "a"); err != nil || gen != 1 || !k.Equal(&a.PublicKey) {
				t.Fatalf("Lookup(a) after the failure = gen %d, %v", gen, err)
			}

			// An unknown kid now cannot be told apart from a key the broken endpoint would serve.
			clock.Advance(testInterval)
			if _, _, err := c.Lookup(ctx, "new"); !errors.Is(err, ErrUnavailable) {
				t.Errorf("Lookup(new) with the refetch failing = %v, want ErrUnavailable", err)
			}
			calls := log.count()
			if _, _, err := c.Lookup(ctx, "newer"); !errors.Is(err, ErrUnavailable) {
				t.Errorf("rate-limited Lookup after a failed fetch = %v, want ErrUnavailable", err)
			}
			if log.count() != calls {
				t.Error("a rate-limited Lookup fetched")
			}
		})
	}
}

// redirectElsewhere makes the server redirect to a second server that holds good keys, and checks
// at the end of the test that the second one was never asked.
func redirectElsewhere(body []byte) func(t *testing.T, s *jwksServer) {
	return func(t *testing.T, s *jwksServer) {
		other := newJWKSServer(t, body)
		t.Cleanup(func() {
			if n := other.Hits.Load(); n != 0 {
				t.Errorf("the redirect target was fetched %d times", n)
			}
		})
		s.Handle(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/jwks.json", http.StatusFound)
		})
	}
}

func TestLookupBeforeAnyLoad(t *testing.T) {
	a, _, _, _ := keys(t)
	ctx := context.Background()
	srv := newJWKSServer(t, nil)
	srv.Handle(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
	clock := newFakeClock()
	c := New(srv.URL, Options{Now: clock.Now, MinRefetchInterval: testInterval})

	if _, _, err := c.Lookup(ctx, "a"); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "status 503") {
		t.Fatalf("Lookup with the endpoint down = %v, want ErrUnavailable naming status 503", err)
	}
	if _, _, err := c.Lookup(ctx, "a"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("rate-limited Lookup, never loaded = %v, want ErrUnavailable", err)
	}
	if n := srv.Hits.Load(); n != 1 || c.Ready() {
		t.Fatalf("hits = %d, ready = %v; want 1 fetch and not ready", n, c.Ready())
	}

	srv.Serve(testkit.JWKSBody(rsaJWK(a, "a")))
	clock.Advance(testInterval)
	if k, gen, err := c.Lookup(ctx, "a"); err != nil || gen != 1 || !k.Equal(&a.PublicKey) {
		t.Fatalf("Lookup once the endpoint is back = gen %d, %v", gen, err)
	}
	if !c.Ready() || srv.Hits.Load() != 2 {
		t.Fatalf("ready = %v, hits = %d; want ready after 2 fetches", c.Ready(), srv.Hits.Load())
	}
}

func TestLookupEmptyKidNeverFetches(t *testing.T) {
	srv := newJWKSServer(t, nil)
	c := New(srv.URL, Options{})
	if _, _, err := c.Lookup(context.Background(), ""); !errors.Is(err, ErrUnknownKid) {
		t.Fatalf("Lookup(\"\") = %v, want ErrUnknownKid", err)
	}
	if srv.Hits.Load() != 0 {
		t.Fatal("an empty kid caused a fetch")
	}
}

func TestLookupErrorBoundsKid(t *testing.T) {
	a, _, _, _ := keys(t)
	srv := newJWKSServer(t, testkit.JWKSBody(rsaJWK(a, "a")))
	c := New(srv.URL, Options{})
	if err := c.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.Lookup(context.Background(), strings.Repeat("k", 10000))
	if !errors.Is(err, ErrUnknownKid) || len(err.Error()) > 400 {
		t.Fatalf("Lookup(10000-byte kid) = %d-byte error %v; want a short ErrUnknownKid", len(err.Error()), errors.Unwrap(err))
	}
}

func TestGeneration(t *testing.T) {
	a, b, c, _ := keys(t)
	first := []any{rsaJWK(a, "a"), rsaJWK(b, "b")}
	tests := []struct {
		name    string
		second  []any
		changed bool
	}{
		{"identical refresh", []any{rsaJWK(a, "a"), rsaJWK(b, "b")}, false},
		{"same keys reordered", []any{rsaJWK(b, "b"), rsaJWK(a, "a")}, false},
		{"same keys, metadata added", []any{with(rsaJWK(a, "a"), "use", "sig", "alg", "RS256"), rsaJWK(b, "b")}, false},
		{"same keys beside a skipped one", []any{rsaJWK(a, "a"), rsaJWK(b, "b"), with(rsaJWK(c, "c"), "use", "enc")}, false},
		{"key added", []any{rsaJWK(a, "a"), rsaJWK(b, "b"), rsaJWK(c, "c")}, true},
		{"key removed", []any{rsaJWK(a, "a")}, true},
		{"kid now names another key", []any{rsaJWK(a, "a"), rsaJWK(c, "b")}, true},
		{"key renamed", []any{rsaJWK(a, "a"), rsaJWK(b, "b2")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			srv := newJWKSServer(t, testkit.JWKSBody(first...))
			cache := New(srv.URL, Options{})
			if err := cache.Load(ctx); err != nil {
				t.Fatal(err)
			}
			before := cache.Current()
			srv.Serve(testkit.JWKSBody(tt.second...))
			if err := cache.Load(ctx); err != nil {
				t.Fatal(err)
			}
			after := cache.Current()
			switch {
			case tt.changed && after.Generation != before.Generation+1:
				t.Errorf("generation %d -> %d, want it bumped by one", before.Generation, after.Generation)
			case !tt.changed && (after != before || after.Generation != before.Generation):
				t.Errorf("generation %d -> %d on unchanged keys, want the same set kept", before.Generation, after.Generation)
			}
		})
	}
}

func TestRotationFoundAfterRefetch(t *testing.T) {
	a, b, _, _ := keys(t)
	ctx := context.Background()
	srv := newJWKSServer(t, testkit.JWKSBody(rsaJWK(a, "a")))
	clock := newFakeClock()
	c := New(srv.URL, Options{Now: clock.Now, MinRefetchInterval: testInterval})
	if err := c.Load(ctx); err != nil {
		t.Fatal(err)
	}
	srv.Serve(testkit.JWKSBody(rsaJWK(a, "a"), rsaJWK(b, "b")))

	// Within MinRefetchInterval of the load, a new kid is not worth a fetch.
	clock.Advance(testInterval - time.Nanosecond)
	if _, _, err := c.Lookup(ctx, "b"); !errors.Is(err, ErrUnknownKid) {
		t.Fatalf("Lookup(b) inside the interval = %v, want ErrUnknownKid", err)
	}
	if n := srv.Hits.Load(); n != 1 {
		t.Fatalf("hits = %d, want 1", n)
	}

	clock.Advance(time.Nanosecond)
	k, gen, err := c.Lookup(ctx, "b")
	if err != nil || gen != 2 || !k.Equal(&b.PublicKey) {
		t.Fatalf("Lookup(b) after the interval = gen %d, %v; want key b, generation 2", gen, err)
	}
	if n := srv.Hits.Load(); n != 2 {
		t.Fatalf("hits = %d, want 2", n)
	}
	if _, gen, err := c.Lookup(ctx, "a"); err != nil || gen != 2 {
		t.Fatalf("Lookup(a) after rotation = gen %d, %v", gen, err)
	}
}

// TestKidFlood: many goroutines with random kids cost one fetch per MinRefetchInterval.
func TestKidFlood(t *testing.T) {
	a, _, _, _ := keys(t)
	ctx := context.Background()
	srv := newJWKSServer(t, testkit.JWKSBody(rsaJWK(a, "a")))
	clock := newFakeClock()
	c := New(srv.URL, Options{Now: clock.Now, MinRefetchInterval: testInterval})
	if err := c.Load(ctx); err != nil {
		t.Fatal(err)
	}

	flood := func() {
		t.Helper()
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				for range 20 {
					kid := randomKid(t)
					if _, _, err := c.Lookup(ctx, kid); !errors.Is(err, ErrUnknownKid) {
						t.Errorf("Lookup(%s) = %v, want ErrUnknownKid", kid, err)
					}
				}
			})
		}
		wg.Wait()
	}

	tests := []struct {
		name     string
		advance  time.Duration
		wantHits int64
	}{
		{"within the interval of the load", 0, 1},
		{"one interval on", testInterval, 2},
		{"still within that interval", testInterval - time.Nanosecond, 2},
		{"the next interval", time.Nanosecond, 3},
	}
	for _, tt := range tests {
		clock.Advance(tt.advance)
		flood()
		if got := srv.Hits.Load(); got != tt.wantHits {
			t.Fatalf("%s: %d fetches in all, want %d", tt.name, got, tt.wantHits)
		}
	}
}

// TestConcurrentMissesShareOneFetch: callers missing while a fetch is in flight wait for it and
// get its keys, rather than being turned away by the rate limit.
func TestConcurrentMissesShareOneFetch(t *testing.T) {
	a, b, _, _ := keys(t)
	ctx := context.Background()
	srv := newJWKSServer(t, testkit.JWKSBody(rsaJWK(a, "a")))
	clock := newFakeClock()
	c := New(srv.URL, Options{Now: clock.Now, MinRefetchInterval: testInterval})
	if err := c.Load(ctx); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseOnce) // a failing test must not leave the handler blocking Server.Close
	rotated := testkit.JWKSBody(rsaJWK(a, "a"), rsaJWK(b, "b"))
	srv.Handle(func(w http.ResponseWriter, r *http.Request) {
		<-release
		_, _ = w.Write(rotated)
	})
	clock.Advance(testInterval)

	const callers = 50
	var started atomic.Int32
	errs := make(chan error, callers)
	for range callers {
		go func() {
			started.Add(1)
			_, _, err := c.Lookup(ctx, "b")
			errs <- err
		}()
	}
	testkit.Eventually(t, "the refetch to reach the server and every caller to start", func() bool {
		return srv.Hits.Load() == 2 && started.Load() == callers
	})
	releaseOnce()
	for range callers {
		if err := <-errs; err != nil {
			t.Errorf("Lookup(b) = %v, want key b from the shared fetch", err)
		}
	}
	if n := srv.Hits.Load(); n != 2 {
		t.Fatalf("hits = %d, want 2 (one load, one shared refetch)", n)
	}
}

// TestWaiterCancel: a waiter whose ctx ends gets ErrUnavailable at once; the fetch goes on for others.
func TestWaiterCancel(t *testing.T) {
	a, _, _, _ := keys(t)
	srv := newJWKSServer(t, nil)
	release := make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseOnce)
	body := testkit.JWKSBody(rsaJWK(a, "a"))
	srv.Handle(func(w http.ResponseWriter, r *http.Request) {
		<-release
		_, _ = w.Write(body)
	})
	c := New(srv.URL, Options{})

	impatientCtx, cancel := context.WithCancel(context.Background())
	impatient := make(chan error, 1)
	go func() {
		_, _, err := c.Lookup(impatientCtx, "a")
		impatient <- err
	}()
	testkit.Eventually(t, "the fetch to reach the server", func() bool { return srv.Hits.Load() == 1 })
	patient := make(chan error, 1)
	go func() {
		_, _, err := c.Lookup(context.Background(), "a")
		patient <- err
	}()

	cancel()
	select {
	case err := <-impatient:
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled waiter got %v, want ErrUnavailable wrapping context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled waiter is still waiting for the fetch")
	}

	releaseOnce()
	select {
	case err := <-patient:
		if err != nil {
			t.Fatalf("the other waiter got %v, want the key: cancelling one waiter must not cancel the fetch", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the other waiter never got an answer")
	}
	if n := srv.Hits.Load(); n != 1 || !c.Ready() {
		t.Fatalf("hits = %d, ready = %v; want one fetch that loaded the keys", n, c.Ready())
	}
}

// TestWaitEndsBeforeTheDeadline: with the key endpoint stalling, a lookup that must refetch gives
// up before its caller's deadline, not at it, so the caller still has time to answer (a check's
// deadline is Envoy's timeout, past which Envoy answers a 503 of its own).
func TestWaitEndsBeforeTheDeadline(t *testing.T) {
	a, _, _, _ := keys(t)
	srv := newJWKSServer(t, testkit.JWKSBody(rsaJWK(a, "a")))
	c := New(srv.URL, Options{MinRefetchInterval: time.Nanosecond})
	if err := c.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	stalled := make(chan struct{})
	t.Cleanup(func() { close(stalled) })
	srv.Handle(func(http.ResponseWriter, *http.Request) { <-stalled })

	for _, timeout := range []time.Duration{250 * time.Millisecond, 2 * time.Second} {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		_, _, err := c.Lookup(ctx, "unknown-kid")
		ended := ctx.Err()
		cancel()
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("timeout %v: Lookup = %v, want ErrUnavailable", timeout, err)
		}
		if ended != nil {
			t.Errorf("timeout %v: Lookup returned only once the caller's deadline had passed (%v)", timeout, err)
		}
	}
}

func TestLoadWaiterCancel(t *testing.T) {
	srv := newJWKSServer(t, nil)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv.Handle(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	c := New(srv.URL, Options{})
	go func() { _, _, _ = c.Lookup(context.Background(), "a") }()
	testkit.Eventually(t, "the fetch to reach the server", func() bool { return srv.Hits.Load() == 1 })

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Load(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Load joining a fetch with a cancelled ctx = %v, want context.Canceled", err)
	}
}

func TestRunBecomesReadyWhenEndpointRecovers(t *testing.T) {
	a, _, _, _ := keys(t)
	srv := newJWKSServer(t, nil)
	var down atomic.Bool
	down.Store(true)
	body := testkit.JWKSBody(rsaJWK(a, "a"))
	srv.Handle(func(w http.ResponseWriter, _ *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write(body)
	})
	var log fetchLog
	c := New(srv.URL, Options{MinRefetchInterval: time.Millisecond, RefreshInterval: time.Hour, OnFetch: log.OnFetch})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()

	testkit.Eventually(t, "Run to retry the down endpoint", func() bool { return srv.Hits.Load() >= 3 })
	if c.Ready() {
		t.Fatal("ready while the endpoint is down")
	}
	down.Store(false)
	testkit.Eventually(t, "Run to load the keys", c.Ready)
	if got := log.last(t); got.err != nil || got.keys != 1 {
		t.Errorf("OnFetch(%v, %d) after recovery, want (nil, 1)", got.err, got.keys)
	}

	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its ctx ended")
	}
}

func TestRunRefreshes(t *testing.T) {
	a, b, _, _ := keys(t)
	srv := newJWKSServer(t, testkit.JWKSBody(rsaJWK(a, "a")))
	c := New(srv.URL, Options{RefreshInterval: time.Millisecond})
	if err := c.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.Serve(testkit.JWKSBody(rsaJWK(b, "b")))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	testkit.Eventually(t, "a refresh to bring key b", func() bool { return c.Current().Key("b") != nil })
	if s := c.Current(); s.Generation != 2 || s.Key("a") != nil {
		t.Errorf("after the refresh: generation %d, key a present = %v", s.Generation, s.Key("a") != nil)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its ctx ended")
	}
}
