package e2e_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"
)

// userPoolAPI calls the Cognito Identity Provider JSON API (X-Amz-Target style) of an emulator,
// as the AWS SDK would.
type userPoolAPI struct {
	url    string // e.g. http://127.0.0.1:9229
	client *http.Client
	// signingRegion, when set, adds the Authorization and X-Amz-Date headers of a SigV4 request
	// with dummy credentials for that region. Emulators check no signature; moto reads the
	// region and service from the credential scope, as AWS routes a signed request.
	signingRegion string
}

// call invokes one API action, decoding the answer into out (when not nil).
func (c *userPoolAPI) call(t *testing.T, action string, in, out any) {
	t.Helper()
	body, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, c.url+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AWSCognitoIdentityProviderService."+action)
	if c.signingRegion != "" {
		now := time.Now().UTC()
		req.Header.Set("X-Amz-Date", now.Format("20060102T150405Z"))
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"+now.Format("20060102")+"/"+
			c.signingRegion+"/cognito-idp/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, "+
			"Signature=0000000000000000000000000000000000000000000000000000000000000000")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s: %s", action, resp.Status, answer)
	}
	if out != nil {
		if err := json.Unmarshal(answer, out); err != nil {
			t.Fatalf("%s: %v in %s", action, err, answer)
		}
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
	var created struct {
		User struct {
			Attributes []struct{ Name, Value string }
		}
	}
	c.call(t, "AdminCreateUser", map[string]any{
		"UserPoolId": poolID, "Username": username, "MessageAction": "SUPPRESS",
		"TemporaryPassword": "Temp0rary!" + username,
		"UserAttributes":    []map[string]string{{"Name": "email", "Value": u.email}},
	}, &created)
	for _, a := range created.User.Attributes {
		if a.Name == "sub" {
			u.sub = a.Value
		}
	}
	if u.sub == "" {
		t.Fatalf("%s was created without a sub: %+v", username, created)
	}
	c.call(t, "AdminSetUserPassword", map[string]any{
		"UserPoolId": poolID, "Username": username, "Password": u.password, "Permanent": true,
	}, nil)
	if group != "" {
		c.call(t, "AdminAddUserToGroup", map[string]any{
			"UserPoolId": poolID, "Username": username, "GroupName": group,
		}, nil)
	}
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
