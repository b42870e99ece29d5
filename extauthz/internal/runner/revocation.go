package runner

import (
	"github.com/cognito-authz/cognito-authz/extauthz/internal/authz"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/config"
)

// newRevocations builds the online revocation checkers of cfg; prev, when set, lends what its
// checkers learnt (revoked sign-ins always, live answers and rate-limit state where the settings
// hold), so a reload neither forgets a sign-out nor calls Cognito again for every token.
func (s *Service) newRevocations(cfg *config.Config, prev *snapshot) (*authz.Revocations, error) {
	o := authz.RevocationOptions{
		RuleChecks: cfg.RevocationRuleChecks(),
		Observer:   s.metrics,
		Logger:     s.log.Named("revocation"),
	}
	if prev != nil {
		o.Previous = prev.revocations
	}
	return authz.NewRevocations(cfg.Issuers, o)
}
