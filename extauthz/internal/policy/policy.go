// Package policy decides what a request needs (route rules, Envoy context_extensions, the default)
// and turns a verification outcome into a result, per docs/reference.md#policy. It knows nothing
// of Envoy or gRPC.
package policy

import (
	"fmt"
	"strings"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/httptext"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/revocation"
)

// Auth is how much a route asks of the caller.
type Auth string

// Route auth modes.
const (
	AuthOptional Auth = "optional"
	AuthRequired Auth = "required"
	AuthOff      Auth = "off"

	// DefaultAuth is policy.default when Config.Default is empty.
	DefaultAuth = AuthOptional
)

// InvalidTokenMode is what an invalid token gets on an optional route.
type InvalidTokenMode string

// Invalid-token modes.
const (
	InvalidTokenAnonymous InvalidTokenMode = "anonymous"
	InvalidTokenDeny      InvalidTokenMode = "deny"

	// DefaultInvalidToken is policy.invalid_token when Config.InvalidToken is empty.
	DefaultInvalidToken = InvalidTokenAnonymous
)

// Rule is one route rule; the first that matches wins.
type Rule struct {
	// PathPrefix matches whole path segments: /api/admin matches /api/admin and /api/admin/x, not
	// /api/administrator. Empty matches every path (a methods-only rule, e.g. OPTIONS: off).
	PathPrefix string `yaml:"path_prefix"`
	// Methods: empty matches every method (the safe choice for a required rule); upper-case in the
	// configuration, matched case-insensitively; HEAD follows GET.
	Methods []string `yaml:"methods"`
	// Auth defaults to required when empty: a rule exists to protect something, so an omitted
	// value fails closed.
	Auth      Auth     `yaml:"auth"`
	GroupsAny []string `yaml:"groups_any"`
	ScopesAll []string `yaml:"scopes_all"`

	// Where, who and what a browser gets (rule_where.go).
	RuleWhere `yaml:",inline"`

	// Revocation: check or skip the online revocation check on this rule's routes, whatever the
	// issuer's revocation.mode; empty follows it (revocation.go).
	Revocation revocation.RuleSetting `yaml:"revocation"`
}

// Config is the policy section of the configuration.
type Config struct {
	Default      Auth             `yaml:"default"`       // default DefaultAuth
	InvalidToken InvalidTokenMode `yaml:"invalid_token"` // default DefaultInvalidToken
	Rules        []Rule           `yaml:"rules"`

	// The sign-in redirect for browsers (redirect.go).
	SignIn `yaml:",inline"`
}

// Validate reports the first broken key, named as in the configuration file, e.g.
// `policy.rules[2].auth: unknown value "sometimes" (want optional, required or off)`.
// Empty Default and InvalidToken are valid: they take the defaults.
func (c Config) Validate() error {
	switch c.Default {
	case "", AuthOptional, AuthRequired:
	case AuthOff:
		return fmt.Errorf("policy.default: %q is not allowed (want optional or required); use a rule with auth: off for the routes that need it", c.Default)
	default:
		return fmt.Errorf("policy.default: unknown value %q (want optional or required)", c.Default)
	}
	switch c.InvalidToken {
	case "", InvalidTokenAnonymous, InvalidTokenDeny:
	default:
		return fmt.Errorf("policy.invalid_token: unknown value %q (want anonymous or deny)", c.InvalidToken)
	}
	if err := c.SignIn.validate(c.Rules); err != nil {
		return err
	}
	for i, r := range c.Rules {
		if err := r.validate(); err != nil {
			return fmt.Errorf("policy.rules[%d].%w", i, err)
		}
		if err := r.RuleWhere.validate(r.Auth); err != nil {
			return fmt.Errorf("policy.rules[%d].%w", i, err)
		}
	}
	return nil
}

func (r Rule) validate() error {
	if r.PathPrefix != "" && !strings.HasPrefix(r.PathPrefix, "/") {
		return fmt.Errorf("path_prefix: %q must start with /", r.PathPrefix)
	}
	if strings.ContainsAny(r.PathPrefix, "?#") {
		return fmt.Errorf("path_prefix: %q must not contain a query or fragment", r.PathPrefix)
	}
	for j, m := range r.Methods {
		if !httptext.IsToken(m) {
			return fmt.Errorf("methods[%d]: %q is not an HTTP method", j, m)
		}
		if m != strings.ToUpper(m) {
			return fmt.Errorf("methods[%d]: %q must be upper-case", j, m)
		}
	}
	auth := r.Auth
	switch auth {
	case "":
		auth = AuthRequired
	case AuthOptional, AuthRequired, AuthOff:
	default:
		return fmt.Errorf("auth: unknown value %q (want optional, required or off)", r.Auth)
	}
	for j, g := range r.GroupsAny {
		if strings.TrimSpace(g) == "" || strings.Contains(g, ",") {
			return fmt.Errorf("groups_any[%d]: %q is not a group name", j, g)
		}
	}
	for j, s := range r.ScopesAll {
		if s == "" || strings.ContainsAny(s, " \t") {
			return fmt.Errorf("scopes_all[%d]: %q is not a scope", j, s)
		}
	}
	if auth != AuthRequired && (len(r.GroupsAny) > 0 || len(r.ScopesAll) > 0) {
		return fmt.Errorf("auth: groups_any and scopes_all need auth: required, not %s", auth)
	}
	return revocation.ValidateRule("revocation", r.Revocation)
}

// commonMethods are the methods Warnings asks about for each rule with a method list: the ones
// apps route on, and OPTIONS, which CORS preflights use.
var commonMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// Warnings lists what is valid but probably a mistake: a required rule with a method list that
// leaves other methods of its path to a weaker rule or the default, e.g. `methods: [GET, POST]`
// on /api/admin lets PUT and DELETE of /api/admin through anonymously under default: optional.
// Each warning names the rule as in the configuration file.
func (c Config) Warnings() []string {
	var out []string
	for i, r := range c.Rules {
		if len(r.Methods) == 0 || (r.Auth != "" && r.Auth != AuthRequired) {
			continue
		}
		path := r.PathPrefix
		if path == "" {
			path = "/"
		}
		host := r.representativeHost()
		mine := c.ruleFor(host, path, r.Methods[0])
		weaker := map[string][]string{} // who decides instead -> the methods it gets
		var order []string
		for _, m := range commonMethods {
			if methodMatches(r.Methods, m) {
				continue
			}
			other := c.ruleFor(host, path, m)
			// A rule above this one decides m whatever this one lists: not this list's doing.
			if strictness(other) >= strictness(mine) || (other.rule >= 0 && other.rule < i) {
				continue
			}
			who := fmt.Sprintf("policy.default (%s)", other.Auth)
			if other.rule >= 0 {
				who = fmt.Sprintf("policy.rules[%d] (auth: %s)", other.rule, other.Auth)
			}
			if weaker[who] == nil {
				order = append(order, who)
			}
			weaker[who] = append(weaker[who], m)
		}
		for _, who := range order {
			out = append(out, fmt.Sprintf("policy.rules[%d].methods: %s of %s are left to %s; list no methods to protect all of them",
				i, strings.Join(weaker[who], ", "), path, who))
		}
	}
	return out
}
