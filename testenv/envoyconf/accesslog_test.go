package envoyconf_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/cognito-authz/cognito-authz/testenv/backend"
	"github.com/cognito-authz/cognito-authz/testenv/edge"
	"github.com/cognito-authz/cognito-authz/testenv/envoyconf"
	"github.com/cognito-authz/cognito-authz/testenv/envoyproc"
	"github.com/cognito-authz/cognito-authz/testenv/issuer"
)

// TestAccessLogHasNoQueryString: a token a client puts in the query string (?access_token=)
// lands in no Envoy log, through every committed Envoy configuration (each filter of
// envoy.yaml.tmpl, and testenv/edge's HTTP ext_authz). Those with an access log log the request,
// by its path alone.
func TestAccessLogHasNoQueryString(t *testing.T) {
	envoyproc.RequireEnvoy(t)
	const secret = "SECRET-in-the-query-7f3c"
	backendAddr := startBackend(t)
	_, authzAddr := startProbeAuthz(t)
	is := issuer.NewTestServer(t, issuer.Options{PoolID: "local_pool", ClientIDs: []string{"demo-client"}})
	httpEdge := func() envoyproc.Config {
		p := edge.Local("rendered by TestAccessLogHasNoQueryString")
		p.Listen, p.Admin = envoyconf.Endpoint{Host: "127.0.0.1"}, envoyconf.Endpoint{Host: "127.0.0.1"}
		var err error
		if p.Backend, err = envoyconf.ParseEndpoint(backendAddr); err != nil {
			t.Fatal(err)
		}
		p.Authz = p.Backend // the app answers every check 200: allowed
		rendered, err := edge.RenderEnvoyHTTP(p)
		if err != nil {
			t.Fatal(err)
		}
		return envoyproc.Config{Rendered: rendered}
	}
	for _, tc := range []struct {
		name      string
		config    func() envoyproc.Config
		accessLog bool
	}{
		{"ext_authz", func() envoyproc.Config { return envoyproc.Config{Backend: backendAddr, Authz: authzAddr} }, true},
		{"jwt_authn", func() envoyproc.Config {
			return envoyproc.Config{Filter: envoyconf.JWTAuthn, Backend: backendAddr, IssuerURL: is.IssuerURL(), JWKSURL: is.JWKSURL()}
		}, true},
		{"no auth", func() envoyproc.Config { return envoyproc.Config{Filter: envoyconf.NoAuth, Backend: backendAddr} }, true},
		{"HTTP ext_authz (deploy/forwardauth)", httpEdge, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			envoy := envoyproc.StartTest(t, tc.config())
			paths := []string{backend.HomePath, "/api/admin/users"}
			for _, path := range paths {
				resp := do(t, http.MethodGet, envoy.URL()+path+"?access_token="+secret+"&page=2", "query-token", nil)
				resp.Body.Close()
			}
			// Stopping flushes the access log (Envoy writes it out every 10 s otherwise).
			if err := envoy.Stop(); err != nil {
				t.Fatal(err)
			}
			log := envoy.Log()
			if strings.Contains(log, secret) {
				t.Errorf("Envoy's log holds the query's token:\n%s", log)
			}
			for _, path := range paths {
				if tc.accessLog && !strings.Contains(log, "\"GET "+path+" HTTP/1.1\"") {
					t.Errorf("no access log line names GET %s, its path alone:\n%s", path, log)
				}
			}
		})
	}
}

// TestAccessLogNamesWhoCalled: the ext_authz Envoy's access log line says who called, read from the
// identity headers the check set (no dynamic metadata needed: cognito-authz sets none by default),
// and a client's own x-auth-status or x-user-sub never stands in for the check's.
func TestAccessLogNamesWhoCalled(t *testing.T) {
	envoyproc.RequireEnvoy(t)
	backendAddr := startBackend(t)
	_, authzAddr := startProbeAuthz(t)
	envoy := envoyproc.StartTest(t, envoyproc.Config{Backend: backendAddr, Authz: authzAddr})
	forged := map[string]string{"x-auth-status": "authenticated", "x-user-sub": "victim"}
	resp := do(t, http.MethodGet, envoy.URL()+backend.PingPath, "signed-in", map[string]string{"authorization": "Bearer good"})
	resp.Body.Close()
	resp = do(t, http.MethodGet, envoy.URL()+backend.HomePath, "forged", forged)
	resp.Body.Close()
	if err := envoy.Stop(); err != nil { // flushes the access log
		t.Fatal(err)
	}
	log := envoy.Log()
	for _, want := range []string{
		"\"GET " + backend.PingPath + " HTTP/1.1\" 200 - auth=authenticated reason=- sub=sub-1 ",
		"\"GET " + backend.HomePath + " HTTP/1.1\" 200 - auth=anonymous reason=- sub=- ",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("no access log line with %q:\n%s", want, log)
		}
	}
}
