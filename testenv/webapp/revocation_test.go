package webapp_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/extauthz"
	"github.com/cognito-authz/cognito-authz/internal/poll"
	"github.com/cognito-authz/cognito-authz/testenv/browser"
	"github.com/cognito-authz/cognito-authz/testenv/cognitoapi"
	"github.com/cognito-authz/cognito-authz/testenv/e2e"
	"github.com/cognito-authz/cognito-authz/testenv/motoproc"
)

// TestSignOutOfAllDevicesInChromium: a user signed in in two browsers (moto as the user pool,
// reached by the page as a real pool's API is, and as the Cognito API behind cognito-authz's
// revocation check) signs out of all devices in the first; the second browser's session, still
// holding locally valid tokens, is then refused on the admin route (401), within cache_ttl plus
// a second. cognito-local, the demo's emulator, has no GlobalSignOut and does not check
// revocation in GetUser, hence moto.
func TestSignOutOfAllDevicesInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a real Chromium through the stack: not with -short")
	}
	bin := browser.Require(t)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
	motoURL := motoproc.StartTest(t, client)
	api := &cognitoapi.Client{URL: motoURL + "/", HTTP: client, SigningRegion: motoproc.Region}
	ctx := t.Context()
	var pool struct{ UserPool struct{ Id string } }
	var app struct{ UserPoolClient struct{ ClientId string } }
	must(t, api.Call(ctx, "CreateUserPool", map[string]any{"PoolName": "web"}, &pool))
	poolID := pool.UserPool.Id
	must(t, api.Call(ctx, "CreateUserPoolClient", map[string]any{
		"UserPoolId": poolID, "ClientName": "web",
		"ExplicitAuthFlows": []string{"ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"},
		"ReadAttributes":    []string{"email"},
	}, &app))
	must(t, api.Call(ctx, "CreateGroup", map[string]any{"UserPoolId": poolID, "GroupName": "admin"}, nil))
	user := seededUser{"erin", "Passw0rd!erin"}
	if _, err := api.CreateUser(ctx, poolID, cognitoapi.User{Username: user.Username, Password: user.Password,
		Attributes: []cognitoapi.Attribute{{Name: "email", Value: "erin@example.com"}}, Groups: []string{"admin"}}); err != nil {
		t.Fatal(err)
	}

	const cacheTTL = 2 * time.Second
	s := e2e.StartTest(t, e2e.Options{
		IdP: e2e.IdPAWS,
		AWS: e2e.AWSPool{UserPoolID: poolID, ClientID: app.UserPoolClient.ClientId, APIEndpoint: motoURL + "/"},
		Configure: func(c *extauthz.Config) {
			c.Issuers[0].JWKSURL = motoURL + "/" + poolID + "/.well-known/jwks.json"
			c.Issuers[0].Revocation = extauthz.Revocation{Mode: extauthz.RevocationOnline, Endpoint: motoURL + "/", CacheTTL: cacheTTL}
		},
	})
	d := demo{AppURL: s.URL(), ClientID: s.Web.ClientID, CognitoAPI: motoURL + "/", User: user}
	signedIn := func() *page {
		p := &page{t: t, ctx: browser.Start(t, bin, journeyTimeout), d: d}
		p.navigate(d.AppURL + "/")
		p.visit("#/signin")
		p.fill("signin-form", map[string]string{"username": user.Username, "password": user.Password})
		p.submit("signin-form")
		p.wantSignedIn(user.Username)
		p.visit("#/admin")
		if a := p.admin(); a.Result != "allowed" || a.HTTPStatus != "200" {
			t.Fatalf("admin page, signed in: %+v", a)
		}
		return p
	}
	first, second := signedIn(), signedIn()

	if shown := first.eval(`String(!document.getElementById('nav-signout-all').hidden)`); shown != "true" {
		t.Fatalf("\"sign out of all devices\" is not offered with a pool that answers GlobalSignOut")
	}
	first.click("#nav-signout-all")
	first.waitView("feed")
	first.until(`document.getElementById('who').dataset.signedIn === 'false'`, "the first browser to be signed out")

	// The second browser still holds its tokens: the admin route refuses them once the sign-out
	// reaches the edge.
	var last adminState
	err := poll.Until(ctx, cacheTTL+time.Second+pageTimeout, func() bool {
		second.visit("#/")
		second.visit("#/admin")
		last = second.admin()
		return last.HTTPStatus == "401"
	})
	if err != nil {
		t.Fatalf("the second browser's session is not refused after signing out of all devices: %+v", last)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
