package edge_test

import (
	"regexp"
	"testing"

	"github.com/cognito-authz/cognito-authz/testenv/edge"
)

// TestOwnedRegex: Traefik's authResponseHeadersRegex strips every owned header and its underscore
// look-alikes from the client's request, and nothing a request needs.
func TestOwnedRegex(t *testing.T) {
	owned := regexp.MustCompile(edge.OwnedRegex())
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{"X-User-Sub", true},
		{"X-User-Role", true}, // under the prefix, though cognito-authz never sets it
		{"x-auth-status", true},
		{"X-Auth-Reason", true},
		{"X-Jwt-Claims", true},
		{"X_user_sub", true}, // Go's canonical form of x_user_sub
		{"X-User_sub", true},
		{"X_auth_status", true},
		{"x_jwt_claims", true},
		{"X.user.sub", true},
		{"Authorization", false},
		{"Cookie", false},
		{"X-Forwarded-Uri", false},
		{"X-Auth-Statuses", false},
		{"X-Envoy-Auth-Headers-To-Remove", false},
		{"Xx-User-Sub", false},
	} {
		if got := owned.MatchString(tc.header); got != tc.want {
			t.Errorf("%s: matched %v, want %v", tc.header, got, tc.want)
		}
	}
}
