package e2e_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/cognito-authz/cognito-authz/extauthz"
	"github.com/cognito-authz/cognito-authz/testenv/e2e"
	"github.com/cognito-authz/cognito-authz/testenv/envoyconf"
	"github.com/cognito-authz/cognito-authz/testenv/issuer"
)

// testAuthzTimeout is Envoy's bound on one check in these tests. The product's 0.25s suits a
// dedicated host; on a small shared machine running -race a first RSA verification can take
// longer, and a timed-out check would read as a 503 these tests do not expect.
const testAuthzTimeout = "5s"

// startStack starts the local stack for one test (skipped with -short, and when there is no
// Envoy; see envoyproc.RequireEnvoy) and stops it when the test ends, printing Envoy's log if the
// test failed. configure, when not nil, adjusts cognito-authz's configuration.
func startStack(t *testing.T, configure func(*extauthz.Config)) *e2e.Stack {
	t.Helper()
	return startStackWith(t, e2e.Options{Configure: configure})
}

// startStackWith is startStack with more options; the test's check timeout (unless opts sets
// one) and logger are filled in (e2e.StartTest does the rest).
func startStackWith(t *testing.T, opts e2e.Options) *e2e.Stack {
	t.Helper()
	if opts.AuthzTimeout == "" {
		opts.AuthzTimeout = testAuthzTimeout
	}
	opts.Logger = zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	return e2e.StartTest(t, opts)
}

// get sends GET path through Envoy with header and fails the test if no answer comes back.
func get(t *testing.T, s *e2e.Stack, path string, header http.Header) *e2e.Answer {
	t.Helper()
	a, err := s.Get(t.Context(), path, header)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return a
}

// getAsIs is get with path sent in the request line as written (e2e.Stack.GetAsIs).
func getAsIs(t *testing.T, s *e2e.Stack, path string, header http.Header) *e2e.Answer {
	t.Helper()
	a, err := s.GetAsIs(t.Context(), path, header)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return a
}

// user returns the issuer's user, with groups when given.
func user(t *testing.T, is *issuer.Issuer, name string, groups ...string) issuer.User {
	t.Helper()
	u, err := is.SetGroups(name, groups...)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// withHeaders merges header sets, keeping every value (and each key's spelling).
func withHeaders(sets ...http.Header) http.Header {
	out := http.Header{}
	for _, h := range sets {
		for k, v := range h {
			out[k] = append(out[k], v...)
		}
	}
	return out
}

// wantApp fails the test unless the answer came from the app with status 200.
func wantApp(t *testing.T, a *e2e.Answer) {
	t.Helper()
	if a.Status != http.StatusOK || a.App == nil {
		t.Fatalf("want the app's 200, got %s", a)
	}
}

// wantIdentity checks the identity headers the app received: exactly one value of each header in
// want, and none of the other identity headers.
func wantIdentity(t *testing.T, a *e2e.Answer, want map[string]string) {
	t.Helper()
	for _, name := range envoyconf.IdentityHeaders {
		got := a.Received(name)
		w, expected := want[name]
		switch {
		case expected && !slices.Equal(got, []string{w}):
			t.Errorf("the app saw %s %q, want exactly %q", name, got, w)
		case !expected && len(got) > 0:
			t.Errorf("the app saw %s %q, want none", name, got)
		}
	}
}

// checksAnswered reads cognito-authz's check counter.
func checksAnswered(t *testing.T, s *e2e.Stack) float64 {
	t.Helper()
	n, err := s.Checks()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// wantChallenge checks a 401's WWW-Authenticate header.
func wantChallenge(t *testing.T, a *e2e.Answer, contains ...string) {
	t.Helper()
	got := a.Header.Values("Www-Authenticate")
	if len(got) != 1 || !strings.HasPrefix(got[0], `Bearer realm="cognito-authz"`) {
		t.Errorf("WWW-Authenticate %q, want one Bearer challenge of realm cognito-authz", got)
		return
	}
	for _, c := range contains {
		if !strings.Contains(got[0], c) {
			t.Errorf("WWW-Authenticate %q, want it to contain %s", got[0], c)
		}
	}
}

// loopback is the HTTP client of the tests' own requests to helpers and to the stack: only
// loopback is reachable, so no proxy from the environment is ever asked.
var loopback = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
