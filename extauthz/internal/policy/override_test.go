package policy_test

import (
	"strings"
	"testing"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/policy"
)

// TestMethodOverrideIsAReading: a method an app framework may serve the request as (an override
// header, the query's _method) is one more reading; the strictest wins.
func TestMethodOverrideIsAReading(t *testing.T) {
	cfg := policy.Config{Rules: []policy.Rule{
		{Methods: []string{"OPTIONS"}, Auth: policy.AuthOff},
		{PathPrefix: "/api/items", Methods: []string{"DELETE"}, Auth: policy.AuthRequired, GroupsAny: []string{"admin"}},
		{PathPrefix: "/api/items", Methods: []string{"PUT"}, Auth: policy.AuthRequired, GroupsAny: []string{"editor"}},
	}}
	for _, tc := range []struct {
		name, path, method string
		headers            map[string]string
		ext                map[string]string
		want               policy.Auth
		groups             [][]string // every group list a token must meet, in any order
	}{
		{"a POST alone", "/api/items/1", "POST", nil, nil, policy.AuthOptional, nil},
		{"X-HTTP-Method-Override", "/api/items/1", "POST", map[string]string{"x-http-method-override": "DELETE"}, nil, policy.AuthRequired, [][]string{{"admin"}}},
		{"X-HTTP-Method, lower-case", "/api/items/1", "POST", map[string]string{"x-http-method": "delete"}, nil, policy.AuthRequired, [][]string{{"admin"}}},
		{"X-Method-Override, two values", "/api/items/1", "POST", map[string]string{"x-method-override": "PATCH, DELETE"}, nil, policy.AuthRequired, [][]string{{"admin"}}},
		{"two headers: both rules apply", "/api/items/1", "POST", map[string]string{"x-http-method-override": "PUT", "x-http-method": "DELETE"}, nil, policy.AuthRequired, [][]string{{"admin"}, {"editor"}}},
		{"an off method cannot relax a required one", "/api/items/1", "DELETE", map[string]string{"x-http-method-override": "OPTIONS"}, nil, policy.AuthRequired, [][]string{{"admin"}}},
		{"the query's _method", "/api/items/1?_method=DELETE", "POST", nil, nil, policy.AuthRequired, [][]string{{"admin"}}},
		{"the query's _method, percent-encoded", "/api/items/1?page=2&%5Fmethod=DEL%45TE", "POST", nil, nil, policy.AuthRequired, [][]string{{"admin"}}},
		{"another parameter is no override", "/api/items/1?x_method=DELETE", "POST", nil, nil, policy.AuthOptional, nil},
		{"an override of another path's rule", "/other", "POST", map[string]string{"x-http-method-override": "DELETE"}, nil, policy.AuthOptional, nil},
		{"context extensions decide alone", "/api/items/1", "POST", map[string]string{"x-http-method-override": "DELETE"}, map[string]string{"auth": "optional"}, policy.AuthOptional, nil},
		{"a huge repeated header", "/api/items/1", "POST", map[string]string{"x-http-method-override": strings.Repeat("GET,", 1<<16) + "DELETE"}, nil, policy.AuthRequired, [][]string{{"admin"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := cfg.RequirementWithOverrides(nil, tc.path, tc.method, tc.headers, tc.ext)
			if got.Auth != tc.want {
				t.Fatalf("auth %s, want %s", got.Auth, tc.want)
			}
			lists := policy.GroupListsOf(got)
			if len(lists) != len(tc.groups) {
				t.Fatalf("group lists %v, want %v", lists, tc.groups)
			}
			for _, want := range tc.groups {
				found := false
				for _, l := range lists {
					found = found || strings.Join(l, ",") == strings.Join(want, ",")
				}
				if !found {
					t.Errorf("group lists %v, want %v among them", lists, want)
				}
			}
		})
	}
}
