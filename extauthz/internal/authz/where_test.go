package authz_test

import (
	"testing"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/authz"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/policy"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/reason"
)

// TestCheckHostsClientsRedirect: Check reads the host from :authority (and a host header beside
// it), answers clients_any with 403 client_not_allowed, and redirects a browser navigation with
// 302 while fetch() keeps the 401, recording both as unauthenticated.
func TestCheckHostsClientsRedirect(t *testing.T) {
	admin := policy.Rule{PathPrefix: "/reports", GroupsAny: []string{"admin"}}
	admin.Hosts = []string{"admin.example"}
	admin.Unauthenticated = policy.UnauthenticatedRedirect
	internal := policy.Rule{PathPrefix: "/internal"}
	internal.ClientsAny = []string{"m2m-client"}
	f := newFixture(t, func(o *authz.Options) {
		o.Policy = policy.Config{Rules: []policy.Rule{admin, internal}, SignIn: policy.SignIn{LoginURL: "/signin"}}
		o.DynamicMetadata = true // the reason is read from the metadata below
	})
	const navigation = "text/html,application/xhtml+xml,*/*;q=0.8"
	tests := []struct {
		name         string
		path         string
		headers      map[string]string
		wantStatus   int // 0: allowed
		wantLocation string
		wantReason   reason.Code
	}{
		{"required on the admin host", "/reports", map[string]string{":authority": "admin.example:443"}, 401, "", reason.Missing},
		{"open on another host", "/reports", map[string]string{":authority": "www.example"}, 0, "", reason.Missing},
		{"a host header beside :authority: the strictest", "/reports", map[string]string{":authority": "www.example", "host": "admin.example"}, 401, "", reason.Missing},
		{"a navigation is redirected", "/reports/q1?x=1", map[string]string{":authority": "admin.example", "accept": navigation}, 302, "/signin?return_to=%2Freports%2Fq1%3Fx%3D1", reason.Missing},
		{"fetch() with json keeps the 401", "/reports", map[string]string{":authority": "admin.example", "accept": "application/json"}, 401, "", reason.Missing},
		{"a token of another client", "/internal/jobs", bearer(f.alice), 403, "", reason.ClientNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := read(t, f.rpc.check(t, request("GET", tt.path, tt.headers, nil)))
			if a.status != tt.wantStatus || a.set["location"] != tt.wantLocation {
				t.Fatalf("status %d, location %q (%s); want %d, %q", a.status, a.set["location"], a.body, tt.wantStatus, tt.wantLocation)
			}
			if a.metadata["reason"] != string(tt.wantReason) {
				t.Fatalf("reason %q, want %q", a.metadata["reason"], tt.wantReason)
			}
			if tt.wantStatus == 302 {
				if got := f.rec.last(); got.result != policy.Unauthenticated || got.why != string(reason.Missing) {
					t.Fatalf("recorded %+v, want unauthenticated, missing", got)
				}
			}
		})
	}
}
