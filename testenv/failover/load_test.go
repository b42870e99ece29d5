package failover

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
)

// caller is one kind of request the load sends: a user's token, or none at all.
type caller struct {
	token string // empty: anonymous
	sub   string // the identity Envoy must pass on for token
}

// load sends GET requests through Envoy from a few workers until stopAt requests have been issued.
// Request number atKill (counting from 1) closes reachedKill, so the test ends a replica after a
// number of requests, not after a wait.
type load struct {
	url     string
	callers []caller
	client  *http.Client

	issued      atomic.Int64 // request numbers handed out
	stopAt      atomic.Int64 // no request past this number is sent
	atKill      int64
	reachedKill chan struct{}
	completed   atomic.Int64
	failed      atomic.Int64

	tokenRequests, anonymousRequests atomic.Int64

	mu       sync.Mutex
	failures []string // the first few, for the test log
}

const keptFailures = 20

func newLoad(url string, callers []caller, workers int, atKill, stopAt int64) *load {
	l := &load{
		url:     url,
		callers: callers,
		// One keep-alive connection per worker, as a steady client population would hold.
		client:      &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers, DisableCompression: true}},
		atKill:      atKill,
		reachedKill: make(chan struct{}),
	}
	l.stopAt.Store(stopAt)
	return l
}

// stopAfter lets n more requests go out (never past the limit already set).
func (l *load) stopAfter(n int64) {
	l.stopAt.Store(min(l.stopAt.Load(), l.issued.Load()+n))
}

// run drives workers until the limit or ctx ends.
func (l *load) run(ctx context.Context, workers int) {
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				n := l.issued.Add(1)
				if n > l.stopAt.Load() {
					return
				}
				if n == l.atKill {
					close(l.reachedKill)
				}
				c := l.callers[int(n)%len(l.callers)]
				if c.token != "" {
					l.tokenRequests.Add(1)
				} else {
					l.anonymousRequests.Add(1)
				}
				if err := l.request(ctx, c); err != nil {
					l.fail(n, c, err)
				}
				l.completed.Add(1)
			}
		})
	}
	wg.Wait()
	l.client.CloseIdleConnections()
}

// request sends one request and says what was wrong with the answer, if anything: any status but
// 200 on this optional route, an identity that is not the token's, or one for an anonymous caller.
func (l *load) request(ctx context.Context, c caller) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.url+"/api/activities/home", nil)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d %.120q", resp.StatusCode, body)
	}
	var echoed struct {
		Headers map[string][]string `json:"headers"`
		User    *struct {
			Sub string `json:"sub"`
		} `json:"user"`
	}
	if err := json.Unmarshal(body, &echoed); err != nil {
		return fmt.Errorf("backend answer is not its JSON: %v", err)
	}
	status := echoed.Headers["x-auth-status"]
	switch {
	case c.token != "" && !slices.Equal(status, []string{"authenticated"}):
		return fmt.Errorf("token request reached the app with x-auth-status %q", status)
	case c.token != "" && (echoed.User == nil || echoed.User.Sub != c.sub):
		return fmt.Errorf("token request reached the app as %+v, want sub %s", echoed.User, c.sub)
	case c.token == "" && !slices.Equal(status, []string{"anonymous"}):
		return fmt.Errorf("anonymous request reached the app with x-auth-status %q", status)
	}
	return nil
}

func (l *load) fail(n int64, c caller, err error) {
	l.failed.Add(1)
	kind := "anonymous"
	if c.token != "" {
		kind = "token of " + c.sub
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) < keptFailures {
		l.failures = append(l.failures, fmt.Sprintf("request %d (%s): %v", n, kind, err))
	}
}
