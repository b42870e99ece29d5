package edge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/cognito-authz/cognito-authz/extauthz"
	"github.com/cognito-authz/cognito-authz/internal/poll"
	"github.com/cognito-authz/cognito-authz/testenv/backend"
	"github.com/cognito-authz/cognito-authz/testenv/edge"
	"github.com/cognito-authz/cognito-authz/testenv/envoyconf"
	"github.com/cognito-authz/cognito-authz/testenv/envoyproc"
	"github.com/cognito-authz/cognito-authz/testenv/issuer"
)

var update = flag.Bool("update", false, "rewrite the files under deploy/forwardauth/ from the templates")

// committedDir is deploy/forwardauth/ at the repository root.
var committedDir = filepath.Join("..", "..", "deploy", "forwardauth")

func TestCommittedFilesAreRendered(t *testing.T) {
	for name, render := range edge.Committed() {
		want, err := render()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		path := filepath.Join(committedDir, name)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run cd testenv && go test ./edge -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("deploy/forwardauth/%s differs from its template's rendering (run cd testenv && go test ./edge -update)", name)
		}
	}
}

// TestCommittedConfigMapsTheTenant: the committed configuration maps the claim the edges' tests
// and nginx.conf expect.
func TestCommittedConfigMapsTheTenant(t *testing.T) {
	cfg, err := extauthz.LoadConfig(filepath.Join(committedDir, "cognito-authz.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.IdentityHeaders.Claims, envoyconf.ClaimHeaders) {
		t.Fatalf("identity_headers.claims %v, want %v", cfg.IdentityHeaders.Claims, envoyconf.ClaimHeaders)
	}
}

// world is the local issuer, the demo app and cognito-authz with its HTTP endpoint, running the
// committed deploy/forwardauth/cognito-authz.yaml on free loopback ports.
type world struct {
	issuer *issuer.Issuer
	// keysDown is a second issuer whose key endpoint fails once cognito-authz has loaded its keys,
	// and whose signing key is new since: its tokens get jwks_unavailable.
	keysDown        *issuer.Issuer
	backend         envoyconf.Endpoint
	backendRequests atomic.Int64 // every request that reached the app
	authz           *extauthz.Service
}

// forwardAuthProxy is one committed forward-auth proxy configuration; start runs it in front of
// the world and returns its base URL.
type forwardAuthProxy struct {
	name  string
	start func(t *testing.T) string
}

// forwardAuthProxies are nginx, Traefik and Envoy's HTTP ext_authz with the committed configs
// rendered for p.
func forwardAuthProxies(p edge.Params) []forwardAuthProxy {
	return []forwardAuthProxy{
		{"nginx", func(t *testing.T) string { return edge.StartNginxTest(t, p).URL() }},
		{"traefik", func(t *testing.T) string { return edge.StartTraefikTest(t, p) }},
		{"envoy-http", func(t *testing.T) string {
			rendered, err := edge.RenderEnvoyHTTP(p)
			if err != nil {
				t.Fatal(err)
			}
			return envoyproc.StartTest(t, envoyproc.Config{Rendered: rendered}).URL()
		}},
	}
}

// startWorld starts the world; each configure, in order, adjusts cognito-authz's configuration.
func startWorld(t *testing.T, configure ...func(*extauthz.Config)) *world {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test through a real proxy: not with -short")
	}
	w := &world{}
	issuerLis := listen(t)
	var err error
	w.issuer, err = issuer.New(issuer.Options{BaseURL: "http://" + issuerLis.Addr().String(), ClientIDs: []string{"demo-client"}})
	if err != nil {
		t.Fatal(err)
	}
	serve(t, issuerLis, w.issuer)
	w.keysDown = issuer.NewTestServer(t, issuer.Options{PoolID: "keys_down", ClientIDs: []string{"demo-client"}})
	backendLis := listen(t)
	app := backend.New(backend.Options{})
	serve(t, backendLis, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.backendRequests.Add(1)
		app.ServeHTTP(rw, r)
	}))
	w.backend = endpointOf(t, backendLis.Addr())

	cfg, err := extauthz.LoadConfig(filepath.Join(committedDir, "cognito-authz.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen, cfg.AdminListen, cfg.HTTPListen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Issuers = []extauthz.Issuer{
		{Issuer: w.issuer.IssuerURL(), JWKSURL: w.issuer.JWKSURL(), ClientIDs: []string{"demo-client"}, TokenUse: extauthz.TokenUseAny},
		{Issuer: w.keysDown.IssuerURL(), JWKSURL: w.keysDown.JWKSURL(), ClientIDs: []string{"demo-client"}, TokenUse: extauthz.TokenUseAny},
	}
	// Every unknown key id refetches: keysDown's token meets its failing endpoint, not the
	// rate limit (which would make it an unknown kid, 401).
	cfg.JWKS.MinRefetchInterval = time.Millisecond
	for _, c := range configure {
		c(cfg)
	}
	w.authz, err = extauthz.NewService(cfg, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.authz.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = w.authz.Shutdown(ctx)
	})
	if err := poll.Until(t.Context(), 30*time.Second, w.authz.Ready); err != nil {
		t.Fatalf("cognito-authz did not load its keys: %v", err)
	}
	w.keysDown.FailJWKS(http.StatusServiceUnavailable)
	if _, err := w.keysDown.Rotate(); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) params(t *testing.T) edge.Params {
	p := edge.Local("rendered by testenv/edge's tests")
	p.Listen, p.Admin = envoyconf.Endpoint{Host: "127.0.0.1"}, envoyconf.Endpoint{Host: "127.0.0.1"}
	p.Backend = w.backend
	p.Authz = endpointOf(t, w.authz.HTTPAddr())
	p.AuthzTimeout = "5s" // a first RSA verification on a busy shared machine
	return p
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func serve(t *testing.T, l net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
}

func endpointOf(t *testing.T, a net.Addr) envoyconf.Endpoint {
	e, err := envoyconf.ParseEndpoint(a.String())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// answer is what a request through the proxy got back; app is the demo app's echo, nil when the
// proxy or cognito-authz answered.
type answer struct {
	status int
	header http.Header
	body   string
	app    *backend.Response
}

var client = &http.Client{
	Transport:     &http.Transport{Proxy: nil},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       15 * time.Second,
}

func get(t *testing.T, base, path string, header http.Header) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req, header)
}

// getRaw is get with path sent exactly as written in the request line (dot segments, "#" and
// all), as curl --path-as-is sends it.
func getRaw(t *testing.T, base, path string, header http.Header) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = path
	return do(t, req, header)
}

func do(t *testing.T, req *http.Request, header http.Header) answer {
	t.Helper()
	path := req.URL.RequestURI()
	for k, v := range header {
		req.Header[k] = append(req.Header[k], v...)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, body: string(body)}
	var app backend.Response
	if json.Unmarshal(body, &app) == nil && app.Headers != nil {
		a.app = &app
	}
	return a
}

// forged claims every identity header for someone else, and sends underscore look-alikes.
var forged = http.Header{
	"X-User-Sub": {"forged-sub"}, "X-User-Groups": {"admin"}, "X-Auth-Status": {"authenticated"},
	"X-Auth-Reason": {"forged"}, "X-User-Name": {"forged"}, "X-User-Email": {"forged@example.com"},
	"X-User-Scopes": {"forged"}, "X-User-Client-Id": {"forged"}, "X-User-Token-Use": {"id"},
	"x_user_sub": {"forged-underscore"}, "x_auth_status": {"authenticated"}, "X_User_Groups": {"admin"},
	// A chosen claim's header (envoyconf.TenantHeader), repeated and in three spellings.
	"X-User-Tenant-Id": {"forged-tenant", "forged-tenant-2"}, "x-user-tenant-id": {"forged-tenant-3"},
	"X-USER-TENANT-ID": {"forged-tenant-4"}, "x_user_tenant_id": {"forged-tenant-5"},
	// The claims header (envoyconf.ClaimsHeader), owned whether or not it is enabled.
	"X-Jwt-Claims": {`{"sub":"forged-sub","cognito:groups":["admin"]}`}, "x-jwt-claims": {"forged-2"},
}

func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

func merge(hs ...http.Header) http.Header {
	out := http.Header{}
	for _, h := range hs {
		for k, v := range h {
			out[k] = append(out[k], v...)
		}
	}
	return out
}

// edgeCase is one request through a proxy in front of the demo app.
type edgeCase struct {
	name   string
	path   string
	header http.Header
	status int
	// unavailable: cognito-authz answers 503; the client gets the proxy's status for that
	// (proxy.unavailable), not status.
	unavailable bool
	// identity is every owned header the app must see, exactly (nil with a denial).
	identity map[string]string
	// challenge is what WWW-Authenticate must contain on a denial; "" for none.
	challenge string
}

func edgeCases(t *testing.T, w *world) []edgeCase {
	plain, err := w.issuer.SetGroups("bob")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := w.issuer.SetGroups("alice", "admin")
	if err != nil {
		t.Fatal(err)
	}
	plainToken := w.issuer.MustMint(t, issuer.TokenSpec{Username: plain.Username})
	adminToken := w.issuer.MustMint(t, issuer.TokenSpec{Username: admin.Username, Set: map[string]any{envoyconf.TenantClaim: "acme"}})
	keysDownAdmin, err := w.keysDown.SetGroups("carol", "admin")
	if err != nil {
		t.Fatal(err)
	}
	// An admin's token that cannot be checked: its key cannot be fetched.
	keysDownToken := w.keysDown.MustMint(t, issuer.TokenSpec{Username: keysDownAdmin.Username})
	plainIdentity := map[string]string{
		"x-auth-status": "authenticated", "x-user-sub": plain.Sub, "x-user-name": "bob",
		"x-user-scopes": issuer.DefaultScope, "x-user-client-id": "demo-client", "x-user-token-use": "access",
	}
	return []edgeCase{
		{name: "anonymous", path: backend.HomePath, status: 200,
			identity: map[string]string{"x-auth-status": "anonymous", "x-auth-reason": "missing"}},
		{name: "anonymous with forged identity headers", path: backend.HomePath, header: forged, status: 200,
			identity: map[string]string{"x-auth-status": "anonymous", "x-auth-reason": "missing"}},
		{name: "invalid token", path: backend.HomePath, header: bearer("not.a.token"), status: 200,
			identity: map[string]string{"x-auth-status": "anonymous", "x-auth-reason": "malformed"}},
		{name: "a user in no group, forged headers replaced or removed", path: backend.HomePath, header: merge(forged, bearer(plainToken)), status: 200,
			identity: plainIdentity},
		{name: "admin route without a token", path: backend.AdminPath, status: 401, challenge: `Bearer realm="cognito-authz"`},
		{name: "admin route with an invalid token", path: backend.AdminPath, header: bearer("not.a.token"), status: 401,
			challenge: `error="invalid_token", error_description="malformed"`},
		{name: "admin route, a client's X-Forwarded-Uri names a public path", path: backend.AdminPath + "/users",
			header: http.Header{"X-Forwarded-Uri": {backend.HomePath}, "X-Original-Uri": {backend.HomePath}}, status: 401},
		{name: "admin route, a user in no group", path: backend.AdminPath, header: bearer(plainToken), status: 403,
			challenge: `error="insufficient_scope", error_description="insufficient_group"`},
		{name: "admin route, an admin", path: backend.AdminPath, header: merge(forged, bearer(adminToken)), status: 200,
			identity: map[string]string{
				"x-auth-status": "authenticated", "x-user-sub": admin.Sub, "x-user-name": "alice", "x-user-groups": "admin",
				"x-user-scopes": issuer.DefaultScope, "x-user-client-id": "demo-client", "x-user-token-use": "access",
				envoyconf.TenantHeader: "acme",
			}},
		{name: "healthz (policy auth off), forged headers removed", path: backend.HealthzPath, header: forged, status: 200,
			identity: map[string]string{}},
		{name: "key endpoint down, optional route: anonymous, forged headers replaced or removed", path: backend.HomePath,
			header: merge(forged, bearer(keysDownToken)), status: 200,
			identity: map[string]string{"x-auth-status": "anonymous", "x-auth-reason": "jwks_unavailable"}},
		{name: "key endpoint down, admin route: cognito-authz's 503 never passes", path: backend.AdminPath,
			header: merge(forged, bearer(keysDownToken)), unavailable: true},
	}
}

// proxy is how a proxy passes cognito-authz's denials on to the client.
type proxy struct {
	// jsonDenials: the client gets cognito-authz's JSON body with a 401 or 403.
	jsonDenials bool
	// unavailable is the status the client gets when cognito-authz answers 503 (docs/reference.md).
	unavailable int
	// passesUnavailable: that answer is cognito-authz's own 503 and JSON body; otherwise it is
	// the proxy's own error, without cognito-authz's body.
	passesUnavailable bool
}

// runEdgeCases sends every case through the proxy at base.
func runEdgeCases(t *testing.T, w *world, base string, px proxy) {
	for _, tc := range edgeCases(t, w) {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.status
			if tc.unavailable {
				want = px.unavailable
			}
			before := w.backendRequests.Load()
			a := get(t, base, tc.path, tc.header)
			if a.status != want {
				t.Fatalf("status %d, want %d: %v %s", a.status, want, a.header, a.body)
			}
			if want != 200 {
				if a.app != nil || w.backendRequests.Load() != before {
					t.Errorf("a denied request reached the app")
				}
				challenge := a.header.Get("Www-Authenticate")
				if tc.challenge != "" && !strings.Contains(challenge, tc.challenge) {
					t.Errorf("WWW-Authenticate %q, want it to contain %s", challenge, tc.challenge)
				}
				const unavailableBody = `{"error":"unavailable","reason":"jwks_unavailable"}`
				switch {
				case tc.unavailable && px.passesUnavailable != strings.Contains(a.body, unavailableBody):
					t.Errorf("body %q: cognito-authz's %s passed on: %v, want %v", a.body, unavailableBody, !px.passesUnavailable, px.passesUnavailable)
				case !tc.unavailable && px.jsonDenials && !json.Valid([]byte(a.body)):
					t.Errorf("denial body is not cognito-authz's JSON: %q", a.body)
				}
				return
			}
			if a.app == nil {
				t.Fatalf("did not reach the app: %s", a.body)
			}
			for name, values := range a.app.Headers {
				if strings.Contains(name, "_") && (strings.HasPrefix(name, "x_user") || strings.HasPrefix(name, "x_auth")) {
					t.Errorf("the app saw the look-alike %s %q", name, values)
				}
			}
			for _, name := range envoyconf.IdentityHeaders {
				got := a.app.Headers[name]
				want, expected := tc.identity[name]
				switch {
				case expected && !slices.Equal(got, []string{want}):
					t.Errorf("the app saw %s %q, want exactly %q", name, got, want)
				case !expected && len(got) > 0:
					t.Errorf("the app saw %s %q, want none", name, got)
				}
			}
		})
	}
}

// TestNginxAuthRequest runs deploy/forwardauth/nginx.conf in a real nginx.
func TestNginxAuthRequest(t *testing.T) {
	edge.NginxTool.Require(t)
	w := startWorld(t)
	n := edge.StartNginxTest(t, w.params(t))
	// auth_request passes only 2xx, 401 and 403 on; any other answer is an error, nginx's own 500.
	runEdgeCases(t, w, n.URL(), proxy{unavailable: http.StatusInternalServerError})
	if log := n.Log(); !strings.Contains(log, "auth request unexpected status: 503") {
		t.Errorf("nginx's 500 was not its answer to cognito-authz's 503; its log:\n%s", log)
	}
	checkAuthzDown(t, w, n.URL(), http.StatusInternalServerError) // a failed subrequest: 500 again
}

// TestEnvoyHTTPExtAuthz runs deploy/forwardauth/envoy-http-ext-authz.yaml in a real Envoy.
func TestEnvoyHTTPExtAuthz(t *testing.T) {
	envoyproc.RequireEnvoy(t)
	w := startWorld(t)
	rendered, err := edge.RenderEnvoyHTTP(w.params(t))
	if err != nil {
		t.Fatal(err)
	}
	e := envoyproc.StartTest(t, envoyproc.Config{Rendered: rendered})
	// Envoy takes an HTTP authorization service's 5xx for a failed check, not a denial: the client
	// gets status_on_error (503) without cognito-authz's body.
	runEdgeCases(t, w, e.URL(), proxy{jsonDenials: true, unavailable: http.StatusServiceUnavailable})

	// Envoy also removes what no answer names. (nginx cannot remove headers by prefix.)
	checkUnnamedRemoved(t, e.URL())
	checkAuthzDown(t, w, e.URL(), http.StatusServiceUnavailable) // status_on_error
}

// TestTraefikForwardAuth runs deploy/forwardauth/traefik.yaml and traefik-dynamic.yaml in a real
// Traefik.
func TestTraefikForwardAuth(t *testing.T) {
	edge.TraefikTool.Require(t)
	w := startWorld(t)
	url := edge.StartTraefikTest(t, w.params(t))
	// ForwardAuth passes every non-2xx answer on as it is: cognito-authz's 503 and body.
	runEdgeCases(t, w, url, proxy{jsonDenials: true, unavailable: http.StatusServiceUnavailable, passesUnavailable: true})
	// authResponseHeadersRegex removes what no answer names, and underscore look-alikes of
	// every owned name, which Traefik (Go's net/http) would otherwise pass on.
	checkUnnamedRemoved(t, url)
	// The entrypoint's aliasHeadersStrategy drops every alias, not only the owned names'.
	a := get(t, url, backend.HomePath, http.Header{"X.User.Sub": {"forged"}, "x_request_id": {"kept?"}, "X-Request-Id": {"kept"}})
	if a.app == nil {
		t.Fatalf("did not reach the app: %d %s", a.status, a.body)
	}
	for _, name := range []string{"x.user.sub", "x_request_id"} {
		if values, ok := a.app.Headers[name]; ok {
			t.Errorf("the app saw the alias %s %q", name, values)
		}
	}
	if got := a.app.Headers["x-request-id"]; !slices.Equal(got, []string{"kept"}) {
		t.Errorf("the app saw x-request-id %q, want the client's", got)
	}
	checkAuthzDown(t, w, url, http.StatusInternalServerError) // Traefik's own, for a failed call
}

// checkAuthzDown stops cognito-authz: a checked request then gets the proxy's own status (want),
// forged identity headers or not, and none reaches the app.
func checkAuthzDown(t *testing.T, w *world, base string, want int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := w.authz.Shutdown(ctx); err != nil {
		t.Fatalf("stop cognito-authz: %v", err)
	}
	before := w.backendRequests.Load()
	for _, path := range []string{backend.HomePath, backend.AdminPath} {
		if a := get(t, base, path, forged); a.status != want || a.app != nil {
			t.Errorf("GET %s with cognito-authz stopped: status %d (app answered: %v), want %d", path, a.status, a.app != nil, want)
		}
	}
	if n := w.backendRequests.Load() - before; n != 0 {
		t.Errorf("%d requests reached the app while cognito-authz was stopped, want none", n)
	}
}

// checkUnnamedRemoved: every other header under the identity prefix and the claims header name,
// and underscore look-alikes of each, are removed on the checked routes and on /healthz.
func checkUnnamedRemoved(t *testing.T, base string) {
	t.Helper()
	unnamed := http.Header{"X-User-Role": {"admin"}, "X-User-Is-Admin": {"true"}, "X-Jwt-Claims": {"forged"},
		"x_user_role": {"admin"}, "x_jwt_claims": {"forged"}, "X-User_Sub": {"forged"}, "x_auth_reason": {"forged"}}
	for _, path := range []string{backend.HomePath, backend.HealthzPath} {
		a := get(t, base, path, unnamed)
		if a.app == nil {
			t.Fatalf("%s did not reach the app: %d %s", path, a.status, a.body)
		}
		for name, values := range a.app.Headers {
			lookAlike := strings.ReplaceAll(name, "_", "-")
			if (strings.HasPrefix(lookAlike, envoyconf.IdentityPrefix) && !slices.Contains(envoyconf.IdentityHeaders, name)) ||
				lookAlike == envoyconf.ClaimsHeader || (lookAlike != name && slices.Contains(envoyconf.OwnedHeaders, lookAlike)) {
				t.Errorf("%s: the app saw %s %q", path, name, values)
			}
		}
	}
}

// TestTraefikHeaderFlood: Traefik passes every Cookie line a client sends to cognito-authz (nginx
// and Envoy refuse such requests themselves). Several clients sending requests of tens of
// thousands of lines get cognito-authz's answer for a request it does not read (401, malformed),
// while an admin's traffic through the same Traefik is still served.
func TestTraefikHeaderFlood(t *testing.T) {
	edge.TraefikTool.Require(t)
	w := startWorld(t)
	url := edge.StartTraefikTest(t, w.params(t))
	admin, err := w.issuer.SetGroups("alice", "admin")
	if err != nil {
		t.Fatal(err)
	}
	adminToken := w.issuer.MustMint(t, issuer.TokenSpec{Username: admin.Username})

	const (
		floodClients  = 4
		floodRequests = 5      // each
		floodLines    = 30_000 // Cookie lines a request, ~400 KB, under Traefik's 1 MB
		maxAdmin      = 2_000  // bound on the admin's requests
	)
	cookies := make([]string, floodLines)
	for i := range cookies {
		cookies[i] = "a=b"
	}
	type outcome struct {
		status int
		body   string
	}
	flood := make(chan outcome, floodClients*floodRequests)
	done := make(chan struct{})
	var running sync.WaitGroup
	for range floodClients {
		running.Add(1)
		go func() {
			defer running.Done()
			for range floodRequests {
				req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url+backend.AdminPath, nil)
				if err != nil {
					flood <- outcome{body: err.Error()}
					continue
				}
				req.Header["Cookie"] = slices.Clone(cookies)
				resp, err := client.Do(req)
				if err != nil {
					flood <- outcome{body: err.Error()}
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				flood <- outcome{resp.StatusCode, string(body)}
			}
		}()
	}
	go func() { running.Wait(); close(done) }()

	// The admin's requests, until the flood is over (at least one while it runs).
	adminServed, adminRequests := 0, 0
	for adminRequests < maxAdmin {
		a := get(t, url, backend.AdminPath, bearer(adminToken))
		adminRequests++
		if a.status == http.StatusOK && a.app != nil {
			adminServed++
		} else {
			t.Errorf("admin request %d during the flood: %d %s", adminRequests, a.status, a.body)
		}
		select {
		case <-done:
		default:
			continue
		}
		break
	}
	<-done
	close(flood)
	t.Logf("%d admin requests during the flood, %d served", adminRequests, adminServed)
	const malformed = `{"error":"unauthenticated","reason":"malformed"}`
	for o := range flood {
		if o.status != http.StatusUnauthorized || o.body != malformed {
			t.Errorf("a flood request got %d %q, want 401 %s", o.status, o.body, malformed)
		}
	}
}

// opsRule adds backend.OpsPath for group ops beside the committed /api/admin for group admin: two rules
// that rank alike.
func opsRule(cfg *extauthz.Config) {
	cfg.Policy.Rules = append(cfg.Policy.Rules, extauthz.Rule{PathPrefix: backend.OpsPath, Auth: extauthz.AuthRequired, GroupsAny: []string{"ops"}})
}

// TestPathReadingsThroughEdges sends raw request lines through nginx, Traefik and Envoy's HTTP
// ext_authz, each in front of cognito-authz with two rules that tie: every spelling that an app
// server could route to /api/admin is denied for a token of the other rule's group (nginx passes
// the path on as sent, so there it is cognito-authz that must refuse), while the ops user's own
// route is served.
func TestPathReadingsThroughEdges(t *testing.T) {
	edge.NginxTool.Require(t)
	edge.TraefikTool.Require(t)
	envoyproc.RequireEnvoy(t)
	w := startWorld(t, opsRule)
	opsUser, err := w.issuer.SetGroups("olivia", "ops")
	if err != nil {
		t.Fatal(err)
	}
	opsToken := bearer(w.issuer.MustMint(t, issuer.TokenSpec{Username: opsUser.Username}))
	p := w.params(t)
	for _, px := range forwardAuthProxies(p) {
		t.Run(px.name, func(t *testing.T) {
			base := px.start(t)
			// The demo app answers 404 for a path it has no page for, after echoing what it got.
			if a := getRaw(t, base, backend.OpsPath+"/x", opsToken); a.app == nil || a.app.AuthStatus != "authenticated" {
				t.Fatalf("the ops user's own route: %d %s, want the app, authenticated", a.status, a.body)
			}
			for _, sp := range backend.AdminPathSpellings {
				var header http.Header
				if sp.UnderOps {
					header = opsToken
				}
				before := w.backendRequests.Load()
				a := getRaw(t, base, sp.Path, header)
				// Denied, or passed on unchecked as the one path nginx routed it by (/healthz).
				if a.app != nil && a.app.Path == backend.HealthzPath {
					t.Logf("%s (ops token: %v): the app got %s", sp.Path, sp.UnderOps, a.app.Path)
					continue
				}
				if a.app != nil || w.backendRequests.Load() != before {
					t.Errorf("%s (ops token: %v) reached the app: %d %s", sp.Path, sp.UnderOps, a.status, a.body)
					continue
				}
				t.Logf("%s (ops token: %v): %d", sp.Path, sp.UnderOps, a.status)
			}
			// nginx passes the raw path to cognito-authz and to the app: the tie is its decision.
			if px.name == "nginx" {
				if a := getRaw(t, base, "/api/ops/../admin", opsToken); a.status != http.StatusForbidden {
					t.Errorf("/api/ops/../admin with an ops token: %d, want cognito-authz's 403", a.status)
				}
			}
		})
	}
}

// TestForwardedHeadersRequired: a request to the HTTP endpoint that names no original request
// (a proxy configuration that forgot X-Forwarded-Uri) is refused, whatever its own path, unless
// http_request_is_original says the proxy sends the original request itself; then it is judged by
// its own path and method. The committed Envoy HTTP configuration, which names the request in
// x-forwarded-uri, works either way.
func TestForwardedHeadersRequired(t *testing.T) {
	envoyproc.RequireEnvoy(t)
	for _, requestIsOriginal := range []bool{false, true} {
		t.Run(fmt.Sprintf("http_request_is_original=%v", requestIsOriginal), func(t *testing.T) {
			w := startWorld(t, func(cfg *extauthz.Config) { cfg.HTTPRequestIsOriginal = requestIsOriginal })
			endpoint := "http://" + w.authz.HTTPAddr().String()
			for _, tc := range []struct {
				path         string
				ownPathAllow bool // the answer when the request is the original: allowed (anonymous)
			}{{"/", true}, {"/auth", true}, {backend.HomePath, true}, {backend.AdminPath, false}} {
				a := get(t, endpoint, tc.path, nil)
				want := http.StatusBadRequest
				if requestIsOriginal {
					want = http.StatusUnauthorized
					if tc.ownPathAllow {
						want = http.StatusOK
					}
				}
				if a.status != want {
					t.Errorf("GET %s straight to the endpoint: %d %s, want %d", tc.path, a.status, a.body, want)
				}
			}
			rendered, err := edge.RenderEnvoyHTTP(w.params(t))
			if err != nil {
				t.Fatal(err)
			}
			e := envoyproc.StartTest(t, envoyproc.Config{Rendered: rendered})
			runEdgeCases(t, w, e.URL(), proxy{jsonDenials: true, unavailable: http.StatusServiceUnavailable})
		})
	}
}
