package e2e_test

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/testenv/backend"
	"github.com/cognito-authz/cognito-authz/testenv/childproc"
	"github.com/cognito-authz/cognito-authz/testenv/e2e"
	"github.com/cognito-authz/cognito-authz/testenv/envoyproc"
	"github.com/cognito-authz/cognito-authz/testenv/issuer"
)

// flaskDir holds the seed's back end migrated to cognito-authz (app.py) and its unit tests, run by
// the python3 on PATH with the Flask pinned in its requirements.txt (installed by .ci/install-deps).
var flaskDir = filepath.Join("..", "..", "examples", "flask")

const flaskStartTimeout = 30 * time.Second

// flaskAnswer is what the example app answers on its feed and admin endpoints, and what
// cognito-authz answers when it denies.
type flaskAnswer struct {
	AuthStatus string `json:"auth_status"`
	User       *struct {
		Sub      string   `json:"sub"`
		Username string   `json:"username"`
		Groups   []string `json:"cognito:groups"`
	} `json:"user"`
	Activities []struct {
		UUID, Handle string
		Private      bool
	} `json:"activities"`
	Admin  bool   `json:"admin"`
	Reason string `json:"reason"` // cognito-authz's denials only
}

func TestFlaskExampleBehindEnvoy(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test through a real Envoy: not with -short")
	}
	envoyproc.RequireEnvoy(t)
	app := startFlaskApp(t)
	s := startStackWith(t, e2e.Options{Backend: app})
	admin := user(t, s.Issuer, "alice", "admin")
	plain := user(t, s.Issuer, "bob")
	adminToken := s.Issuer.MustMint(t, issuer.TokenSpec{Username: admin.Username})
	plainToken := s.Issuer.MustMint(t, issuer.TokenSpec{Username: plain.Username})

	// What a client might send to pass for the admin; the underscore spellings are folded into
	// the same names by some app servers.
	forged := http.Header{
		"x-auth-status": {"authenticated"}, "x-user-sub": {"forged-sub"}, "x-user-name": {"forged"},
		"x-user-groups": {"admin"}, "x_auth_status": {"authenticated"}, "x_user_sub": {"forged-sub-2"},
		"x_user_groups": {"admin"},
	}
	tests := []struct {
		name   string
		path   string
		header http.Header
		status int
		// sub is the caller the app must see ("" for anonymous), groups its groups.
		sub    string
		groups []string
		// deniedFor is cognito-authz's reason when it, not the app, must answer.
		deniedFor string
	}{
		{"anonymous: the public feed", backend.HomePath, nil, http.StatusOK, "", nil, ""},
		{"invalid token: the public feed", backend.HomePath, e2e.Bearer("not.a.token"), http.StatusOK, "", nil, ""},
		{"signed in: own items first", backend.HomePath, e2e.Bearer(plainToken), http.StatusOK, plain.Sub, []string{}, ""},
		{"admin signed in: own items first", backend.HomePath, e2e.Bearer(adminToken), http.StatusOK, admin.Sub, []string{"admin"}, ""},
		{"forged identity, no token: anonymous", backend.HomePath, forged, http.StatusOK, "", nil, ""},
		{"forged identity beside a token: the token's", backend.HomePath, withHeaders(forged, e2e.Bearer(plainToken)), http.StatusOK, plain.Sub, []string{}, ""},
		{"admin endpoint, anonymous", backend.AdminPath, nil, http.StatusUnauthorized, "", nil, "missing"},
		{"admin endpoint, plain user", backend.AdminPath, e2e.Bearer(plainToken), http.StatusForbidden, "", nil, "insufficient_group"},
		{"admin endpoint, plain user with forged groups", backend.AdminPath, withHeaders(forged, e2e.Bearer(plainToken)), http.StatusForbidden, "", nil, "insufficient_group"},
		{"admin endpoint, admin", backend.AdminPath, e2e.Bearer(adminToken), http.StatusOK, admin.Sub, []string{"admin"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := get(t, s, tt.path, tt.header)
			if a.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.Status, tt.status, a)
			}
			var got flaskAnswer
			if err := json.Unmarshal(a.Body, &got); err != nil {
				t.Fatalf("not JSON: %v: %s", err, a)
			}
			if tt.deniedFor != "" {
				if got.Reason != tt.deniedFor {
					t.Fatalf("want cognito-authz's denial for %s, got %s", tt.deniedFor, a)
				}
				return
			}
			if tt.path == backend.AdminPath {
				if !got.Admin || got.User == nil || got.User.Sub != tt.sub || !slices.Equal(got.User.Groups, tt.groups) {
					t.Fatalf("want the admin page for %s in groups %q, got %s", tt.sub, tt.groups, a)
				}
				return
			}
			wantFeed(t, a, got, tt.sub, tt.groups)
		})
	}
}

// wantFeed checks a home feed: public items only for an anonymous caller (sub ""), else the
// caller's own private item first and the caller's sub and groups.
func wantFeed(t *testing.T, a *e2e.Answer, got flaskAnswer, sub string, groups []string) {
	t.Helper()
	private := 0
	for _, item := range got.Activities {
		if item.Private {
			private++
		}
	}
	if sub == "" {
		if got.AuthStatus != "anonymous" || got.User != nil || private != 0 || len(got.Activities) == 0 {
			t.Fatalf("want the public feed only, got %s", a)
		}
		return
	}
	if got.AuthStatus != "authenticated" || got.User == nil || got.User.Sub != sub || !slices.Equal(got.User.Groups, groups) {
		t.Fatalf("want the feed of %s in groups %q, got %s", sub, groups, a)
	}
	if private != 1 || !got.Activities[0].Private || got.Activities[0].UUID != "own-"+sub {
		t.Fatalf("want %s's own item first and no one else's, got %s", sub, a)
	}
}

// startFlaskApp runs the example app on a free loopback port, waits until it answers, and returns
// its address (host:port). A missing python3 or Flask skips the test, or fails it in CI.
func startFlaskApp(t *testing.T) string {
	t.Helper()
	python := requireFlask(t)
	portNumber, err := childproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(portNumber)
	addr := net.JoinHostPort("127.0.0.1", port)
	cmd := exec.Command(python, "app.py")
	cmd.Dir = flaskDir
	cmd.Env = append(os.Environ(), "HOST=127.0.0.1", "PORT="+port, "PYTHONDONTWRITEBYTECODE=1")
	childproc.StartTest(t, cmd, childproc.Options{Name: "flask"}, flaskStartTimeout, childproc.HTTPReady(loopback, "http://"+addr+backend.HealthzPath))
	return addr
}

// TestFlaskExampleUnitTests runs the example's own tests of what the headers can say (encoded group
// names, a repeated header), which the local issuer does not easily produce.
func TestFlaskExampleUnitTests(t *testing.T) {
	if testing.Short() {
		t.Skip("runs python3: not with -short")
	}
	python := requireFlask(t)
	cmd := exec.CommandContext(t.Context(), python, "-m", "unittest", "-v", "test_app")
	cmd.Dir = flaskDir
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3 -m unittest test_app: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// requireFlask returns the python3 to run the example with, or skips the test when there is none
// or it lacks Flask (fails it in CI; see childproc.Unavailable).
func requireFlask(t *testing.T) string {
	t.Helper()
	python, err := exec.LookPath("python3")
	if err != nil {
		childproc.Unavailable(t, "the Flask example needs python3: %v", err)
	}
	if out, err := exec.Command(python, "-c", "import flask").CombinedOutput(); err != nil {
		childproc.Unavailable(t, "the Flask example needs Flask (pip install -r examples/flask/requirements.txt): %v\n%s", err, out)
	}
	return python
}
