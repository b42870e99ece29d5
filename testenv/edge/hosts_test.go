package edge_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/cognito-authz/cognito-authz/extauthz"
	"github.com/cognito-authz/cognito-authz/testenv/backend"
	"github.com/cognito-authz/cognito-authz/testenv/edge"
	"github.com/cognito-authz/cognito-authz/testenv/envoyproc"
)

// Two virtual hosts behind one proxy: the home feed is required on the admin host (and its
// subdomains) and open on every other.
const (
	adminHost  = "admin.example.test"
	publicHost = "www.example.test"
)

func adminHostRule(cfg *extauthz.Config) {
	rule := extauthz.Rule{PathPrefix: backend.HomePath, Auth: extauthz.AuthRequired}
	rule.Hosts = []string{adminHost, "*." + adminHost}
	cfg.Policy.Rules = append([]extauthz.Rule{rule}, cfg.Policy.Rules...)
}

// TestHostsThroughEdges: through nginx, Traefik and Envoy's HTTP ext_authz with the committed
// configurations, the same path is required on one host and open on the other, and a client's
// own X-Forwarded-Host cannot change which host is judged (each proxy sets it itself).
func TestHostsThroughEdges(t *testing.T) {
	edge.NginxTool.Require(t)
	edge.TraefikTool.Require(t)
	envoyproc.RequireEnvoy(t)
	w := startWorld(t, adminHostRule)
	p := w.params(t)
	for _, px := range forwardAuthProxies(p) {
		t.Run(px.name, func(t *testing.T) {
			base := px.start(t)
			for _, tc := range []struct {
				name          string
				host          string
				forwardedHost string // a client's own X-Forwarded-Host, "" for none
				want          int
			}{
				{"admin host", adminHost, "", http.StatusUnauthorized},
				{"admin host, other case and a port", "ADMIN.Example.Test:8443", "", http.StatusUnauthorized},
				{"a subdomain of the admin host", "eu." + adminHost, "", http.StatusUnauthorized},
				{"public host", publicHost, "", http.StatusOK},
				{"admin host, client says public", adminHost, publicHost, http.StatusUnauthorized},
				{"public host, client says admin", publicHost, adminHost, http.StatusOK},
			} {
				req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+backend.HomePath, nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Host = tc.host
				var header http.Header
				if tc.forwardedHost != "" {
					header = http.Header{"X-Forwarded-Host": {tc.forwardedHost}}
				}
				a := do(t, req, header)
				if a.status != tc.want {
					t.Errorf("%s: GET %s (Host %s): %d %s, want %d", tc.name, backend.HomePath, tc.host, a.status, a.body, tc.want)
				}
				if tc.want == http.StatusOK && (a.app == nil || a.app.AuthStatus != "anonymous") {
					t.Errorf("%s: the app did not get the request as anonymous: %+v", tc.name, a.app)
				}
			}
		})
	}
}

// TestSignInRedirectThroughEdges: a browser navigation to a redirect route, signed out, gets the
// 302 to the sign-in page through nginx, Traefik and Envoy's HTTP ext_authz, and an API call its
// 401 (nginx's auth_request turns the 302 into a 500, which the committed config maps back).
func TestSignInRedirectThroughEdges(t *testing.T) {
	edge.NginxTool.Require(t)
	edge.TraefikTool.Require(t)
	envoyproc.RequireEnvoy(t)
	w := startWorld(t, func(cfg *extauthz.Config) {
		rule := extauthz.Rule{PathPrefix: backend.HomePath, Auth: extauthz.AuthRequired}
		rule.Unauthenticated = extauthz.UnauthenticatedRedirect
		cfg.Policy.Rules = append([]extauthz.Rule{rule}, cfg.Policy.Rules...)
		cfg.Policy.LoginURL = "/signin"
	})
	p := w.params(t)
	const navigation = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	for _, px := range forwardAuthProxies(p) {
		t.Run(px.name, func(t *testing.T) {
			base := px.start(t)
			before := w.backendRequests.Load()
			a := get(t, base, backend.HomePath+"?tab=2", http.Header{"Accept": {navigation}})
			if a.status != http.StatusFound {
				t.Errorf("a navigation: %d %s, want 302", a.status, a.body)
			}
			// The sign-in page on the site the browser is on: the path, or the proxy's own address
			// and the path (never the forward-auth endpoint's address).
			want := "/signin?return_to=" + url.QueryEscape(backend.HomePath+"?tab=2")
			if loc := a.header.Get("Location"); loc != want && loc != base+want {
				t.Errorf("a navigation: Location %q, want %q or %q", loc, want, base+want)
			}
			if a = get(t, base, backend.HomePath, http.Header{"Accept": {"application/json"}}); a.status != http.StatusUnauthorized {
				t.Errorf("an API call: %d %s, want 401", a.status, a.body)
			}
			if w.backendRequests.Load() != before {
				t.Errorf("a signed-out request reached the app")
			}
		})
	}
}
