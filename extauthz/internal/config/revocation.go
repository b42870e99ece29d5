package config

import (
	"fmt"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/revocation"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/verifier"
)

// effectiveRevocation writes out each issuer's revocation defaults (Effective), so check-config
// prints the mode, cache_ttl, on_unavailable and max_rps in force, and the endpoint that will be
// asked when a check can happen.
func (c *Config) effectiveRevocation() {
	ruleChecks := c.RevocationRuleChecks()
	for i := range c.Issuers {
		r := c.Issuers[i].Revocation.WithDefaults()
		if r.Endpoint == "" && (r.Mode == revocation.ModeOnline || ruleChecks) {
			if urls := verifier.IssuerURLs(c.Issuers[i]); len(urls) > 0 {
				r.Endpoint, _ = revocation.RegionalEndpoint(urls[0])
			}
		}
		c.Issuers[i].Revocation = r
	}
}

// validateRevocation defers each issuer's revocation section to package revocation (rules'
// revocation values are checked with the policy). An issuer whose own keys are broken is left
// to their messages: its endpoint cannot be judged.
func (c *Config) validateRevocation(v *validation) {
	ruleChecks := c.RevocationRuleChecks()
	for i, is := range c.Issuers {
		urls := verifier.IssuerURLs(is)
		issuer := ""
		if len(urls) > 0 {
			issuer = urls[0]
		}
		v.owned(is.Revocation.Validate(fmt.Sprintf("issuers[%d].revocation", i), issuer, ruleChecks))
	}
}

// RevocationRuleChecks reports whether some rule asks for the revocation check
// (policy.rules[].revocation: check), which needs a checker even for issuers whose mode is off.
func (c *Config) RevocationRuleChecks() bool {
	for _, r := range c.Policy.Rules {
		if r.Revocation == revocation.RuleCheck {
			return true
		}
	}
	return false
}
