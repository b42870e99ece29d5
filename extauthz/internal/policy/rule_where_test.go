package policy_test

import (
	"strings"
	"testing"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/policy"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/reason"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/verifier"
)

func where(w policy.RuleWhere, r policy.Rule) policy.Rule {
	r.RuleWhere = w
	return r
}

func TestValidateWhere(t *testing.T) {
	login := policy.SignIn{LoginURL: "/signin"}
	tests := []struct {
		name    string
		cfg     policy.Config
		wantErr string // substring; empty: valid
	}{
		{"hosts, clients, token_use, redirect", policy.Config{SignIn: login, Rules: []policy.Rule{where(policy.RuleWhere{
			Hosts: []string{"api.example.com", "*.Example.COM", "localhost"}, ClientsAny: []string{"m2m"}, TokenUse: "access", Unauthenticated: "redirect"},
			policy.Rule{PathPrefix: "/internal"})}}, ""},
		{"host with port", policy.Config{Rules: []policy.Rule{where(policy.RuleWhere{Hosts: []string{"a.example.com:443"}}, policy.Rule{})}},
			`policy.rules[0].hosts[0]: "a.example.com:443" is not a host name`},
		{"host with scheme", policy.Config{Rules: []policy.Rule{where(policy.RuleWhere{Hosts: []string{"https://a.example.com"}}, policy.Rule{})}}, `policy.rules[0].hosts[0]`},
		{"wildcard inside", policy.Config{Rules: []policy.Rule{where(policy.RuleWhere{Hosts: []string{"a.*.example.com"}}, policy.Rule{})}}, `policy.rules[0].hosts[0]`},
		{"bare wildcard", policy.Config{Rules: []policy.Rule{where(policy.RuleWhere{Hosts: []string{"*"}}, policy.Rule{})}}, `policy.rules[0].hosts[0]`},
		{"empty host", policy.Config{Rules: []policy.Rule{where(policy.RuleWhere{Hosts: []string{""}}, policy.Rule{})}}, `policy.rules[0].hosts[0]`},
		{"empty client", policy.Config{Rules: []policy.Rule{where(policy.RuleWhere{ClientsAny: []string{"a", ""}}, policy.Rule{})}}, `policy.rules[0].clients_any[1]: "" is not an app client id`},
		{"clients on optional", policy.Config{Rules: []policy.Rule{where(policy.RuleWhere{ClientsAny: []string{"a"}}, policy.Rule{Auth: "optional"})}},
			`policy.rules[0].auth: clients_any needs auth: required, not optional`},
		{"unknown token_use", policy.Config{Rules: []policy.Rule{where(policy.RuleWhere{TokenUse: "refresh"}, policy.Rule{})}}, `policy.rules[0].token_use: unknown value "refresh"`},
		{"unknown rule unauthenticated", policy.Config{SignIn: login, Rules: []policy.Rule{where(policy.RuleWhere{Unauthenticated: "login"}, policy.Rule{})}},
			`policy.rules[0].unauthenticated: unknown value "login"`},
		{"redirect on optional", policy.Config{SignIn: login, Rules: []policy.Rule{where(policy.RuleWhere{Unauthenticated: "redirect"}, policy.Rule{Auth: "optional"})}},
			`policy.rules[0].auth: unauthenticated: redirect needs auth: required`},
		{"unknown default unauthenticated", policy.Config{SignIn: policy.SignIn{Unauthenticated: "302"}}, `policy.unauthenticated: unknown value "302"`},
		{"redirect default without login_url", policy.Config{SignIn: policy.SignIn{Unauthenticated: "redirect"}}, `policy.login_url: needed by policy.unauthenticated: redirect`},
		{"redirect rule without login_url", policy.Config{Rules: []policy.Rule{{}, where(policy.RuleWhere{Unauthenticated: "redirect"}, policy.Rule{})}},
			`policy.login_url: needed by policy.rules[1].unauthenticated: redirect`},
		{"login_url with query", policy.Config{SignIn: policy.SignIn{Unauthenticated: "redirect", LoginURL: "/signin?from=edge"}}, ""},
		{"login_url absolute", policy.Config{SignIn: policy.SignIn{LoginURL: "https://evil.example/"}}, `policy.login_url: "https://evil.example/" must be a path on this site`},
		{"login_url protocol-relative", policy.Config{SignIn: policy.SignIn{LoginURL: "//evil.example"}}, `policy.login_url`},
		{"login_url backslash", policy.Config{SignIn: policy.SignIn{LoginURL: "/\\evil.example"}}, `policy.login_url`},
		{"login_url encoded slash", policy.Config{SignIn: policy.SignIn{LoginURL: "/%2fevil.example"}}, `policy.login_url`},
		{"login_url CRLF", policy.Config{SignIn: policy.SignIn{LoginURL: "/signin\r\nSet-Cookie: x=1"}}, `policy.login_url`},
		{"login_url fragment", policy.Config{SignIn: policy.SignIn{LoginURL: "/signin#x"}}, `policy.login_url`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkValidate(t, tt.cfg, tt.wantErr) })
	}
}

// hostRules: /admin is required on the admin host and its subdomains, optional elsewhere
// (policy.default); /ops is off on the ops host only.
var hostRules = policy.Config{Default: policy.AuthOptional, Rules: []policy.Rule{
	where(policy.RuleWhere{Hosts: []string{"admin.example.com", "*.admin.example.com"}}, policy.Rule{PathPrefix: "/admin", Auth: policy.AuthRequired}),
	where(policy.RuleWhere{Hosts: []string{"ops.example.com"}}, policy.Rule{PathPrefix: "/ops", Auth: policy.AuthOff}),
	{PathPrefix: "/ops", Auth: policy.AuthRequired},
}}

func TestRequirementByHost(t *testing.T) {
	tests := []struct {
		name  string
		hosts []string
		path  string
		want  policy.Auth
	}{
		{"exact host", []string{"admin.example.com"}, "/admin", policy.AuthRequired},
		{"other case and a port", []string{"ADMIN.Example.Com:8443"}, "/admin", policy.AuthRequired},
		{"trailing dot", []string{"admin.example.com."}, "/admin", policy.AuthRequired},
		{"wildcard subdomain", []string{"eu.admin.example.com"}, "/admin", policy.AuthRequired},
		{"wildcard two labels down", []string{"a.eu.admin.example.com"}, "/admin", policy.AuthRequired},
		{"other host", []string{"www.example.com"}, "/admin", policy.AuthOptional},
		{"a suffix that is not a subdomain", []string{"eviladmin.example.com"}, "/admin", policy.AuthOptional},
		{"rule for another host falls through", []string{"www.example.com"}, "/ops", policy.AuthRequired},
		{"host-only off rule", []string{"ops.example.com"}, "/ops", policy.AuthOff},
		{":authority and Host disagree: the strictest", []string{"www.example.com", "admin.example.com"}, "/admin", policy.AuthRequired},
		{"repeated header joined with a comma", []string{"www.example.com,admin.example.com"}, "/admin", policy.AuthRequired},
		{"off on one host, required on the other: required", []string{"ops.example.com", "www.example.com"}, "/ops", policy.AuthRequired},
		{"no host: every host's rules", nil, "/admin", policy.AuthRequired},
		{"no host: never the off rule", nil, "/ops", policy.AuthRequired},
		{"unreadable host: every host's rules", []string{"www.example.com@admin"}, "/admin", policy.AuthRequired},
		{"IPv6 literal", []string{"[::1]:8000"}, "/admin", policy.AuthOptional},
		{"non-plain path on the admin host", []string{"admin.example.com"}, "/x/../admin", policy.AuthRequired},
		{"absolute-form path is required on any host", []string{"www.example.com"}, "http://www.example.com/", policy.AuthRequired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hostRules.RequirementAt(tt.hosts, tt.path, "GET", nil).Auth; got != tt.want {
				t.Fatalf("RequirementAt(%q, %q) = %s, want %s", tt.hosts, tt.path, got, tt.want)
			}
		})
	}
}

func TestClientsAndTokenUse(t *testing.T) {
	cfg := policy.Config{Rules: []policy.Rule{
		where(policy.RuleWhere{ClientsAny: []string{"m2m-client"}, TokenUse: verifier.TokenUseAccess}, policy.Rule{PathPrefix: "/internal", ScopesAll: []string{"jobs/run"}}),
		where(policy.RuleWhere{TokenUse: verifier.TokenUseID}, policy.Rule{PathPrefix: "/profile"}),
		where(policy.RuleWhere{ClientsAny: []string{"web-client"}}, policy.Rule{PathPrefix: "/web"}),
	}}
	m2m := &verifier.Claims{ClientID: "m2m-client", TokenUse: verifier.TokenUseAccess, Scopes: []string{"jobs/run"}}
	webUser := &verifier.Claims{ClientID: "web-client", Username: "alice", TokenUse: verifier.TokenUseAccess, Scopes: []string{"jobs/run"}}
	webID := &verifier.Claims{ClientID: "web-client", Username: "alice", TokenUse: verifier.TokenUseID}
	tests := []struct {
		name   string
		path   string
		claims *verifier.Claims
		want   policy.Decision
	}{
		{"m2m token of the listed client", "/internal/run", m2m, policy.Decision{Result: policy.Authenticated}},
		{"user token of another client, same scope", "/internal/run", webUser, policy.Decision{Result: policy.Forbidden, Reason: reason.ClientNotAllowed}},
		{"listed client without the scope", "/internal/run", &verifier.Claims{ClientID: "m2m-client", TokenUse: verifier.TokenUseAccess},
			policy.Decision{Result: policy.Forbidden, Reason: reason.InsufficientScope}},
		{"listed client, ID token", "/internal/run", &verifier.Claims{ClientID: "m2m-client", TokenUse: verifier.TokenUseID, Scopes: []string{"jobs/run"}},
			policy.Decision{Result: policy.Unauthenticated, Reason: reason.WrongTokenUse}},
		{"ID token on an id rule", "/profile", webID, policy.Decision{Result: policy.Authenticated}},
		{"access token on an id rule", "/profile", webUser, policy.Decision{Result: policy.Unauthenticated, Reason: reason.WrongTokenUse}},
		{"ID token's aud is its client", "/web", webID, policy.Decision{Result: policy.Authenticated}},
		{"m2m on the web route", "/web", m2m, policy.Decision{Result: policy.Forbidden, Reason: reason.ClientNotAllowed}},
		{"two readings, two client lists: both apply", "/web/../internal/run", webUser, policy.Decision{Result: policy.Forbidden, Reason: reason.ClientNotAllowed}},
		{"two readings, two client lists: m2m meets neither fully", "/web/../internal/run", m2m, policy.Decision{Result: policy.Forbidden, Reason: reason.ClientNotAllowed}},
		{"two readings, access and id: no token fits", "/profile/../internal/run", m2m, policy.Decision{Result: policy.Unauthenticated, Reason: reason.WrongTokenUse}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := cfg.Requirement(tt.path, "GET", nil)
			if got := cfg.Decide(&req, true, tt.claims, ""); got != tt.want {
				t.Fatalf("Decide(%s) = %+v, want %+v", tt.path, got, tt.want)
			}
		})
	}
}

const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"

func TestSignInLocation(t *testing.T) {
	cfg := policy.Config{SignIn: policy.SignIn{LoginURL: "/signin"}, Rules: []policy.Rule{
		where(policy.RuleWhere{Unauthenticated: policy.UnauthenticatedRedirect}, policy.Rule{PathPrefix: "/admin", GroupsAny: []string{"admin"}}),
		{PathPrefix: "/api"},
	}}
	// Every route required and redirected: the attacks below are about the path carried.
	all := policy.Config{Default: policy.AuthRequired, SignIn: policy.SignIn{Unauthenticated: policy.UnauthenticatedRedirect, LoginURL: "/signin"}}
	missing := policy.Decision{Result: policy.Unauthenticated, Reason: reason.Missing}
	tests := []struct {
		name     string
		cfg      policy.Config
		method   string
		accept   string
		path     string
		decision policy.Decision
		want     string // "" for no redirect
	}{
		{"navigation", cfg, "GET", browserAccept, "/admin", missing, "/signin?return_to=%2Fadmin"},
		{"HEAD navigation", cfg, "HEAD", browserAccept, "/admin", missing, "/signin?return_to=%2Fadmin"},
		{"query kept, encoded", cfg, "GET", browserAccept, "/admin/users?page=2&q=a b", missing, "/signin?return_to=%2Fadmin%2Fusers%3Fpage%3D2%26q%3Da+b"},
		{"expired token navigates too", cfg, "GET", browserAccept, "/admin", policy.Decision{Result: policy.Unauthenticated, Reason: reason.Expired}, "/signin?return_to=%2Fadmin"},
		{"fetch with json", cfg, "GET", "application/json", "/admin", missing, ""},
		{"fetch default accept", cfg, "GET", "*/*", "/admin", missing, ""},
		{"no accept", cfg, "GET", "", "/admin", missing, ""},
		{"json preferred over html", cfg, "GET", "text/html;q=0.5, application/json", "/admin", missing, ""},
		{"html and json alike", cfg, "GET", "text/html, application/json", "/admin", missing, ""},
		{"html refused", cfg, "GET", "text/html;q=0, */*", "/admin", missing, ""},
		{"POST", cfg, "POST", browserAccept, "/admin", missing, ""},
		{"forbidden keeps 403", cfg, "GET", browserAccept, "/admin", policy.Decision{Result: policy.Forbidden, Reason: reason.InsufficientGroup}, ""},
		{"unavailable keeps 503", cfg, "GET", browserAccept, "/admin", policy.Decision{Result: policy.Unavailable, Reason: reason.JWKSUnavailable}, ""},
		{"rule without redirect", cfg, "GET", browserAccept, "/api/x", missing, ""},
		{"protocol-relative path", all, "GET", browserAccept, "//evil.example/admin", missing, "/signin"},
		{"backslash path", all, "GET", browserAccept, "/\\evil.example", missing, "/signin"},
		{"encoded slashes", all, "GET", browserAccept, "/%2F%2Fevil.example", missing, "/signin"},
		{"encoded slash after one", all, "GET", browserAccept, "/%2Fevil.example", missing, "/signin"},
		{"encoded backslash", all, "GET", browserAccept, "/%5Cevil.example", missing, "/signin"},
		{"encoded CR LF", all, "GET", browserAccept, "/admin%0d%0aSet-Cookie:x=1", missing, "/signin"},
		{"safe path under redirect-all", all, "GET", browserAccept, "/a/%2F/b", missing, "/signin?return_to=%2Fa%2F%252F%2Fb"},
		{"too long", all, "GET", browserAccept, "/admin/" + strings.Repeat("a", 3000), missing, "/signin"},
		{"default says redirect", policy.Config{Default: policy.AuthRequired, SignIn: policy.SignIn{Unauthenticated: policy.UnauthenticatedRedirect, LoginURL: "/signin?from=edge"}},
			"GET", browserAccept, "/x", missing, "/signin?from=edge&return_to=%2Fx"},
		{"default redirect, rule says deny", policy.Config{SignIn: policy.SignIn{Unauthenticated: policy.UnauthenticatedRedirect, LoginURL: "/signin"},
			Rules: []policy.Rule{where(policy.RuleWhere{Unauthenticated: policy.UnauthenticatedDeny}, policy.Rule{PathPrefix: "/x"})}},
			"GET", browserAccept, "/x", missing, ""},
		{"invalid_token: deny on an optional route is not redirected", policy.Config{InvalidToken: policy.InvalidTokenDeny, SignIn: policy.SignIn{Unauthenticated: policy.UnauthenticatedRedirect, LoginURL: "/signin"}},
			"GET", browserAccept, "/x", policy.Decision{Result: policy.Unauthenticated, Reason: reason.Expired}, ""},
		{"a reading without redirect wins", cfg, "GET", browserAccept, "/api/../admin", missing, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.cfg.Requirement(tt.path, tt.method, nil)
			got, ok := tt.cfg.SignInLocation(&req, tt.decision, tt.method, tt.path, map[string]string{"accept": tt.accept})
			if ok != (tt.want != "") || got != tt.want {
				t.Fatalf("SignInLocation(%s %s, Accept %q) = %q, %v; want %q", tt.method, tt.path, tt.accept, got, ok, tt.want)
			}
		})
	}
}
