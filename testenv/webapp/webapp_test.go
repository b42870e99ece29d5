package webapp_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/cognito-authz/cognito-authz/testenv/webapp"
)

func get(t *testing.T, h http.Handler, method, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAppConfigIsTheConfigInLowerCamel(t *testing.T) {
	for _, cfg := range []webapp.Config{
		{IdP: "cognito-local", Region: "us-east-1", UserPoolID: "local_abc", ClientID: "client1", Endpoint: "/cognito-idp/"},
		{IdP: "aws", Region: "eu-west-1", UserPoolID: "eu-west-1_AbC", ClientID: "c2", Endpoint: "https://cognito-idp.eu-west-1.amazonaws.com/"},
	} {
		resp := get(t, webapp.Handler(cfg), http.MethodGet, webapp.AppConfigPath)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s: status %d, content-type %q", cfg.IdP, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		var got map[string]string
		if err := json.Unmarshal([]byte(body(t, resp)), &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"idp": cfg.IdP, "region": cfg.Region, "userPoolId": cfg.UserPoolID,
			"clientId": cfg.ClientID, "endpoint": cfg.Endpoint}
		if len(got) != len(want) {
			t.Errorf("%s: %v, want %v", cfg.IdP, got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q", cfg.IdP, k, got[k], v)
			}
		}
	}
}

func TestServesThePageAndItsAssets(t *testing.T) {
	h := webapp.Handler(webapp.Config{})
	for _, tc := range []struct {
		path, contentType, contains string
	}{
		{"/", "text/html", `<script src="/static/app.js"`},
		{webapp.AdminPagePath, "text/html", `<script src="/static/app.js"`},
		{webapp.SignInPagePath, "text/html", `<script src="/static/app.js"`},
		{"/static/app.js", "javascript", "'use strict'"},
		{"/static/app.css", "text/css", ""},
	} {
		resp := get(t, h, http.MethodGet, tc.path)
		b := body(t, resp)
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), tc.contentType) || !strings.Contains(b, tc.contains) {
			t.Errorf("GET %s: %d %q, body contains %q: %v", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.contains, strings.Contains(b, tc.contains))
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s: security headers missing: %v", tc.path, resp.Header)
		}
	}
}

func TestServesNothingElse(t *testing.T) {
	h := webapp.Handler(webapp.Config{})
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/static/"},
		{http.MethodGet, "/static/missing.js"},
		{http.MethodGet, "/signup"}, // hash routing: only /, /admin and /signin serve the page
		{http.MethodGet, "/admin/x"},
		{http.MethodPost, webapp.SignInPagePath},
		{http.MethodGet, "/outbox"},
		{http.MethodPost, "/"},
		{http.MethodPost, webapp.AppConfigPath},
	} {
		if resp := get(t, h, tc.method, tc.path); resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: %d, want 404 or 405", tc.method, tc.path, resp.StatusCode)
		}
	}
}

// The page must load nothing from another origin: the demo runs where only loopback is reachable,
// and a page that handles tokens should not run someone else's script.
func TestPageLoadsNothingFromElsewhere(t *testing.T) {
	h := webapp.Handler(webapp.Config{})
	page := body(t, get(t, h, http.MethodGet, "/"))
	refs := regexp.MustCompile(`(?i)\b(?:src|href)\s*=\s*"([^"]*)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 3 {
		t.Fatalf("found %d references in the page; the pattern is broken", len(refs))
	}
	for _, ref := range refs {
		u := ref[1]
		local := strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//") || strings.HasPrefix(u, "#") || strings.HasPrefix(u, "data:")
		if !local {
			t.Errorf("the page references %q, not on its own origin", u)
			continue
		}
		if strings.HasPrefix(u, webapp.StaticPrefix) {
			if resp := get(t, h, http.MethodGet, u); resp.StatusCode != http.StatusOK {
				t.Errorf("the page references %s, which answers %d", u, resp.StatusCode)
			}
		}
	}
	for _, asset := range []string{"/static/app.js", "/static/app.css"} {
		if b := body(t, get(t, h, http.MethodGet, asset)); regexp.MustCompile(`(?i)\b(?:import|url)\s*\(\s*['"]?(?:https?:)?//`).MatchString(b) {
			t.Errorf("%s loads something from another origin", asset)
		}
	}
}

func TestContentSecurityPolicyAllowsOnlyTheIdentityProvider(t *testing.T) {
	for _, tc := range []struct {
		endpoint, wantConnect string
	}{
		{"/cognito-idp/", "connect-src 'self';"},
		{"https://cognito-idp.eu-west-1.amazonaws.com/", "connect-src 'self' https://cognito-idp.eu-west-1.amazonaws.com;"},
		{"", "connect-src 'self';"},
		{"javascript:alert(1)", "connect-src 'self';"},
	} {
		csp := get(t, webapp.Handler(webapp.Config{Endpoint: tc.endpoint}), http.MethodGet, "/").Header.Get("Content-Security-Policy")
		for _, want := range []string{tc.wantConnect, "script-src 'self';", "default-src 'none';", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("endpoint %q: policy %q lacks %q", tc.endpoint, csp, want)
			}
		}
	}
}
