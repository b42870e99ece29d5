package e2e_test

import (
	"net/http"
	"testing"

	"github.com/cognito-authz/cognito-authz/testenv/cognitoapi"
)

// userPoolAPI calls the Cognito Identity Provider JSON API (X-Amz-Target style) of an emulator,
// as the AWS SDK would.
type userPoolAPI struct {
	url    string // e.g. http://127.0.0.1:9229
	client *http.Client
	// signingRegion: see cognitoapi.Client.SigningRegion.
	signingRegion string
}

func (c *userPoolAPI) api() *cognitoapi.Client {
	return &cognitoapi.Client{URL: c.url + "/", HTTP: c.client, SigningRegion: c.signingRegion}
}

// call invokes one API action, decoding the answer into out (when not nil).
func (c *userPoolAPI) call(t *testing.T, action string, in, out any) {
	t.Helper()
	if err := c.api().Call(t.Context(), action, in, out); err != nil {
		t.Fatal(err)
	}
}

// cognitoUser is a user created through the API.
type cognitoUser struct {
	username, password, email, sub string
}

// createUser creates a confirmed user with a permanent password, in group when not empty.
func (c *userPoolAPI) createUser(t *testing.T, poolID, username, group string) cognitoUser {
	t.Helper()
	u := cognitoUser{username: username, password: "Passw0rd!" + username, email: username + "@example.com"}
	var groups []string
	if group != "" {
		groups = []string{group}
	}
	sub, err := c.api().CreateUser(t.Context(), poolID, cognitoapi.User{Username: username, Password: u.password,
		Attributes: []cognitoapi.Attribute{{Name: "email", Value: u.email}}, Groups: groups})
	if err != nil {
		t.Fatal(err)
	}
	u.sub = sub
	return u
}

// cognitoTokens are the tokens of one sign-in.
type cognitoTokens struct {
	AccessToken, IdToken, RefreshToken string
}

// signIn signs u in with USER_PASSWORD_AUTH, as an app using the Cognito API directly does.
func (c *userPoolAPI) signIn(t *testing.T, clientID string, u cognitoUser) cognitoTokens {
	t.Helper()
	var out struct{ AuthenticationResult cognitoTokens }
	c.call(t, "InitiateAuth", map[string]any{
		"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": clientID,
		"AuthParameters": map[string]string{"USERNAME": u.username, "PASSWORD": u.password},
	}, &out)
	tok := out.AuthenticationResult
	if tok.AccessToken == "" || tok.IdToken == "" {
		t.Fatalf("%s was signed in without access and ID tokens", u.username)
	}
	return tok
}
