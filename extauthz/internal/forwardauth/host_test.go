package forwardauth_test

import (
	"net/http"
	"testing"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/authz"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/forwardauth"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/policy"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/tokensource"
)

const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

// newHostService: /home is required on admin.example.com, optional on every other host; a
// signed-out browser is sent to /signin.
func newHostService(t *testing.T) *authz.Server {
	t.Helper()
	rule := policy.Rule{PathPrefix: "/home", Auth: policy.AuthRequired}
	rule.Hosts = []string{"admin.example.com"}
	s, err := authz.New(authz.Options{
		Verifier:     standInVerifier{},
		Policy:       policy.Config{Rules: []policy.Rule{rule}, SignIn: policy.SignIn{Unauthenticated: policy.UnauthenticatedRedirect, LoginURL: "/signin"}},
		TokenSources: tokensource.Config{AuthorizationHeader: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestForwardAuthHost(t *testing.T) {
	service := newHostService(t)
	tests := []struct {
		name              string
		requestIsOriginal bool
		target            string // the forward-auth request's own URL (its Host)
		headers           [][2]string
		wantStatus        int
		wantLocation      string
	}{
		{"X-Forwarded-Host names the admin host", false, "http://authz.internal/auth",
			[][2]string{{"X-Forwarded-Uri", "/home"}, {"X-Forwarded-Method", "GET"}, {"X-Forwarded-Host", "admin.example.com"}}, 401, ""},
		{"X-Forwarded-Host names another host", false, "http://authz.internal/auth",
			[][2]string{{"X-Forwarded-Uri", "/home"}, {"X-Forwarded-Method", "GET"}, {"X-Forwarded-Host", "www.example.com"}}, 200, ""},
		{"the endpoint's own Host is not the request's", false, "http://admin.example.com/auth",
			[][2]string{{"X-Forwarded-Uri", "/home"}, {"X-Forwarded-Method", "GET"}, {"X-Forwarded-Host", "www.example.com"}}, 200, ""},
		{"no X-Forwarded-Host: every host's rules", false, "http://authz.internal/auth",
			[][2]string{{"X-Forwarded-Uri", "/home"}, {"X-Forwarded-Method", "GET"}}, 401, ""},
		{"two X-Forwarded-Host values: the strictest", false, "http://authz.internal/auth",
			[][2]string{{"X-Forwarded-Uri", "/home"}, {"X-Forwarded-Method", "GET"}, {"X-Forwarded-Host", "www.example.com"}, {"X-Forwarded-Host", "admin.example.com"}}, 401, ""},
		{"the original request's Host", true, "http://admin.example.com/home", nil, 401, ""},
		{"the original request's Host, a client's X-Forwarded-Host too: the strictest", true, "http://admin.example.com/home",
			[][2]string{{"X-Forwarded-Host", "www.example.com"}}, 401, ""},
		{"a navigation is redirected", false, "http://authz.internal/auth",
			[][2]string{{"X-Forwarded-Uri", "/home?tab=2"}, {"X-Forwarded-Method", "GET"}, {"X-Forwarded-Host", "admin.example.com"}, {"Accept", browserAccept}},
			302, "/signin?return_to=%2Fhome%3Ftab%3D2"},
		{"Traefik names the site: the redirect stays on it", false, "http://authz.internal/auth",
			[][2]string{{"X-Forwarded-Uri", "/home"}, {"X-Forwarded-Method", "GET"}, {"X-Forwarded-Host", "admin.example.com"}, {"X-Forwarded-Proto", "https"}, {"Accept", browserAccept}},
			302, "https://admin.example.com/signin?return_to=%2Fhome"},
		{"a scheme other than http(s) is not used", false, "http://authz.internal/auth",
			[][2]string{{"X-Forwarded-Uri", "/home"}, {"X-Forwarded-Method", "GET"}, {"X-Forwarded-Host", "admin.example.com"}, {"X-Forwarded-Proto", "javascript"}, {"Accept", browserAccept}},
			302, "/signin?return_to=%2Fhome"},
		{"a host that is not a host is not used", false, "http://authz.internal/auth",
			[][2]string{{"X-Forwarded-Uri", "/home"}, {"X-Forwarded-Method", "GET"}, {"X-Forwarded-Host", "evil.example/x"}, {"X-Forwarded-Proto", "https"}, {"Accept", browserAccept}},
			302, "/signin?return_to=%2Fhome"},
		{"fetch() keeps its 401", false, "http://authz.internal/auth",
			[][2]string{{"X-Forwarded-Uri", "/home"}, {"X-Forwarded-Method", "GET"}, {"X-Forwarded-Host", "admin.example.com"}, {"Accept", "application/json"}}, 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := forwardauth.New(service, forwardauth.Options{RequestIsOriginal: tt.requestIsOriginal})
			got := serve(t, h, http.MethodGet, tt.target, tt.headers)
			if got.status != tt.wantStatus {
				t.Fatalf("status %d %s, want %d", got.status, got.body, tt.wantStatus)
			}
			if loc := got.header.Get("Location"); loc != tt.wantLocation {
				t.Fatalf("Location %q, want %q", loc, tt.wantLocation)
			}
			if tt.wantStatus == 302 && got.body != "" {
				t.Fatalf("a redirect with a body: %q", got.body)
			}
			if cc := got.header.Values("Cache-Control"); len(cc) != 1 {
				t.Fatalf("Cache-Control lines %q, want one", cc)
			}
		})
	}
}
