// Package policy decides what a request needs (route rules, Envoy context_extensions, the default)
// and turns a verification outcome into a result, per docs/reference.md#policy. It knows nothing
// of Envoy or gRPC.
package policy

import (
	"fmt"
	"strings"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/httptext"
)

// Auth is how much a route asks of the caller.
type Auth string

// Route auth modes.
const (
	AuthOptional Auth = "optional"
	AuthRequired Auth = "required"
	AuthOff      Auth = "off"
)

// InvalidTokenMode is what an invalid token gets on an optional route.
type InvalidTokenMode string

// Invalid-token modes.
const (
	InvalidTokenAnonymous InvalidTokenMode = "anonymous"
	InvalidTokenDeny      InvalidTokenMode = "deny"
)

// Rule is one route rule; the first that matches wins.
type Rule struct {
	// PathPrefix matches whole path segments: /api/admin matches /api/admin and /api/admin/x, not
	// /api/administrator. Empty matches every path (a methods-only rule, e.g. OPTIONS: off).
	PathPrefix string
	Methods    []string // empty: all; upper-case in the configuration, matched case-insensitively
	// Auth defaults to required when empty: a rule exists to protect something, so an omitted
	// value fails closed.
	Auth      Auth
	GroupsAny []string
	ScopesAll []string
}

// Config is the policy section of the configuration.
type Config struct {
	Default      Auth             // default optional
	InvalidToken InvalidTokenMode // default anonymous
	Rules        []Rule
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
	for i, r := range c.Rules {
		if err := r.validate(); err != nil {
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
	return nil
}
