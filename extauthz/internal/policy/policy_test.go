package policy_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/policy"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/reason"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/verifier"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     policy.Config
		wantErr string // substring; empty: valid
	}{
		{"zero value takes the defaults", policy.Config{}, ""},
		{"spec example", policy.Config{Default: "optional", InvalidToken: "anonymous", Rules: []policy.Rule{
			{PathPrefix: "/api/admin", Methods: []string{"GET", "POST"}, Auth: "required", GroupsAny: []string{"admin"}, ScopesAll: []string{}},
		}}, ""},
		{"methods-only rule", policy.Config{Rules: []policy.Rule{{Methods: []string{"OPTIONS"}, Auth: "off"}}}, ""},
		{"rule without auth is required, so groups are fine", policy.Config{Rules: []policy.Rule{{PathPrefix: "/a", GroupsAny: []string{"g"}}}}, ""},
		{"unknown default", policy.Config{Default: "sometimes"}, `policy.default: unknown value "sometimes"`},
		{"default off", policy.Config{Default: "off"}, `policy.default: "off" is not allowed`},
		{"unknown invalid_token", policy.Config{InvalidToken: "allow"}, `policy.invalid_token: unknown value "allow"`},
		{"unknown rule auth", policy.Config{Rules: []policy.Rule{{PathPrefix: "/a"}, {PathPrefix: "/b"}, {PathPrefix: "/c", Auth: "sometimes"}}},
			`policy.rules[2].auth: unknown value "sometimes"`},
		{"relative prefix", policy.Config{Rules: []policy.Rule{{PathPrefix: "api"}}}, `policy.rules[0].path_prefix: "api" must start with /`},
		{"prefix with query", policy.Config{Rules: []policy.Rule{{PathPrefix: "/a?b=1"}}}, `policy.rules[0].path_prefix: "/a?b=1" must not contain a query`},
		{"lower-case method", policy.Config{Rules: []policy.Rule{{Methods: []string{"GET", "post"}}}}, `policy.rules[0].methods[1]: "post" must be upper-case`},
		{"method with space", policy.Config{Rules: []policy.Rule{{Methods: []string{"GET POST"}}}}, `policy.rules[0].methods[0]: "GET POST" is not an HTTP method`},
		{"empty group", policy.Config{Rules: []policy.Rule{{GroupsAny: []string{" "}}}}, `policy.rules[0].groups_any[0]: " " is not a group name`},
		{"comma in group", policy.Config{Rules: []policy.Rule{{GroupsAny: []string{"a,b"}}}}, `policy.rules[0].groups_any[0]`},
		{"scope with space", policy.Config{Rules: []policy.Rule{{ScopesAll: []string{"a b"}}}}, `policy.rules[0].scopes_all[0]: "a b" is not a scope`},
		{"groups on optional rule", policy.Config{Rules: []policy.Rule{{Auth: "optional", GroupsAny: []string{"g"}}}},
			`policy.rules[0].auth: groups_any and scopes_all need auth: required, not optional`},
		{"scopes on off rule", policy.Config{Rules: []policy.Rule{{Auth: "off", ScopesAll: []string{"s"}}}}, `policy.rules[0].auth: groups_any and scopes_all need auth: required, not off`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkValidate(t, tt.cfg, tt.wantErr) })
	}
}

var specRules = policy.Config{
	Default: policy.AuthOptional,
	Rules: []policy.Rule{
		{PathPrefix: "/healthz", Auth: policy.AuthOff},
		{Methods: []string{"OPTIONS"}, Auth: policy.AuthOff},
		{PathPrefix: "/api/admin", Methods: []string{"GET", "POST"}, Auth: policy.AuthRequired, GroupsAny: []string{"admin"}},
		{PathPrefix: "/api/admin", Auth: policy.AuthRequired, GroupsAny: []string{"admin"}, ScopesAll: []string{"admin/write"}},
		{PathPrefix: "/api/me/", Auth: policy.AuthRequired},
		{PathPrefix: "/public", Auth: policy.AuthOptional},
	},
}

var withWellKnown = policy.Config{Rules: []policy.Rule{{PathPrefix: "/.well-known", Auth: policy.AuthOff}}}

func TestRequirement(t *testing.T) {
	tests := []struct {
		name     string
		cfg      policy.Config
		path     string
		method   string
		ext      map[string]string
		wantAuth policy.Auth
		wantRule int
		groups   []string
		scopes   []string
		tokenUse verifier.TokenUse
	}{
		{"no rule matches: default", specRules, "/api/activities/home", "GET", nil, policy.AuthOptional, -1, nil, nil, ""},
		{"required default", policy.Config{Default: policy.AuthRequired}, "/x", "GET", nil, policy.AuthRequired, -1, nil, nil, ""},
		{"off rule", specRules, "/healthz", "GET", nil, policy.AuthOff, 0, nil, nil, ""},
		{"query string is stripped", specRules, "/healthz?probe=1", "GET", nil, policy.AuthOff, 0, nil, nil, ""},
		{"a raw fragment is read both cut and kept", specRules, "/healthz#x", "GET", nil, policy.AuthOptional, -1, nil, nil, ""},
		{"prefix matches whole segments only", specRules, "/healthzz", "GET", nil, policy.AuthOptional, -1, nil, nil, ""},
		{"query cannot smuggle a prefix", specRules, "/api/admin?/healthz", "GET", nil, policy.AuthRequired, 2, []string{"admin"}, nil, ""},
		{"methods-only rule", specRules, "/api/admin/users", "OPTIONS", nil, policy.AuthOff, 1, nil, nil, ""},
		{"method matched case-insensitively", specRules, "/api/admin/users", "get", nil, policy.AuthRequired, 2, []string{"admin"}, nil, ""},
		{"first matching rule wins", specRules, "/api/admin/users", "POST", nil, policy.AuthRequired, 2, []string{"admin"}, nil, ""},
		{"HEAD follows GET", specRules, "/api/admin/users", "HEAD", nil, policy.AuthRequired, 2, []string{"admin"}, nil, ""},
		{"head follows GET whatever its case", specRules, "/api/admin/users", "head", nil, policy.AuthRequired, 2, []string{"admin"}, nil, ""},
		{"HEAD follows GET to a required rule, not the default", policy.Config{Rules: []policy.Rule{{PathPrefix: "/api", Methods: []string{"GET"}}}}, "/api/x", "HEAD", nil, policy.AuthRequired, 0, nil, nil, ""},
		{"GET does not follow HEAD", policy.Config{Rules: []policy.Rule{{PathPrefix: "/api", Methods: []string{"HEAD"}}}}, "/api/x", "GET", nil, policy.AuthOptional, -1, nil, nil, ""},
		{"method filter falls through", specRules, "/api/admin/users", "DELETE", nil, policy.AuthRequired, 3, []string{"admin"}, []string{"admin/write"}, ""},
		{"prefix with trailing slash", specRules, "/api/me/items", "GET", nil, policy.AuthRequired, 4, nil, nil, ""},
		{"prefix with trailing slash needs it", specRules, "/api/me", "GET", nil, policy.AuthOptional, -1, nil, nil, ""},
		{"empty path is required", specRules, "", "GET", nil, policy.AuthRequired, -1, nil, nil, ""},
		{"asterisk path is required", specRules, "*", "OPTIONS", nil, policy.AuthRequired, -1, nil, nil, ""},
		{"dot segments cannot reach an off rule's neighbour", specRules, "/healthz/../api/admin", "DELETE", nil, policy.AuthRequired, 3, []string{"admin"}, []string{"admin/write"}, ""},
		{"double slash", specRules, "//api//admin", "DELETE", nil, policy.AuthRequired, 3, []string{"admin"}, []string{"admin/write"}, ""},
		{"percent escapes", specRules, "/api/%61dmin", "DELETE", nil, policy.AuthRequired, 3, []string{"admin"}, []string{"admin/write"}, ""},
		{"encoded slash", specRules, "/api%2Fadmin", "DELETE", nil, policy.AuthRequired, 3, []string{"admin"}, []string{"admin/write"}, ""},
		{"stricter reading wins over off", specRules, "/healthz/%2e%2e/api/admin", "DELETE", nil, policy.AuthRequired, 3, []string{"admin"}, []string{"admin/write"}, ""},
		{"raw reading wins when stricter", specRules, "/api/admin/%2e%2e/%2e%2e/healthz", "DELETE", nil, policy.AuthRequired, 3, []string{"admin"}, []string{"admin/write"}, ""},
		{"invalid escape left alone", specRules, "/public/%zz", "GET", nil, policy.AuthOptional, 5, nil, nil, ""},
		{"dot-named segment is not a dot segment", withWellKnown, "/.well-known/jwks.json", "GET", nil, policy.AuthOff, 0, nil, nil, ""},
		{"dot-dot-named segment is not a dot segment", withWellKnown, "/..well-known", "GET", nil, policy.AuthOptional, -1, nil, nil, ""},
		{"trailing dot-dot", specRules, "/api/admin/x/..", "DELETE", nil, policy.AuthRequired, 3, []string{"admin"}, []string{"admin/write"}, ""},
		{"trailing dot-dot leaving the off rule", specRules, "/healthz/..", "GET", nil, policy.AuthOptional, -1, nil, nil, ""},

		{"context auth overrides rules", specRules, "/healthz", "GET", map[string]string{"auth": "required"}, policy.AuthRequired, -1, nil, nil, ""},
		{"context auth off", specRules, "/api/admin", "GET", map[string]string{"auth": "off"}, policy.AuthOff, -1, nil, nil, ""},
		{"context replaces the rule's groups", specRules, "/api/admin", "GET", map[string]string{"auth": "required"}, policy.AuthRequired, -1, nil, nil, ""},
		{"unknown context auth is required", specRules, "/healthz", "GET", map[string]string{"auth": "sometimes"}, policy.AuthRequired, -1, nil, nil, ""},
		{"context auth is case-sensitive", specRules, "/healthz", "GET", map[string]string{"auth": "Off"}, policy.AuthRequired, -1, nil, nil, ""},
		{"context groups make the route required", specRules, "/", "GET", map[string]string{"auth": "optional", "groups": " a, b ,,"}, policy.AuthRequired, -1, []string{"a", "b"}, nil, ""},
		{"context groups beat auth off", specRules, "/", "GET", map[string]string{"auth": "off", "groups": "a"}, policy.AuthRequired, -1, []string{"a"}, nil, ""},
		{"context scopes", specRules, "/", "GET", map[string]string{"scopes": "s1  s2"}, policy.AuthRequired, -1, nil, []string{"s1", "s2"}, ""},
		{"context token_use alone keeps the default auth", specRules, "/api/admin", "GET", map[string]string{"token_use": "id"}, policy.AuthOptional, -1, nil, nil, verifier.TokenUseID},
		{"context token_use with the required default", policy.Config{Default: policy.AuthRequired}, "/", "GET", map[string]string{"token_use": "access"}, policy.AuthRequired, -1, nil, nil, verifier.TokenUseAccess},
		{"foreign context keys are ignored", specRules, "/healthz", "GET", map[string]string{"virtual_host": "x"}, policy.AuthOff, 0, nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.cfg.Requirement(tt.path, tt.method, tt.ext)
			if got.Auth != tt.wantAuth || policy.RuleOf(got) != tt.wantRule || !slices.Equal(got.GroupsAny, tt.groups) ||
				!slices.Equal(got.ScopesAll, tt.scopes) || got.TokenUse != tt.tokenUse {
				t.Fatalf("Requirement(%q, %q, %v) = %+v, want auth %s rule %d groups %v scopes %v token_use %q",
					tt.path, tt.method, tt.ext, got, tt.wantAuth, tt.wantRule, tt.groups, tt.scopes, tt.tokenUse)
			}
			if fromContext := policy.FromContext(got); fromContext != (tt.wantRule == -1 && tt.ext != nil && tt.ext["virtual_host"] == "") {
				t.Fatalf("FromContext = %v", fromContext)
			}
		})
	}
}

// tiedRules are two rules that rank alike, a scope rule, and an off rule beside them.
var tiedRules = policy.Config{
	Default: policy.AuthOptional,
	Rules: []policy.Rule{
		{PathPrefix: "/healthz", Auth: policy.AuthOff},
		{PathPrefix: "/api/admin", Auth: policy.AuthRequired, GroupsAny: []string{"admin"}},
		{PathPrefix: "/api/ops", Auth: policy.AuthRequired, GroupsAny: []string{"ops"}},
		{PathPrefix: "/api/reports", Auth: policy.AuthRequired, ScopesAll: []string{"reports/read"}},
	},
}

// TestPathReadings: a path an app server might route elsewhere than it reads (dot segments, ";"
// parameters, a raw "#", and their percent-encoded spellings) must meet every reading's rule, so
// the strictest wins and a tie between two rules never lets the raw reading decide.
func TestPathReadings(t *testing.T) {
	token := func(groups []string, scopes ...string) *verifier.Claims {
		return &verifier.Claims{Subject: "u", TokenUse: verifier.TokenUseAccess, Groups: groups, Scopes: scopes}
	}
	ops, admin, both := token([]string{"ops"}), token([]string{"admin"}), token([]string{"ops", "admin"})
	opsReports := token([]string{"ops"}, "reports/read")
	authenticated := policy.Decision{Result: policy.Authenticated}
	noGroup := policy.Decision{Result: policy.Forbidden, Reason: reason.InsufficientGroup}
	noScope := policy.Decision{Result: policy.Forbidden, Reason: reason.InsufficientScope}
	missing := policy.Decision{Result: policy.Unauthenticated, Reason: reason.Missing}
	anonymous := policy.Decision{Result: policy.Anonymous, Reason: reason.Missing}
	tests := []struct {
		name   string
		path   string
		claims *verifier.Claims // nil: no token
		want   policy.Decision
	}{
		{"plain path of the rule", "/api/ops/x", ops, authenticated},
		{"tie: dot segments into the other rule", "/api/ops/../admin", ops, noGroup},
		{"tie: the other rule's group alone is not enough", "/api/ops/../admin", admin, noGroup},
		{"tie: a token in both groups meets both", "/api/ops/../admin", both, authenticated},
		{"tie: the other way round", "/api/admin/../ops", admin, noGroup},
		{"tie: encoded dot segments", "/api/ops/%2e%2e/admin", ops, noGroup},
		{"tie: encoded slashes", "/api/ops%2f..%2fadmin", ops, noGroup},
		{"tie: double slash and dots", "/api/ops//..//admin/", ops, noGroup},
		{"tie: dot-dot with a parameter", "/api/ops/..;x/admin", ops, noGroup},
		{"groups and scopes: scope rule reached from a group rule", "/api/ops/../reports", ops, noScope},
		{"groups and scopes: both met", "/api/ops/../reports", opsReports, authenticated},
		{"groups and scopes: group rule reached from a scope rule", "/api/reports/../ops", token(nil, "reports/read"), noGroup},
		{"parameter on the rule's segment", "/api/admin;x", nil, missing},
		{"parameter with a value", "/api/admin;jsessionid=1/users", nil, missing},
		{"parameter inside the prefix", "/api;x/admin", nil, missing},
		{"encoded parameter", "/api/admin%3bx", nil, missing},
		{"encoded parameter, lower-case", "/api/admin%3Bx/users", nil, missing},
		{"parameter, token of the group", "/api/admin;x", admin, authenticated},
		{"raw fragment hiding dot segments", "/healthz#/../api/admin", nil, missing},
		{"encoded fragment hiding dot segments", "/healthz%23/../api/admin", nil, missing},
		{"raw fragment, ops token", "/api/ops#/../admin", ops, noGroup},
		{"query is not a reading", "/healthz?/../api/admin", nil, policy.Decision{Result: policy.Skipped}},
		{"off rule, plain", "/healthz", nil, policy.Decision{Result: policy.Skipped}},
		{"off rule with a parameter: also read as another path", "/healthz;x", nil, anonymous},
		{"off rule left by dot segments", "/healthz/..", nil, anonymous},
		{"invalid escape", "/api/%zz/../admin", nil, missing},
		{"backslash dot segments", `/healthz/..\api/admin`, nil, missing},
		{"encoded backslash dot segments", "/healthz/..%5capi/admin", nil, missing},
		{"backslash, ops token", `/api/ops\..\admin`, ops, noGroup},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tiedRules.Requirement(tt.path, "GET", nil)
			got := tiedRules.Decide(&req, tt.claims != nil, tt.claims, "")
			if got != tt.want {
				t.Fatalf("%s: %+v, want %+v (requirement %+v)", tt.path, got, tt.want, req)
			}
		})
	}
}

// TestContextExtensionsOnPathsRoutedElsewhere: context extensions speak for the route Envoy chose
// by its reading of the path; a path an app server might route to another route is refused, since
// only Envoy knows that route's requirement. Escapes that change no segment are not refused.
func TestContextExtensionsOnPathsRoutedElsewhere(t *testing.T) {
	admin := &verifier.Claims{Subject: "u", TokenUse: verifier.TokenUseAccess, Groups: []string{"admin"}}
	ambiguous := policy.Decision{Result: policy.Forbidden, Reason: reason.AmbiguousPath}
	missing := policy.Decision{Result: policy.Unauthenticated, Reason: reason.Missing}
	off := map[string]string{policy.ExtAuth: "off"}
	optional := map[string]string{policy.ExtAuth: "optional"}
	adminOnly := map[string]string{policy.ExtGroups: "admin"}
	tests := []struct {
		name   string
		path   string
		ext    map[string]string
		claims *verifier.Claims // nil: no token
		want   policy.Decision
	}{
		{"plain path under an off route", "/static/app.js", off, nil, policy.Decision{Result: policy.Skipped}},
		{"escaped space changes no segment", "/static/my%20file.png", off, nil, policy.Decision{Result: policy.Skipped}},
		{"escaped letter changes no segment", "/static/%61pp.js", off, nil, policy.Decision{Result: policy.Skipped}},
		{"query is not part of the path", "/static/app.js?v=..;/x", off, nil, policy.Decision{Result: policy.Skipped}},
		{"Tomcat's ..; out of an off route", "/static/..;/api/admin", off, nil, missing},
		{"Tomcat's ..; with a token", "/static/..;/api/admin", off, admin, ambiguous},
		{"parameter on an optional route", "/api/admin;x", optional, nil, missing},
		{"escaped parameter", "/api/admin%3bx", optional, nil, missing},
		{"escaped dot segment", "/static/%2e%2e/api/admin", off, nil, missing},
		{"escaped slash", "/static%2f..%2fapi/admin", off, nil, missing},
		{"double escape", "/static/%252e%252e/api/admin", off, nil, missing},
		{"escaped question mark", "/static/x%3f/../api/admin", off, nil, missing},
		{"backslash", `/static/..\api/admin`, off, nil, missing},
		{"raw fragment", "/static#/../api/admin", off, nil, missing},
		{"double slash", "/static//x", off, nil, missing},
		{"even a group route", "/api/admin;x", adminOnly, admin, ambiguous},
	}
	cfg := policy.Config{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := cfg.Requirement(tt.path, "GET", tt.ext)
			got := cfg.Decide(&req, tt.claims != nil, tt.claims, "")
			if got != tt.want {
				t.Fatalf("%s with %v: %+v, want %+v", tt.path, tt.ext, got, tt.want)
			}
		})
	}
}

func TestDecide(t *testing.T) {
	access := &verifier.Claims{Subject: "u1", TokenUse: verifier.TokenUseAccess, Groups: []string{"users", "admin"}, Scopes: []string{"openid", "admin/write"}}
	idToken := &verifier.Claims{Subject: "u1", TokenUse: verifier.TokenUseID, Groups: []string{"users"}}
	required := policy.Requirement{Auth: policy.AuthRequired}
	optional := policy.Requirement{Auth: policy.AuthOptional}
	off := policy.Requirement{Auth: policy.AuthOff}
	deny := policy.Config{InvalidToken: policy.InvalidTokenDeny}
	anon := policy.Config{}
	ctx := func(ext map[string]string) policy.Requirement { return anon.Requirement("/", "GET", ext) }

	tests := []struct {
		name    string
		cfg     policy.Config
		req     policy.Requirement
		present bool
		claims  *verifier.Claims
		failure reason.Code
		want    policy.Decision
	}{
		{"valid token, required", anon, required, true, access, "", policy.Decision{Result: policy.Authenticated}},
		{"valid token, optional", anon, optional, true, access, "", policy.Decision{Result: policy.Authenticated}},
		{"no token, optional", anon, optional, false, nil, "", policy.Decision{Result: policy.Anonymous, Reason: reason.Missing}},
		{"no token, optional, deny mode", deny, optional, false, nil, "", policy.Decision{Result: policy.Anonymous, Reason: reason.Missing}},
		{"no token, required", anon, required, false, nil, "", policy.Decision{Result: policy.Unauthenticated, Reason: reason.Missing}},
		{"claims without a token are ignored", anon, required, false, access, "", policy.Decision{Result: policy.Unauthenticated, Reason: reason.Missing}},
		{"invalid token, optional", anon, optional, true, nil, reason.Expired, policy.Decision{Result: policy.Anonymous, Reason: reason.Expired}},
		{"invalid token, optional, deny mode", deny, optional, true, nil, reason.BadSignature, policy.Decision{Result: policy.Unauthenticated, Reason: reason.BadSignature}},
		{"invalid token, required", anon, required, true, nil, reason.Malformed, policy.Decision{Result: policy.Unauthenticated, Reason: reason.Malformed}},
		{"token with neither claims nor failure", anon, required, true, nil, "", policy.Decision{Result: policy.Unauthenticated, Reason: reason.Malformed}},
		{"keys unavailable, required", anon, required, true, nil, reason.JWKSUnavailable, policy.Decision{Result: policy.Unavailable, Reason: reason.JWKSUnavailable}},
		{"keys unavailable, optional", anon, optional, true, nil, reason.JWKSUnavailable, policy.Decision{Result: policy.Anonymous, Reason: reason.JWKSUnavailable}},
		{"keys unavailable, optional, deny mode", deny, optional, true, nil, reason.JWKSUnavailable, policy.Decision{Result: policy.Unavailable, Reason: reason.JWKSUnavailable}},
		{"off ignores a valid token", anon, off, true, access, "", policy.Decision{Result: policy.Skipped}},
		{"off ignores an invalid token", deny, off, true, nil, reason.Expired, policy.Decision{Result: policy.Skipped}},
		{"off ignores no token", anon, off, false, nil, "", policy.Decision{Result: policy.Skipped}},
		{"unknown requirement auth denies", anon, policy.Requirement{Auth: "sometimes"}, false, nil, "", policy.Decision{Result: policy.Unauthenticated, Reason: reason.Missing}},

		{"groups any-of satisfied by one", anon, policy.Requirement{Auth: policy.AuthRequired, GroupsAny: []string{"ops", "admin"}}, true, access, "", policy.Decision{Result: policy.Authenticated}},
		{"groups any-of unsatisfied", anon, policy.Requirement{Auth: policy.AuthRequired, GroupsAny: []string{"ops", "root"}}, true, access, "", policy.Decision{Result: policy.Forbidden, Reason: reason.InsufficientGroup}},
		{"no groups in the token", anon, policy.Requirement{Auth: policy.AuthRequired, GroupsAny: []string{"admin"}}, true, &verifier.Claims{TokenUse: verifier.TokenUseAccess}, "", policy.Decision{Result: policy.Forbidden, Reason: reason.InsufficientGroup}},
		{"scopes all-of satisfied", anon, policy.Requirement{Auth: policy.AuthRequired, ScopesAll: []string{"admin/write", "openid"}}, true, access, "", policy.Decision{Result: policy.Authenticated}},
		{"scopes all-of missing one", anon, policy.Requirement{Auth: policy.AuthRequired, ScopesAll: []string{"openid", "admin/read"}}, true, access, "", policy.Decision{Result: policy.Forbidden, Reason: reason.InsufficientScope}},
		{"id tokens have no scopes", anon, policy.Requirement{Auth: policy.AuthRequired, ScopesAll: []string{"openid"}}, true, idToken, "", policy.Decision{Result: policy.Forbidden, Reason: reason.InsufficientScope}},
		{"groups are checked before scopes", anon, policy.Requirement{Auth: policy.AuthRequired, GroupsAny: []string{"root"}, ScopesAll: []string{"nope"}}, true, access, "", policy.Decision{Result: policy.Forbidden, Reason: reason.InsufficientGroup}},
		{"an invalid token is not forbidden", anon, policy.Requirement{Auth: policy.AuthRequired, GroupsAny: []string{"root"}}, true, nil, reason.Expired, policy.Decision{Result: policy.Unauthenticated, Reason: reason.Expired}},

		{"route token_use id rejects access", anon, ctx(map[string]string{"auth": "required", "token_use": "id"}), true, access, "", policy.Decision{Result: policy.Unauthenticated, Reason: reason.WrongTokenUse}},
		{"route token_use id accepts id", anon, ctx(map[string]string{"auth": "required", "token_use": "id"}), true, idToken, "", policy.Decision{Result: policy.Authenticated}},
		{"route token_use any", anon, ctx(map[string]string{"auth": "required", "token_use": "any"}), true, idToken, "", policy.Decision{Result: policy.Authenticated}},
		{"wrong token_use on an optional route is anonymous", anon, ctx(map[string]string{"auth": "optional", "token_use": "access"}), true, idToken, "", policy.Decision{Result: policy.Anonymous, Reason: reason.WrongTokenUse}},
		{"unknown route token_use matches nothing", anon, ctx(map[string]string{"auth": "required", "token_use": "refresh"}), true, access, "", policy.Decision{Result: policy.Unauthenticated, Reason: reason.WrongTokenUse}},
		{"context groups naming no group admit nobody", anon, ctx(map[string]string{"groups": " , "}), true, access, "", policy.Decision{Result: policy.Forbidden, Reason: reason.InsufficientGroup}},
		{"context groups naming no group still need a token", anon, ctx(map[string]string{"groups": ""}), false, nil, "", policy.Decision{Result: policy.Unauthenticated, Reason: reason.Missing}},
		{"context groups any-of", anon, ctx(map[string]string{"groups": "ops,admin"}), true, access, "", policy.Decision{Result: policy.Authenticated}},
		{"context scopes all-of", anon, ctx(map[string]string{"scopes": "openid admin/write"}), true, access, "", policy.Decision{Result: policy.Authenticated}},
		{"context scopes all-of missing one", anon, ctx(map[string]string{"scopes": "openid email"}), true, access, "", policy.Decision{Result: policy.Forbidden, Reason: reason.InsufficientScope}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.cfg.Decide(&tt.req, tt.present, tt.claims, tt.failure)
			if got != tt.want {
				t.Fatalf("Decide() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// Every reason a verifier can give ends in a defined result on both kinds of route.
func TestDecideCoversEveryReason(t *testing.T) {
	for _, code := range reason.All {
		unavailable := code == reason.JWKSUnavailable || code == reason.RevocationUnavailable
		for _, auth := range []policy.Auth{policy.AuthOptional, policy.AuthRequired} {
			got := (&policy.Config{}).Decide(&policy.Requirement{Auth: auth}, true, nil, code)
			if got.Reason != code {
				t.Errorf("%s on %s: reason %q, want %q", code, auth, got.Reason, code)
			}
			switch {
			case auth == policy.AuthOptional && got.Result != policy.Anonymous:
				t.Errorf("%s on optional: %s, want anonymous", code, got.Result)
			case auth == policy.AuthRequired && unavailable && got.Result != policy.Unavailable:
				t.Errorf("%s on required: %s, want unavailable", code, got.Result)
			case auth == policy.AuthRequired && !unavailable && got.Result != policy.Unauthenticated:
				t.Errorf("%s on required: %s, want unauthenticated", code, got.Result)
			}
		}
	}
}

// TestWarnings: a required rule with a method list that hands other methods of its path to a
// weaker rule or the default is valid, and warned about, naming what decides instead.
func TestWarnings(t *testing.T) {
	admin := policy.Rule{PathPrefix: "/api/admin", Methods: []string{"GET", "POST"}, Auth: policy.AuthRequired, GroupsAny: []string{"admin"}}
	tests := []struct {
		name string
		cfg  policy.Config
		want []string
	}{
		{"the README's old example", policy.Config{Rules: []policy.Rule{admin}},
			[]string{"policy.rules[0].methods: PUT, PATCH, DELETE, OPTIONS of /api/admin are left to policy.default (optional); list no methods to protect all of them"}},
		{"a weaker rule below", policy.Config{Default: policy.AuthRequired, Rules: []policy.Rule{admin, {PathPrefix: "/api", Auth: policy.AuthOptional}}},
			[]string{"policy.rules[0].methods: PUT, PATCH, DELETE, OPTIONS of /api/admin are left to policy.rules[1] (auth: optional); list no methods to protect all of them"}},
		{"an off rule for preflights above", policy.Config{Rules: []policy.Rule{{Methods: []string{"OPTIONS"}, Auth: policy.AuthOff}, admin}},
			[]string{"policy.rules[1].methods: PUT, PATCH, DELETE of /api/admin are left to policy.default (optional); list no methods to protect all of them"}},
		{"a rule for every method", policy.Config{Rules: []policy.Rule{{PathPrefix: "/api/admin", Auth: policy.AuthRequired}}}, nil},
		{"the rest as strict below", specRules, nil},
		{"the rest required by default", policy.Config{Default: policy.AuthRequired, Rules: []policy.Rule{{PathPrefix: "/api", Methods: []string{"GET"}, Auth: policy.AuthRequired}}}, nil},
		{"optional rules are not warned about", policy.Config{Rules: []policy.Rule{{PathPrefix: "/x", Methods: []string{"GET"}, Auth: policy.AuthOptional}}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cfg.Warnings(); !slices.Equal(got, tt.want) {
				t.Errorf("Warnings() =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// checkValidate asserts that cfg.Validate accepts cfg (wantErr empty) or refuses it with an error
// containing wantErr.
func checkValidate(t *testing.T, cfg policy.Config, wantErr string) {
	t.Helper()
	err := cfg.Validate()
	if wantErr == "" {
		if err != nil {
			t.Fatalf("Validate() = %v, want nil", err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), wantErr) {
		t.Fatalf("Validate() = %v, want an error containing %q", err, wantErr)
	}
}
