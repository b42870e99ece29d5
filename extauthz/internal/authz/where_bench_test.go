package authz_test

import (
	"slices"
	"testing"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/policy"
)

// BenchmarkCheckCachedTokenHostRules is BenchmarkCheckCachedToken with two host rules in front
// of the policy that the request's host does not match: the cost of reading the host and
// skipping them, against BenchmarkCheckCachedToken in the same run.
func BenchmarkCheckCachedTokenHostRules(b *testing.B) {
	pol := testPolicy
	api, admin := policy.Rule{PathPrefix: "/api", GroupsAny: []string{"nobody"}}, policy.Rule{PathPrefix: "/", Auth: policy.AuthOff}
	api.Hosts, admin.Hosts = []string{"api.example.com"}, []string{"*.admin.example.com"}
	pol.Rules = append([]policy.Rule{api, admin}, slices.Clone(testPolicy.Rules)...)
	_, check := benchServerWith(b, pol)
	b.ReportAllocs()
	for b.Loop() {
		if !check() {
			b.Fatal("not authenticated")
		}
	}
}
