package webapp_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
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
		{http.MethodGet, "/signin"}, // hash routing: only / serves the page
		{http.MethodGet, "/outbox"},
		{http.MethodPost, "/"},
		{http.MethodPost, webapp.AppConfigPath},
	} {
		if resp := get(t, h, tc.method, tc.path); resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: %d, want 404 or 405", tc.method, tc.path, resp.StatusCode)
		}
	}
}
