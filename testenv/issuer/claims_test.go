package issuer_test

import (
	"strings"
	"testing"

	"github.com/cognito-authz/cognito-authz/testenv/issuer"
)

func TestUnverifiedClaims(t *testing.T) {
	is := newIssuer(t)
	minted, err := is.Mint(issuer.TokenSpec{Username: "alice", Use: issuer.ID})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		token    string
		wantUser string // cognito:username of the decoded claims
		wantErr  string
	}{
		{name: "minted ID token", token: minted, wantUser: "alice"},
		{name: "signature not checked", token: minted[:strings.LastIndex(minted, ".")] + ".AAAA", wantUser: "alice"},
		{name: "two segments", token: "eyJhIjoxfQ.eyJhIjoxfQ", wantErr: "2 segments"},
		{name: "padded payload", token: "e30.eyJhIjoxfQ==.c2ln", wantErr: "not unpadded base64url"},
		{name: "payload not JSON", token: "e30.bm90IGpzb24.c2ln", wantErr: "not a JSON object"},
		{name: "payload an array", token: "e30.WzFd.c2ln", wantErr: "not a JSON object"},
		{name: "payload null", token: "e30.bnVsbA.c2ln", wantErr: "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims, err := issuer.UnverifiedClaims(tt.token)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("UnverifiedClaims() = %v, %v; want an error containing %q", claims, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if claims["cognito:username"] != tt.wantUser || claims["iss"] != is.IssuerURL() {
				t.Errorf("claims %v, want cognito:username %q and iss %q", claims, tt.wantUser, is.IssuerURL())
			}
		})
	}
}
