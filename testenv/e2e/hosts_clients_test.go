package e2e_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/cognito-authz/cognito-authz/extauthz"
	"github.com/cognito-authz/cognito-authz/testenv/backend"
	"github.com/cognito-authz/cognito-authz/testenv/e2e"
	"github.com/cognito-authz/cognito-authz/testenv/issuer"
)

// TestHostsThroughEnvoy: two virtual hosts on one real Envoy: the home feed is required on the
// admin host and open on the other, judged by the :authority Envoy sends.
func TestHostsThroughEnvoy(t *testing.T) {
	s := startStack(t, func(cfg *extauthz.Config) {
		rule := extauthz.Rule{PathPrefix: backend.HomePath, Auth: extauthz.AuthRequired}
		rule.Hosts = []string{"admin.example.test"}
		cfg.Policy.Rules = append([]extauthz.Rule{rule}, cfg.Policy.Rules...)
	})
	for _, tc := range []struct {
		host string
		want int
	}{
		{"admin.example.test", http.StatusUnauthorized},
		{"Admin.Example.Test:8000", http.StatusUnauthorized},
		{"www.example.test", http.StatusOK},
	} {
		before := s.BackendRequests()
		a := get(t, s, backend.HomePath, http.Header{"Host": {tc.host}})
		if a.Status != tc.want {
			t.Errorf("GET %s on %s: %s, want %d", backend.HomePath, tc.host, a, tc.want)
		}
		if tc.want != http.StatusOK && s.BackendRequests() != before {
			t.Errorf("GET %s on %s reached the app", backend.HomePath, tc.host)
		}
	}
}

// TestMachineClientRoute: a client_credentials token (scope, no username) of the machine client
// reaches a clients_any route through Envoy; a person's token of the web client with the same
// scope is refused 403 client_not_allowed.
func TestMachineClientRoute(t *testing.T) {
	const m2mClient, scope = "jobs-m2m", "jobs/run"
	s := startStack(t, func(cfg *extauthz.Config) {
		cfg.Issuers[0].ClientIDs = append(cfg.Issuers[0].ClientIDs, m2mClient)
		rule := extauthz.Rule{PathPrefix: backend.HomePath, Auth: extauthz.AuthRequired, ScopesAll: []string{scope}}
		rule.ClientsAny = []string{m2mClient}
		rule.TokenUse = extauthz.TokenUseAccess
		cfg.Policy.Rules = append([]extauthz.Rule{rule}, cfg.Policy.Rules...)
	})
	m2m := s.Issuer.MustMint(t, issuer.TokenSpec{Username: m2mClient, ClientID: m2mClient, Scopes: []string{scope},
		Set: map[string]any{"sub": m2mClient}, Remove: []string{"username"}})
	user(t, s.Issuer, "alice", "admin")
	person := s.Issuer.MustMint(t, issuer.TokenSpec{Username: "alice", ClientID: e2e.ClientID, Scopes: []string{scope}})

	a := get(t, s, backend.HomePath, e2e.Bearer(m2m))
	if a.Status != http.StatusOK || a.App == nil || a.App.AuthStatus != "authenticated" {
		t.Fatalf("the machine token: %s, want the app, authenticated", a)
	}
	if got := a.Received("x-user-client-id"); len(got) != 1 || got[0] != m2mClient {
		t.Errorf("x-user-client-id %q, want %s", got, m2mClient)
	}
	before := s.BackendRequests()
	a = get(t, s, backend.HomePath, e2e.Bearer(person))
	if a.Status != http.StatusForbidden || s.BackendRequests() != before {
		t.Fatalf("a person's token of the web client: %s, want 403 before the app", a)
	}
	var body struct{ Error, Reason string }
	if err := json.Unmarshal(a.Body, &body); err != nil || body.Reason != "client_not_allowed" {
		t.Errorf("body %q (%v), want reason client_not_allowed", a.Body, err)
	}
}
