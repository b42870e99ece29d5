package policy

import (
	"path"
	"slices"
	"strings"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/httptext"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/reason"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/revocation"
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
	// alsoGroupsAny are more group lists, each of which the token must meet too: those of other
	// rules that another reading of the path matched (Requirement.and).
	alsoGroupsAny [][]string
	ScopesAll     []string // empty: no scope needed
	// TokenUse narrows the issuers' token_use for this route: "" or any accepts what the issuer
	// accepts; access or id demand that kind; any other value matches no token.
	TokenUse verifier.TokenUse
	// Revocation is the matched rule's say in the online revocation check (revocation.go).
	Revocation revocation.RuleSetting
	// Who and what a browser gets (rule_where.go).
	requirementWhere

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
// Paths: the query string is ignored. A path that is not plain (percent escapes, "//", dot
// segments, ";" parameters, a "#") is read every way an app server might route it (see
// pathReadings), and the request must meet what every reading requires (Requirement.and): an app
// that resolves "/api/ops/../admin" serves /api/admin, whatever a proxy or this service matched.
// A path that does not start with "/" (none, "*", an authority) matches no rule and is required.
//
// Context extensions fail closed: when any of auth, groups, scopes or token_use is present they
// replace the rules entirely, for the route Envoy chose by its own reading of the path; a path an
// app server might route elsewhere (mayRouteElsewhere) is then refused, since the requirement of
// that other route is Envoy's to know, not ours (required, and no token meets it: ambiguous_path); auth defaults to the policy default, an unknown auth value means
// required, groups or scopes make the route required whatever auth says, a groups value naming no
// group admits no token (insufficient_group), and an unknown token_use matches no token
// (wrong_token_use). Values are exact and case-sensitive ("Required" is unknown, so required).
//
// Requirement does not know the request's host: a rule with hosts is read as if the request might
// be for any host (the strictest reading wins). RequirementAt is the same with the host known.
func (c *Config) Requirement(rawPath, method string, contextExtensions map[string]string) Requirement {
	return c.RequirementAt(nil, rawPath, method, contextExtensions)
}

// RequirementAt is Requirement for a request whose host is one of hosts (the Host header,
// :authority, X-Forwarded-Host: every value the request carries; see hostReadings). Each host
// is one more reading of the request, and the request must meet what every reading requires.
func (c *Config) RequirementAt(hosts []string, rawPath, method string, contextExtensions map[string]string) (req Requirement) {
	c.requirementAt(&req, hosts, rawPath, method, contextExtensions)
	return req
}

// requirementAt is RequirementAt, filling req in place: a Requirement is large, and this runs
// for every request.
func (c *Config) requirementAt(req *Requirement, hosts []string, rawPath, method string, contextExtensions map[string]string) {
	p := cutQuery(rawPath)
	if c.fromContext(req, contextExtensions) {
		if !isPlain(p) && mayRouteElsewhere(p) {
			req.Auth, req.unsatisfiable = AuthRequired, reason.AmbiguousPath
		}
		return
	}
	if !strings.HasPrefix(p, "/") {
		*req = Requirement{Auth: AuthRequired, rule: -1}
		c.withRule(req, nil)
		return
	}
	var hostBuf [maxHostReadings]string
	hs := c.hostReadings(hosts, hostBuf[:0])
	if isPlain(p) {
		// The usual request: one reading of the path, and of the host unless rules name hosts.
		c.fromRules(req, hs[0], p, method)
		for _, h := range hs[1:] {
			*req = req.and(c.ruleFor(h, p, method))
		}
		return
	}
	var readings [maxReadings]string
	n := pathReadings(p, &readings)
	c.fromRules(req, hs[0], readings[0], method)
	for _, h := range hs {
		for _, r := range readings[:n] {
			*req = req.and(c.ruleFor(h, r, method))
		}
	}
}

// fromRules sets req to what the first rule matching host, p and method requires, else the
// default. host is normalized (normalizeHost); "" matches only rules without hosts.
func (c *Config) fromRules(req *Requirement, host, p, method string) {
	for i := range c.Rules {
		r := &c.Rules[i]
		if hasPathPrefix(p, r.PathPrefix) && methodMatches(r.Methods, method) && r.matchesHost(host) {
			auth := r.Auth
			if auth == "" {
				auth = AuthRequired
			}
			*req = Requirement{Auth: auth, GroupsAny: r.GroupsAny, ScopesAll: r.ScopesAll, Revocation: r.Revocation, rule: i}
			c.withRule(req, r)
			return
		}
	}
	*req = Requirement{Auth: c.defaultAuth(), rule: -1}
	c.withRule(req, nil)
}

// ruleFor is fromRules, as a value: for the further readings of a request that has several.
func (c *Config) ruleFor(host, p, method string) Requirement {
	var req Requirement
	c.fromRules(&req, host, p, method)
	return req
}

func (c *Config) defaultAuth() Auth {
	switch c.Default {
	case "":
		return DefaultAuth
	case AuthRequired:
		return AuthRequired
	}
	// Validate rejects anything else but optional.
	return AuthOptional
}

// fromContext sets req from Envoy's context_extensions and reports whether they decide the
// requirement; when they do not, req is left as it was.
func (c *Config) fromContext(req *Requirement, ext map[string]string) bool {
	if len(ext) == 0 {
		return false
	}
	auth, hasAuth := ext[ExtAuth]
	groups, hasGroups := ext[ExtGroups]
	scopes, hasScopes := ext[ExtScopes]
	tokenUse, hasTokenUse := ext[ExtTokenUse]
	if !hasAuth && !hasGroups && !hasScopes && !hasTokenUse {
		return false
	}
	*req = Requirement{Auth: c.defaultAuth(), rule: -1, fromContext: true, TokenUse: verifier.TokenUse(tokenUse)}
	c.withRule(req, nil)
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
	return true
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

// cutQuery drops the query string. A "#" is left: a proxy may pass it on raw, and pathReadings
// reads the path both cut there and not.
func cutQuery(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		return p[:i]
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

// maxReadings bounds pathReadings: {as sent, percent-decoded} × {whole, cut at "#"} ×
// {";" parameters kept, stripped} × {as is, cleaned}.
const maxReadings = 16

// pathReadings writes into out every distinct way an app server might read p and returns how
// many: p as sent and percent-decoded (so %2e%2e, %2f, %3b and %23 are read as what they encode,
// and a backslash as "/", as WHATWG URL parsers and Windows servers read it);
// whole and cut at the first "#" (a fragment some servers drop, others keep in the path); with ";"
// parameters kept and stripped from every segment (Tomcat and Spring route /api/admin;x to
// /api/admin); and as is and cleaned ("//" merged, dot segments resolved). p itself comes first.
func pathReadings(p string, out *[maxReadings]string) int {
	n := 0
	add := func(r string) {
		if r == "" || r[0] != '/' {
			return // a "#" or ";" at the start left nothing: p's other readings cover it
		}
		for _, seen := range out[:n] {
			if seen == r {
				return
			}
		}
		out[n] = r
		n++
	}
	for _, s := range [2]string{p, strings.ReplaceAll(httptext.PercentDecode(p), `\`, "/")} {
		whole, cut := s, s
		if i := strings.IndexByte(s, '#'); i >= 0 {
			cut = s[:i]
		}
		for _, base := range [2]string{whole, cut} {
			for _, r := range [2]string{base, stripParams(base)} {
				add(r)
				add(cleanPath(r))
			}
		}
	}
	return n
}

// stripParams removes a ";" and what follows it up to the next "/" from every segment.
func stripParams(p string) string {
	if strings.IndexByte(p, ';') < 0 {
		return p
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		if p[i] != ';' {
			b.WriteByte(p[i])
			continue
		}
		for i+1 < len(p) && p[i+1] != '/' {
			i++
		}
	}
	return b.String()
}

// cleanPath merges "//" and resolves dot segments, keeping a trailing slash.
func cleanPath(p string) string {
	cleaned := path.Clean(p)
	if strings.HasSuffix(p, "/") && cleaned != "/" {
		cleaned += "/"
	}
	return cleaned
}

// isPlain reports, in one pass, that p can be read only one way: no percent escape, no ";", no
// "#", no backslash, no "//" and no dot segment.
func isPlain(p string) bool {
	return plainShape(p, false)
}

// mayRouteElsewhere reports that an app server could route p to another route than a proxy that
// matched p as sent: p holds a ";", "#" or backslash, "//", a dot segment, or an escape of one of
// / \ ; # . % ?. Escapes of other characters (%20) change no segment.
func mayRouteElsewhere(p string) bool {
	for i := 0; i+2 < len(p); i++ {
		if p[i] == '%' {
			switch strings.ToLower(p[i+1 : i+3]) {
			case "2f", "5c", "3b", "23", "2e", "25", "3f":
				return true
			}
		}
	}
	return !plainShape(p, true)
}

// plainShape is isPlain, with percent escapes counted as plain when escapesPlain is set.
func plainShape(p string, escapesPlain bool) bool {
	for i := 0; i < len(p); i++ {
		if !pathMarks[p[i]] {
			continue // most bytes: one table lookup, since this reads every request's path
		}
		switch p[i] {
		case '%':
			if !escapesPlain {
				return false
			}
		case ';', '#', '\\':
			return false
		case '/':
			if i+1 == len(p) {
				break
			}
			switch p[i+1] {
			case '/':
				return false
			case '.':
				seg := p[i+1:]
				if j := strings.IndexByte(seg, '/'); j >= 0 {
					seg = seg[:j]
				}
				if seg == "." || seg == ".." {
					return false
				}
			}
		}
	}
	return true
}

// pathMarks are the bytes plainShape looks at.
var pathMarks = [256]bool{'%': true, ';': true, '#': true, '\\': true, '/': true}

// and is what a request must meet when one reading of its path requires r and another o: the
// stronger auth, and on a required route every reading's groups (one of each list) and scopes.
// Two rules that tie (/api/admin for admin, /api/ops for ops) thus both apply, and an ops token
// cannot reach /api/admin by /api/ops/../admin. The rule reported is the strictest reading's.
func (r Requirement) and(o Requirement) Requirement {
	rev := strictestRevocation(r.Revocation, o.Revocation)
	r, o = r.withRevocation(rev), o.withRevocation(rev)
	if authRank(o.Auth) > authRank(r.Auth) || (o.Auth == r.Auth && strictness(o) > strictness(r)) {
		r, o = o, r
	}
	if r.Auth != AuthRequired || o.Auth != AuthRequired {
		return r // the weaker reading asks nothing more
	}
	for _, groups := range o.groupLists() {
		if !slices.ContainsFunc(r.groupLists(), func(g []string) bool { return slices.Equal(g, groups) }) {
			r.alsoGroupsAny = append(slices.Clip(r.alsoGroupsAny), groups)
		}
	}
	for _, scope := range o.ScopesAll {
		if !slices.Contains(r.ScopesAll, scope) {
			r.ScopesAll = append(slices.Clip(r.ScopesAll), scope) // never into a rule's own slice
		}
	}
	r.TokenUse = andTokenUse(r.TokenUse, o.TokenUse)
	r.requirementWhere = r.requirementWhere.and(o.requirementWhere)
	return r
}

// groupLists are the group lists a token must meet, one group of each.
func (r Requirement) groupLists() [][]string {
	if len(r.GroupsAny) == 0 {
		return r.alsoGroupsAny
	}
	return append([][]string{r.GroupsAny}, r.alsoGroupsAny...)
}

func authRank(a Auth) int {
	switch a {
	case AuthOff:
		return 0
	case AuthOptional:
		return 1
	}
	return 2
}

// strictness orders requirements so the stricter of two readings of one path can win.
func strictness(r Requirement) int {
	n := authRank(r.Auth)
	if n < 2 {
		return n
	}
	if len(r.groupLists()) > 0 || r.unsatisfiable != "" {
		n++
	}
	if len(r.clientLists()) > 0 || (r.TokenUse != "" && r.TokenUse != verifier.TokenUseAny) {
		n++
	}
	if len(r.ScopesAll) > 0 {
		n++
	}
	return n
}
