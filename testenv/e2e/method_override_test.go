package e2e_test

import (
	"net/http"
	"testing"

	"github.com/cognito-authz/cognito-authz/extauthz"
	"github.com/cognito-authz/cognito-authz/testenv/backend"
)

// TestMethodOverrideThroughEnvoy: a request whose override header names DELETE is judged by the
// DELETE rule too, through the committed Envoy configuration (its allowed_headers send the
// override headers to the check); without the header the route stays open.
func TestMethodOverrideThroughEnvoy(t *testing.T) {
	s := startStack(t, func(cfg *extauthz.Config) {
		rule := extauthz.Rule{PathPrefix: backend.HomePath, Methods: []string{http.MethodDelete}, Auth: extauthz.AuthRequired}
		cfg.Policy.Rules = append([]extauthz.Rule{rule}, cfg.Policy.Rules...)
	})
	if a := get(t, s, backend.HomePath, nil); a.Status != http.StatusOK {
		t.Fatalf("GET %s without an override: %s, want the app's 200", backend.HomePath, a)
	}
	for _, name := range extauthz.MethodOverrideHeaders {
		before := s.BackendRequests()
		a := get(t, s, backend.HomePath, http.Header{name: {http.MethodDelete}})
		if a.Status != http.StatusUnauthorized || s.BackendRequests() != before {
			t.Errorf("GET %s with %s: DELETE: %s, want 401 before the app", backend.HomePath, name, a)
		}
	}
}
