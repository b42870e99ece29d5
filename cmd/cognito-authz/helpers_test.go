package main

import (
	"testing"

	"github.com/cognito-authz/cognito-authz/testenv/issuer"
)

const testClientID = "client-1"

// newTestIssuer starts a local Cognito user pool on loopback for one test; opts.ClientIDs
// defaults to testClientID.
func newTestIssuer(t *testing.T, opts issuer.Options) *issuer.Issuer {
	t.Helper()
	if opts.ClientIDs == nil {
		opts.ClientIDs = []string{testClientID}
	}
	return issuer.NewTestServer(t, opts)
}

// issuerFlags are the flags that describe is to any subcommand.
func issuerFlags(is *issuer.Issuer) []string {
	return []string{"--issuer", is.IssuerURL(), "--jwks-url", is.JWKSURL(), "--client-id", testClientID}
}

// aliceAccess is a valid access token's spec: alice, in group admin, with two scopes. The jti is
// fixed so that a test can find it in a decision log line.
func aliceAccess() issuer.TokenSpec {
	return issuer.TokenSpec{
		Username: "alice", Groups: []string{"admin"}, Scopes: []string{"openid", "profile"},
		Set: map[string]any{"jti": "jti-1"},
	}
}

// sub is the sub the pool gives username.
func sub(t *testing.T, is *issuer.Issuer, username string) string {
	t.Helper()
	u, err := is.User(username)
	if err != nil {
		t.Fatal(err)
	}
	return u.Sub
}
