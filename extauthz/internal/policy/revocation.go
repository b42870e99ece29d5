package policy

import "github.com/cognito-authz/cognito-authz/extauthz/internal/revocation"

// strictestRevocation is the rule setting of two readings of one path taken together: check
// wins over following the issuer, which wins over skip, so another spelling of a checked path
// is checked too.
func strictestRevocation(a, b revocation.RuleSetting) revocation.RuleSetting {
	rank := func(s revocation.RuleSetting) int {
		switch s {
		case revocation.RuleCheck:
			return 2
		case revocation.RuleSkip:
			return 0
		}
		return 1
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

func (r Requirement) withRevocation(s revocation.RuleSetting) Requirement {
	r.Revocation = s
	return r
}
