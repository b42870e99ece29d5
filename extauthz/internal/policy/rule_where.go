package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/verifier"
)

// RuleWhere is the part of a rule that says for which hosts it holds, which app clients and kind
// of token it admits, and what an unauthenticated browser navigation gets
// (docs/reference.md#policy).
type RuleWhere struct {
	// Hosts: exact names or a leading "*." wildcard ("*.example.com" covers a.example.com and
	// a.b.example.com, not example.com), matched case-insensitively against the request's host
	// without its port. Empty matches every host.
	Hosts []string `yaml:"hosts"`
	// ClientsAny: the token's app client (client_id of an access token, aud of an ID token) must
	// be one of them, else forbidden client_not_allowed.
	ClientsAny []string `yaml:"clients_any"`
	// TokenUse narrows the issuers' token_use for this rule, as the token_use context extension
	// does: access, id or any (the default).
	TokenUse verifier.TokenUse `yaml:"token_use"`
	// Unauthenticated overrides policy.unauthenticated for this rule: deny or redirect.
	Unauthenticated UnauthenticatedMode `yaml:"unauthenticated"`
}

func (w RuleWhere) validate(auth Auth) error {
	for j, h := range w.Hosts {
		if !validHostPattern(h) {
			return fmt.Errorf("hosts[%d]: %q is not a host name or *.name (no port, no scheme)", j, h)
		}
	}
	for j, c := range w.ClientsAny {
		if c == "" || strings.ContainsAny(c, " \t,") {
			return fmt.Errorf("clients_any[%d]: %q is not an app client id", j, c)
		}
	}
	switch w.TokenUse {
	case "", verifier.TokenUseAccess, verifier.TokenUseID, verifier.TokenUseAny:
	default:
		return fmt.Errorf("token_use: unknown value %q (want access, id or any)", w.TokenUse)
	}
	if err := w.Unauthenticated.validate(); err != nil {
		return fmt.Errorf("unauthenticated: %w", err)
	}
	if auth != "" && auth != AuthRequired {
		switch {
		case len(w.ClientsAny) > 0:
			return fmt.Errorf("auth: clients_any needs auth: required, not %s", auth)
		case w.Unauthenticated == UnauthenticatedRedirect:
			return fmt.Errorf("auth: unauthenticated: redirect needs auth: required, not %s", auth)
		}
	}
	return nil
}

// requirementWhere is what a matched rule's RuleWhere adds to a Requirement.
type requirementWhere struct {
	clientsAny []string // empty: any client the issuer accepts
	// alsoClientsAny are more client lists, each of which the token's client must be in too (the
	// rules that other readings of the request matched).
	alsoClientsAny [][]string
	// redirect: an unauthenticated navigation is sent to policy.login_url (SignInLocation).
	redirect bool
}

// and is what two readings of a request ask together: every client list, and a redirect only
// if both readings would redirect.
func (w requirementWhere) and(o requirementWhere) requirementWhere {
	for _, clients := range o.lists() {
		if !slices.ContainsFunc(w.lists(), func(c []string) bool { return slices.Equal(c, clients) }) {
			w.alsoClientsAny = append(slices.Clip(w.alsoClientsAny), clients)
		}
	}
	w.redirect = w.redirect && o.redirect
	return w
}

func (w requirementWhere) lists() [][]string {
	if len(w.clientsAny) == 0 {
		return w.alsoClientsAny
	}
	return append([][]string{w.clientsAny}, w.alsoClientsAny...)
}

// clientLists are the client lists a token's client must be in, one of each.
func (r Requirement) clientLists() [][]string { return r.requirementWhere.lists() }

// clientAllowed reports that client is in every list.
func (r *Requirement) clientAllowed(client string) bool {
	if len(r.clientsAny) > 0 && !slices.Contains(r.clientsAny, client) {
		return false
	}
	for _, clients := range r.alsoClientsAny {
		if !slices.Contains(clients, client) {
			return false
		}
	}
	return true
}

// tokenUseNone is a token_use no token has: two readings of one request that demand different
// kinds admit none.
const tokenUseNone verifier.TokenUse = "none"

func andTokenUse(a, b verifier.TokenUse) verifier.TokenUse {
	switch {
	case a == "" || a == verifier.TokenUseAny:
		return b
	case b == "" || b == verifier.TokenUseAny || a == b:
		return a
	}
	return tokenUseNone
}

// withRule completes a requirement with what its rule (nil for the default or context
// extensions) says of clients, token kind and the sign-in redirect.
func (c *Config) withRule(req *Requirement, r *Rule) {
	mode := c.Unauthenticated
	if r != nil {
		if r.Unauthenticated != "" {
			mode = r.Unauthenticated
		}
		req.clientsAny = r.ClientsAny
		if r.TokenUse != "" {
			req.TokenUse = r.TokenUse
		}
	}
	req.redirect = mode == UnauthenticatedRedirect && req.Auth == AuthRequired
}

// matchesHost reports that the rule holds for host, a normalized host ("" when unknown).
func (r *Rule) matchesHost(host string) bool {
	if len(r.Hosts) == 0 {
		return true
	}
	if host == "" {
		return false
	}
	for _, pattern := range r.Hosts {
		if hostMatches(pattern, host) {
			return true
		}
	}
	return false
}

// hostMatches matches a normalized host against one configured pattern, case-insensitively.
func hostMatches(pattern, host string) bool {
	pattern = strings.TrimSuffix(pattern, ".")
	if suffix, ok := strings.CutPrefix(pattern, "*"); ok { // suffix starts with "."
		return len(host) > len(suffix) && strings.EqualFold(host[len(host)-len(suffix):], suffix)
	}
	return strings.EqualFold(pattern, host)
}

// HasHostRules reports that some rule names hosts: only then does the request's host matter.
func (c *Config) HasHostRules() bool {
	for i := range c.Rules {
		if len(c.Rules[i].Hosts) > 0 {
			return true
		}
	}
	return false
}

// representativeHost is a host this rule matches ("" for a rule without hosts), for Warnings.
func (r Rule) representativeHost() string {
	if len(r.Hosts) == 0 {
		return ""
	}
	return normalizeHost(r.Hosts[0])
}

// maxHostReadings is room for the usual host readings (:authority and Host) without allocating.
const maxHostReadings = 4

// hostReadings appends to out every host the request might be for: each value of hosts (a
// header joined from repeats is split at commas), normalized and without repeats. When the
// request names no usable host, every host a rule names is a reading, and so is "" (a host no
// rule names): the strictest of them wins, so an unknown host is never the weakest.
func (c *Config) hostReadings(hosts []string, out []string) []string {
	for _, value := range hosts {
		for value != "" {
			var one string
			one, value, _ = strings.Cut(value, ",")
			h := normalizeHost(one)
			if h == "" {
				return c.everyHost(out[:0])
			}
			if !slices.Contains(out, h) {
				out = append(out, h)
			}
		}
	}
	if len(out) == 0 {
		return c.everyHost(out)
	}
	return out
}

func (c *Config) everyHost(out []string) []string {
	out = append(out, "")
	for i := range c.Rules {
		for _, pattern := range c.Rules[i].Hosts {
			if h := normalizeHost(pattern); !slices.Contains(out, h) {
				out = append(out, h)
			}
		}
	}
	return out
}

// normalizeHost lower-cases a host and drops its port and one trailing dot; "" when host is
// not a plain name, IPv4 or bracketed IPv6 address (a reading the caller treats as unknown).
func normalizeHost(host string) string {
	host = strings.TrimSpace(host)
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 || (end+1 < len(host) && !isPort(host[end+1:])) {
			return ""
		}
		return strings.ToLower(host[:end+1])
	}
	if i := strings.IndexByte(host, ':'); i >= 0 {
		if !isPort(host[i:]) {
			return ""
		}
		host = host[:i]
	}
	host = strings.TrimSuffix(host, ".")
	if host == "" {
		return ""
	}
	for i := 0; i < len(host); i++ {
		b := host[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '.' || b == '_' || b == '*') {
			return ""
		}
	}
	return strings.ToLower(host)
}

// isPort reports that s is ":" and digits (or just ":", an empty port).
func isPort(s string) bool {
	if s == "" || s[0] != ':' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validHostPattern: a name of letters, digits, "-", "_" and ".", optionally after a leading
// "*."; no port, no scheme, no other "*".
func validHostPattern(p string) bool {
	name := strings.TrimPrefix(p, "*.")
	if name == "" || strings.Contains(name, "*") || strings.HasPrefix(name, ".") || strings.Contains(name, "..") {
		return false
	}
	return normalizeHost(name) != "" && !strings.ContainsAny(name, ":[]")
}
