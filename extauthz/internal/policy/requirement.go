package policy

import (
	"path"
	"strings"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/httptext"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/reason"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/verifier"
)

// Context-extension keys read from Envoy's ExtAuthzPerRoute.check_settings
// (docs/reference.md#context-extensions). Other keys are ignored: they may belong to someone else's
// filter chain.
const (
	ExtAuth     = "auth"      // optional | required | off
	ExtGroups   = "groups"    // "a,b": any of
	ExtScopes   = "scopes"    // "s1 s2": all of
	ExtTokenUse = "token_use" // access | id | any
)

// Requirement is what one request asks of its caller.
type Requirement struct {
	Auth      Auth
	GroupsAny []string // empty: no group needed
	ScopesAll []string // empty: no scope needed
	// TokenUse narrows the issuers' token_use for this route: "" or any accepts what the issuer
	// accepts; access or id demand that kind; any other value matches no token.
	TokenUse verifier.TokenUse
	// rule is the index of the rule that matched, or -1 (context extensions or the default):
	// Warnings names the rule that decides instead.
	rule int
	// fromContext reports that Envoy's context_extensions decided the requirement.
	fromContext bool

	// unsatisfiable, when set, is the reason every token fails this requirement (a broken
	// context extension).
	unsatisfiable reason.Code
}

// Requirement returns what a request for path and method needs. Precedence: Envoy's
// context_extensions, else the first matching rule, else the default.
//
// Paths: the query string and fragment are ignored. A path that is not canonical (percent
// escapes, "//", dot segments) is matched both as sent and cleaned, and the stricter answer wins,
// because the app behind Envoy may read it either way. A path that does not start with "/" (none,
// "*", an authority) matches no rule and is required.
//
// Context extensions fail closed: when any of auth, groups, scopes or token_use is present they
// replace the rules entirely; auth defaults to the policy default, an unknown auth value means
// required, groups or scopes make the route required whatever auth says, a groups value naming no
// group admits no token (insufficient_group), and an unknown token_use matches no token
// (wrong_token_use). Values are exact and case-sensitive ("Required" is unknown, so required).
func (c Config) Requirement(rawPath, method string, contextExtensions map[string]string) Requirement {
	if req, ok := c.fromContext(contextExtensions); ok {
		return req
	}
	p := stripQuery(rawPath)
	if !strings.HasPrefix(p, "/") {
		return Requirement{Auth: AuthRequired, rule: -1}
	}
	req := c.fromRules(p, method)
	if cleaned, changed := canonicalPath(p); changed {
		if alt := c.fromRules(cleaned, method); strictness(alt) > strictness(req) {
			req = alt
		}
	}
	return req
}

func (c Config) fromRules(p, method string) Requirement {
	for i := range c.Rules {
		r := &c.Rules[i]
		if hasPathPrefix(p, r.PathPrefix) && methodMatches(r.Methods, method) {
			auth := r.Auth
			if auth == "" {
				auth = AuthRequired
			}
			return Requirement{Auth: auth, GroupsAny: r.GroupsAny, ScopesAll: r.ScopesAll, rule: i}
		}
	}
	return Requirement{Auth: c.defaultAuth(), rule: -1}
}

func (c Config) defaultAuth() Auth {
	switch c.Default {
	case "":
		return DefaultAuth
	case AuthRequired:
		return AuthRequired
	}
	// Validate rejects anything else but optional.
	return AuthOptional
}

func (c Config) fromContext(ext map[string]string) (Requirement, bool) {
	if len(ext) == 0 {
		return Requirement{}, false
	}
	auth, hasAuth := ext[ExtAuth]
	groups, hasGroups := ext[ExtGroups]
	scopes, hasScopes := ext[ExtScopes]
	tokenUse, hasTokenUse := ext[ExtTokenUse]
	if !hasAuth && !hasGroups && !hasScopes && !hasTokenUse {
		return Requirement{}, false
	}
	req := Requirement{Auth: c.defaultAuth(), rule: -1, fromContext: true, TokenUse: verifier.TokenUse(tokenUse)}
	if hasAuth {
		switch a := Auth(auth); a {
		case AuthOptional, AuthRequired, AuthOff:
			req.Auth = a
		default:
			req.Auth = AuthRequired
		}
	}
	if hasGroups {
		req.Auth = AuthRequired
		req.GroupsAny = splitList(groups, func(r rune) bool { return r == ',' })
		if len(req.GroupsAny) == 0 {
			req.unsatisfiable = reason.InsufficientGroup
		}
	}
	if hasScopes {
		req.Auth = AuthRequired
		req.ScopesAll = splitList(scopes, func(r rune) bool { return r == ' ' || r == '\t' })
	}
	return req, true
}

// splitList splits s at sep, trims spaces and drops empty items.
func splitList(s string, sep func(rune) bool) []string {
	var out []string
	for _, item := range strings.FieldsFunc(s, sep) {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func stripQuery(p string) string {
	for i := 0; i < len(p); i++ {
		if p[i] == '?' || p[i] == '#' {
			return p[:i]
		}
	}
	return p
}

// hasPathPrefix matches whole segments: /api/admin covers /api/admin and /api/admin/x only.
func hasPathPrefix(p, prefix string) bool {
	if !strings.HasPrefix(p, prefix) {
		return false
	}
	return len(p) == len(prefix) || prefix == "" || prefix[len(prefix)-1] == '/' || p[len(prefix)] == '/'
}

// methodMatches is case-insensitive so that "post" cannot dodge a rule written for POST in front
// of an app that upper-cases methods. HEAD follows GET: most frameworks answer HEAD with the GET
// handler, so a rule that protects GET protects HEAD too.
func methodMatches(methods []string, method string) bool {
	if len(methods) == 0 {
		return true
	}
	for _, m := range methods {
		if strings.EqualFold(m, method) || (m == "GET" && strings.EqualFold(method, "HEAD")) {
			return true
		}
	}
	return false
}

// canonicalPath percent-decodes p and resolves "//" and dot segments, keeping a trailing slash.
// changed is false (and nothing is allocated) for a path that is already canonical.
func canonicalPath(p string) (string, bool) {
	if isCanonical(p) {
		return p, false
	}
	decoded := httptext.PercentDecode(p)
	cleaned := path.Clean(decoded)
	if strings.HasSuffix(decoded, "/") && cleaned != "/" {
		cleaned += "/"
	}
	return cleaned, cleaned != p
}

// isCanonical reports, in one pass, that p has no percent escape, no "//" and no dot segment.
func isCanonical(p string) bool {
	for i := 0; i < len(p); i++ {
		switch {
		case p[i] == '%':
			return false
		case p[i] != '/' || i+1 == len(p):
		case p[i+1] == '/':
			return false
		case p[i+1] == '.':
			seg := p[i+1:]
			if j := strings.IndexByte(seg, '/'); j >= 0 {
				seg = seg[:j]
			}
			if seg == "." || seg == ".." {
				return false
			}
		}
	}
	return true
}

// strictness orders requirements so the stricter of two readings of one path can win.
func strictness(r Requirement) int {
	switch r.Auth {
	case AuthOff:
		return 0
	case AuthOptional:
		return 1
	}
	n := 2
	if len(r.GroupsAny) > 0 || r.unsatisfiable != "" {
		n++
	}
	if len(r.ScopesAll) > 0 {
		n++
	}
	return n
}
