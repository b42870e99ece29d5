package envoyconf_test

import (
	"bufio"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/cognito-authz/cognito-authz/testenv/backend"
	"github.com/cognito-authz/cognito-authz/testenv/childproc"
	"github.com/cognito-authz/cognito-authz/testenv/envoyconf"
	"github.com/cognito-authz/cognito-authz/testenv/envoyproc"
)

// The routes of the template, one of each kind, and what the probe answers on each with the
// headers the tests send.
var hardeningRoutes = []struct {
	name  string
	path  string
	token bool // send Authorization: Bearer good (required routes need it to reach the app)
	// status is what the app's request carries afterwards (empty: no x-auth-status).
	status string
	sub    string // x-user-sub the probe sets; empty: none
}{
	{"optional", backend.HomePath, false, "anonymous", ""},
	{"optional, with a token", backend.HomePath, true, "authenticated", "sub-1"},
	{"required", "/api/admin/users", true, "authenticated", "sub-1"},
	{"auth off", "/healthz", false, "", ""},
	{"no route of its own", "/somewhere/else", false, "anonymous", ""},
}

// TestOwnedHeadersNeverReachTheApp: every client header under the identity prefix (not only the
// seven names cognito-authz sets), x-auth-status, x-auth-reason and the claims header name are
// removed on every route, those that skip the check included; only what the check set arrives.
func TestOwnedHeadersNeverReachTheApp(t *testing.T) {
	_, authzAddr := startProbeAuthz(t)
	envoy := envoyproc.StartTest(t, envoyproc.Config{Backend: startBackend(t), Authz: authzAddr})
	forged := map[string]string{
		"x-user-sub": "victim", "X-User-Groups": "admin", "x-user-role": "admin", "x-user-is-admin": "true",
		"x-user-": "forged", envoyconf.ClaimsHeader: "forged", "x-auth-status": "authenticated", "x-auth-reason": "forged",
	}
	for _, route := range hardeningRoutes {
		t.Run(route.name, func(t *testing.T) {
			headers := maps.Clone(forged)
			if route.token {
				headers["authorization"] = "Bearer good"
			}
			resp, body := send(t, envoy.URL()+route.path, "owned-"+route.name, headers)
			if body.Method == "" {
				t.Fatalf("status %d without the app's answer", resp.StatusCode)
			}
			for name, values := range body.Headers {
				owned := strings.HasPrefix(name, envoyconf.IdentityPrefix) || slices.Contains(envoyconf.OwnedHeaders, name)
				if !owned {
					continue
				}
				want := map[string]string{"x-auth-status": route.status, "x-user-sub": route.sub}[name]
				if len(values) != 1 || values[0] != want {
					t.Errorf("the app saw %s: %q; only the check's answer (%q) may arrive", name, values, want)
				}
			}
		})
	}
}

// startWSGIEcho runs testdata/wsgi_echo.py and returns its host:port.
func startWSGIEcho(t *testing.T) string {
	t.Helper()
	python, err := exec.LookPath("python3")
	if err != nil {
		childproc.Unavailable(t, "python3 not found: %v", err)
	}
	cmd := exec.Command(python, "testdata/wsgi_echo.py")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	port, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("wsgi_echo.py printed no port: %v", err)
	}
	return "127.0.0.1:" + strings.TrimSpace(port)
}

// TestUnderscoreLookalikesNeverReachTheApp: a WSGI server reads x_user_sub as x-user-sub, so an
// anonymous client sending x_user_sub: victim would be victim to a Flask app. Behind the stack's
// Envoy no underscore variant of any identity header reaches such an app, on any kind of route.
func TestUnderscoreLookalikesNeverReachTheApp(t *testing.T) {
	_, authzAddr := startProbeAuthz(t)
	envoy := envoyproc.StartTest(t, envoyproc.Config{Backend: startWSGIEcho(t), Authz: authzAddr})
	lookalikes := map[string]string{
		"x_user_sub": "victim", "x_user_groups": "admin", "x_user_name": "victim", "x_user_role": "admin",
		"x_auth_status": "authenticated", "x_auth_reason": "forged", "X_User_Email": "victim@example.com",
		"x-user_scopes": "admin", "x_jwt_claims": "forged",
	}
	for _, route := range hardeningRoutes {
		t.Run(route.name, func(t *testing.T) {
			headers := maps.Clone(lookalikes)
			if route.token {
				headers["authorization"] = "Bearer good"
			}
			resp := do(t, http.MethodGet, envoy.URL()+route.path, "wsgi-"+route.name, headers)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want the app's 200", resp.StatusCode)
			}
			var environ map[string]string
			if err := json.NewDecoder(resp.Body).Decode(&environ); err != nil {
				t.Fatalf("the app's answer: %v", err)
			}
			want := map[string]string{}
			if route.status != "" {
				want["HTTP_X_AUTH_STATUS"] = route.status
			}
			if route.sub != "" {
				want["HTTP_X_USER_SUB"] = route.sub
			}
			for name, value := range environ {
				if !strings.HasPrefix(name, "HTTP_X_USER_") && !strings.HasPrefix(name, "HTTP_X_AUTH_") && name != "HTTP_X_JWT_CLAIMS" {
					continue
				}
				if value != want[name] {
					t.Errorf("the app saw %s=%q, want %q", name, value, want[name])
				}
			}
		})
	}
}

// TestCORSPreflightNeedsNoToken: a browser on an allowed origin (a front end on port 3000 under
// either loopback name) gets its preflight answered by Envoy's CORS filter, without a token and
// without a check, even on a required route, with credentials allowed; the request that follows
// is still checked (401 without a token, readable by the page), and an origin not allowed gets no
// preflight answer from Envoy.
func TestCORSPreflightNeedsNoToken(t *testing.T) {
	probe, authzAddr := startProbeAuthz(t)
	envoy := envoyproc.StartTest(t, envoyproc.Config{Backend: startBackend(t), Authz: authzAddr})
	const admin = "/api/admin/users"
	preflight := func(origin string) map[string]string {
		return map[string]string{"Origin": origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
	}
	for _, origin := range []string{"http://localhost:3000", "http://127.0.0.1:3000"} {
		t.Run(origin, func(t *testing.T) {
			id := "cors-" + strings.TrimPrefix(origin, "http://")
			resp := do(t, http.MethodOptions, envoy.URL()+admin, id+"-preflight", preflight(origin))
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != origin {
				t.Errorf("preflight from %s: %d, allow-origin %q; want 200 allowing it", origin, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
			}
			if !strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "authorization") {
				t.Errorf("preflight allows headers %q, want authorization among them", resp.Header.Get("Access-Control-Allow-Headers"))
			}
			if resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
				t.Errorf("preflight allows credentials %q, want true: a page on %s may send the stack's cookies", resp.Header.Get("Access-Control-Allow-Credentials"), origin)
			}
			if probe.call(id+"-preflight") != nil {
				t.Error("the preflight was sent to the check")
			}

			resp = do(t, http.MethodGet, envoy.URL()+admin, id+"-get", map[string]string{"Origin": origin})
			if resp.StatusCode != http.StatusUnauthorized || probe.call(id+"-get") == nil {
				t.Errorf("GET without a token from an allowed origin: %d (checked: %v), want 401 from the check", resp.StatusCode, probe.call(id+"-get") != nil)
			}
			if resp.Header.Get("Access-Control-Allow-Origin") != origin {
				t.Errorf("the 401 has allow-origin %q: the page cannot read it", resp.Header.Get("Access-Control-Allow-Origin"))
			}
			resp = do(t, http.MethodGet, envoy.URL()+admin, id+"-token", map[string]string{"Origin": origin, "Authorization": "Bearer good"})
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != origin {
				t.Errorf("GET with a token from an allowed origin: %d, allow-origin %q; want 200 allowing it", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
			}
		})
	}

	for _, origin := range []string{"http://evil.example", "http://127.0.0.1:3001", "http://localhost.evil.example:3000"} {
		id := "cors-refused-" + strings.NewReplacer("http://", "", ":", "-").Replace(origin)
		resp := do(t, http.MethodOptions, envoy.URL()+admin, id, preflight(origin))
		if resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.StatusCode == http.StatusOK {
			t.Errorf("preflight from %s, not allowed: %d, allow-origin %q; want the check's 401", origin, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	}
}
