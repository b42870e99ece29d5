package cognitolocal_test

import (
	"net/http"
	"testing"

	"github.com/cognito-authz/cognito-authz/testenv/cognitolocal"
)

// TestFixedIDs: with PoolID, ClientID and IssuerDomain set (the compose stack), the seeded pool
// answers under those names only: the admin signs in (SMS code and group intact) with tokens
// naming them, and the ids the emulator drew are gone.
func TestFixedIDs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs cognito-local under Node: not with -short")
	}
	const pool, client, domain = "local_fixed", "fixed-client", "http://demo:9229"
	e := cognitolocal.StartTest(t, cognitolocal.Options{PoolID: pool, ClientID: client, IssuerDomain: domain})
	p := e.Pool
	if p.ID != pool || p.ClientID != client || p.Issuer != domain+"/"+pool || p.JWKSURL != domain+"/"+pool+"/.well-known/jwks.json" {
		t.Fatalf("pool %+v, want id %s, client %s, issuer %s/%s", p, pool, client, domain, pool)
	}
	if _, ok := e.SeededTokens(p.Admin); ok {
		t.Error("SeededTokens has a token of the drawn ids")
	}
	tok, err := e.SignIn(t.Context(), p.Admin)
	if err != nil {
		t.Fatal(err)
	}
	c := claims(t, tok.AccessToken)
	if c["iss"] != p.Issuer || c["client_id"] != client || c["sub"] != p.Admin.Sub {
		t.Errorf("access token claims %v, want iss %s, client_id %s, sub %s", c, p.Issuer, client, p.Admin.Sub)
	}
	if groups, _ := c["cognito:groups"].([]any); len(groups) != 1 || groups[0] != cognitolocal.AdminGroup {
		t.Errorf("cognito:groups %v, want [%s]", c["cognito:groups"], cognitolocal.AdminGroup)
	}
	var pools struct{ UserPools []struct{ Id string } }
	if err := e.Call(t.Context(), "ListUserPools", map[string]any{"MaxResults": 10}, &pools); err != nil {
		t.Fatal(err)
	}
	if len(pools.UserPools) != 1 || pools.UserPools[0].Id != pool {
		t.Errorf("pools %+v, want only %s", pools.UserPools, pool)
	}
	resp, err := http.Get(e.URL() + "/" + pool + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("keys of %s: %s", pool, resp.Status)
	}
}
