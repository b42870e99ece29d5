package authz_test

import (
	"maps"
	"testing"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/authz"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/policy"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/reason"
)

// TestCheckJudgesMethodOverrides: a POST an app framework serves as DELETE (X-HTTP-Method-Override
// and its kin, the query's _method) is judged by the DELETE rule as well; the strictest wins.
func TestCheckJudgesMethodOverrides(t *testing.T) {
	f := newFixture(t, func(o *authz.Options) {
		o.DynamicMetadata = true // the reason is read from the metadata below
		o.Policy = policy.Config{Rules: []policy.Rule{
			{PathPrefix: "/api/items", Methods: []string{"DELETE"}, GroupsAny: []string{"admin"}},
		}}
	})
	with := func(h map[string]string, name, value string) map[string]string {
		h = maps.Clone(h)
		if h == nil {
			h = map[string]string{}
		}
		h[name] = value
		return h
	}
	tests := []struct {
		name       string
		path       string
		headers    map[string]string
		wantStatus int // 0: allowed
		wantReason reason.Code
	}{
		{"a POST alone is open", "/api/items/1", nil, 0, reason.Missing},
		{"X-HTTP-Method-Override: DELETE", "/api/items/1", map[string]string{"x-http-method-override": "DELETE"}, 401, reason.Missing},
		{"X-HTTP-Method: DELETE", "/api/items/1", map[string]string{"x-http-method": "DELETE"}, 401, reason.Missing},
		{"X-Method-Override: delete", "/api/items/1", map[string]string{"x-method-override": "delete"}, 401, reason.Missing},
		{"?_method=DELETE", "/api/items/1?_method=DELETE", nil, 401, reason.Missing},
		{"a user in no admin group", "/api/items/1", with(bearer(f.bob), "x-http-method-override", "DELETE"), 403, reason.InsufficientGroup},
		{"an admin", "/api/items/1", with(bearer(f.alice), "x-http-method-override", "DELETE"), 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := read(t, f.rpc.check(t, request("POST", tt.path, tt.headers, nil)))
			if a.status != tt.wantStatus {
				t.Fatalf("status %d (%s), want %d", a.status, a.body, tt.wantStatus)
			}
			if tt.wantReason != "" && a.metadata["reason"] != string(tt.wantReason) {
				t.Fatalf("reason %q, want %q", a.metadata["reason"], tt.wantReason)
			}
		})
	}
}

// TestUnreadRequestJudgedByEveryMethod: a request of more than MaxHeaderLines lines is not read,
// so any override header may be among them: every method a rule names is a reading, and a GET
// on a path whose DELETE needs a group is judged as that DELETE too.
func TestUnreadRequestJudgedByEveryMethod(t *testing.T) {
	f := newFixture(t, func(o *authz.Options) {
		o.Policy = policy.Config{Rules: []policy.Rule{
			{PathPrefix: "/api/items", Methods: []string{"DELETE"}, GroupsAny: []string{"admin"}},
		}}
	})
	tests := []struct {
		name       string
		lines      int
		wantStatus int // 0: allowed
	}{
		{"read: the GET alone is open", authz.MaxHeaderLines, 0},
		{"not read: judged as a DELETE too", authz.MaxHeaderLines + 1, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := read(t, f.rpc.check(t, headerMapRequest("/api/items/1", cookieFlood(f.bob, tt.lines))))
			if a.status != tt.wantStatus {
				t.Fatalf("status %d (%s), want %d", a.status, a.body, tt.wantStatus)
			}
		})
	}
}
