package edge_test

import (
	"net/http"
	"testing"

	"github.com/cognito-authz/cognito-authz/extauthz"
	"github.com/cognito-authz/cognito-authz/testenv/backend"
	"github.com/cognito-authz/cognito-authz/testenv/edge"
	"github.com/cognito-authz/cognito-authz/testenv/envoyproc"
)

// TestMethodOverrideThroughEdges: each committed edge sends the method-override headers to the
// check, so a request an app framework would serve as DELETE is judged by the DELETE rule too.
func TestMethodOverrideThroughEdges(t *testing.T) {
	deleteRequired := func(cfg *extauthz.Config) {
		rule := extauthz.Rule{PathPrefix: backend.HomePath, Methods: []string{http.MethodDelete}, Auth: extauthz.AuthRequired}
		cfg.Policy.Rules = append([]extauthz.Rule{rule}, cfg.Policy.Rules...)
	}
	for _, tc := range []struct {
		name  string
		start func(t *testing.T, w *world) string
	}{
		{"nginx", func(t *testing.T, w *world) string {
			edge.NginxTool.Require(t)
			return edge.StartNginxTest(t, w.params(t)).URL()
		}},
		{"Traefik", func(t *testing.T, w *world) string {
			edge.TraefikTool.Require(t)
			return edge.StartTraefikTest(t, w.params(t))
		}},
		{"Envoy HTTP", func(t *testing.T, w *world) string {
			envoyproc.RequireEnvoy(t)
			rendered, err := edge.RenderEnvoyHTTP(w.params(t))
			if err != nil {
				t.Fatal(err)
			}
			return envoyproc.StartTest(t, envoyproc.Config{Rendered: rendered}).URL()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := startWorld(t, deleteRequired)
			url := tc.start(t, w)
			if a := get(t, url, backend.HomePath, nil); a.status != http.StatusOK {
				t.Fatalf("without an override: %d %s, want the app's 200", a.status, a.body)
			}
			for _, name := range extauthz.MethodOverrideHeaders {
				before := w.backendRequests.Load()
				a := get(t, url, backend.HomePath, http.Header{name: {http.MethodDelete}})
				if a.status != http.StatusUnauthorized || w.backendRequests.Load() != before {
					t.Errorf("%s: DELETE: %d %s, want 401 before the app", name, a.status, a.body)
				}
			}
		})
	}
}
