// Package cognitoapi calls a Cognito user-pool JSON API (X-Amz-Target style) the way the AWS SDK
// and Amplify do on the wire: an emulator's (cognito-local, moto), or the stack's Envoy route in
// front of one.
package cognitoapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// TargetPrefix precedes the action in X-Amz-Target, e.g. ...Service.InitiateAuth.
const TargetPrefix = "AWSCognitoIdentityProviderService."

// ContentType is the API's request body type.
const ContentType = "application/x-amz-json-1.1"

// maxAnswerBytes caps an answer read back: the API's answers are a few kilobytes.
const maxAnswerBytes = 1 << 20

// Client calls one endpoint.
type Client struct {
	// URL is where the API is POSTed, e.g. http://127.0.0.1:9229/ or http://127.0.0.1:8000/cognito-idp/.
	URL string
	// HTTP sends the requests.
	HTTP *http.Client
	// SigningRegion, when set, adds the Authorization and X-Amz-Date headers of a SigV4 request
	// with dummy credentials for that region. Emulators check no signature; moto reads the region
	// and service from the credential scope, as AWS routes a signed request.
	SigningRegion string
}

// Error is a call the API refused, e.g. UsernameExistsException.
type Error struct {
	Status  int
	Type    string // __type
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Type, e.Message) }

// Call invokes one action, decoding the answer into out when not nil. A refused call is an
// *Error.
func (c *Client) Call(ctx context.Context, action string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set("X-Amz-Target", TargetPrefix+action)
	if c.SigningRegion != "" {
		now := time.Now().UTC()
		req.Header.Set("X-Amz-Date", now.Format("20060102T150405Z"))
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"+now.Format("20060102")+"/"+
			c.SigningRegion+"/cognito-idp/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, "+
			"Signature=0000000000000000000000000000000000000000000000000000000000000000")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	if resp.StatusCode != http.StatusOK {
		apiErr := &Error{Status: resp.StatusCode}
		var parsed struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if json.Unmarshal(answer, &parsed) == nil {
			apiErr.Type, apiErr.Message = parsed.Type, parsed.Message
		} else {
			apiErr.Message = string(answer)
		}
		return fmt.Errorf("%s: %w", action, apiErr)
	}
	if out != nil {
		if err := json.Unmarshal(answer, out); err != nil {
			return fmt.Errorf("%s: %v in %s", action, err, answer)
		}
	}
	return nil
}

// Attribute is one user attribute, e.g. email.
type Attribute struct{ Name, Value string }

// User is a user for CreateUser.
type User struct {
	Username, Password string
	Attributes         []Attribute
	Groups             []string
}

// CreateUser creates u as an administrator does, confirmed, with its permanent password and in its
// groups, sending no welcome message (AdminCreateUser, AdminSetUserPassword, AdminAddUserToGroup),
// and returns its sub.
func (c *Client) CreateUser(ctx context.Context, poolID string, u User) (sub string, err error) {
	var created struct {
		User struct{ Attributes []Attribute }
	}
	if err := c.Call(ctx, "AdminCreateUser", map[string]any{
		"UserPoolId": poolID, "Username": u.Username, "MessageAction": "SUPPRESS",
		"TemporaryPassword": u.Password + "-temporary",
		"UserAttributes":    u.Attributes,
	}, &created); err != nil {
		return "", err
	}
	for _, a := range created.User.Attributes {
		if a.Name == "sub" {
			sub = a.Value
		}
	}
	if sub == "" {
		return "", fmt.Errorf("AdminCreateUser made %s without a sub", u.Username)
	}
	if err := c.Call(ctx, "AdminSetUserPassword", map[string]any{
		"UserPoolId": poolID, "Username": u.Username, "Password": u.Password, "Permanent": true,
	}, nil); err != nil {
		return "", err
	}
	for _, g := range u.Groups {
		if err := c.Call(ctx, "AdminAddUserToGroup", map[string]any{
			"UserPoolId": poolID, "Username": u.Username, "GroupName": g,
		}, nil); err != nil {
			return "", err
		}
	}
	return sub, nil
}
