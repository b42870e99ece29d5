package policy_test

import (
	"testing"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/policy"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/revocation"
)

// TestRevocationRuleSetting: the matched rule's revocation setting reaches the requirement, and
// of two readings of one path the stricter one wins, so another spelling of a checked path cannot
// skip the check.
func TestRevocationRuleSetting(t *testing.T) {
	cfg := policy.Config{Rules: []policy.Rule{
		{PathPrefix: "/api/feed", Revocation: revocation.RuleSkip},
		{PathPrefix: "/api/admin", Revocation: revocation.RuleCheck},
		{PathPrefix: "/api"},
	}}
	for _, tt := range []struct {
		path string
		want revocation.RuleSetting
	}{
		{"/api/feed/x", revocation.RuleSkip},
		{"/api/admin", revocation.RuleCheck},
		{"/api/other", ""},
		{"/api/feed/../admin", revocation.RuleCheck},
		{"/api/feed/%2e%2e/other", ""},
		{"/api/feed;x", ""}, // also read as /api/feed;x, which /api matches
	} {
		if got := cfg.Requirement(tt.path, "GET", nil).Revocation; got != tt.want {
			t.Errorf("%s: revocation %q, want %q", tt.path, got, tt.want)
		}
	}
}
