package cognitolocal_test

import (
	"errors"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/testenv/cognitoapi"
	"github.com/cognito-authz/cognito-authz/testenv/cognitolocal"
	"github.com/cognito-authz/cognito-authz/testenv/issuer"
)

// authResult is InitiateAuth's and RespondToAuthChallenge's answer.
type authResult struct {
	ChallengeName        string
	Session              string
	AuthenticationResult struct{ AccessToken, IdToken, RefreshToken string }
}

func passwordAuth(username, password, clientID string) map[string]any {
	return map[string]any{"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": clientID,
		"AuthParameters": map[string]string{"USERNAME": username, "PASSWORD": password}}
}

// wantAPIError fails unless err is the emulator refusing with type typ.
func wantAPIError(t *testing.T, err error, typ string) {
	t.Helper()
	var apiErr *cognitoapi.Error
	if !errors.As(err, &apiErr) || apiErr.Type != typ {
		t.Fatalf("err %v, want %s", err, typ)
	}
}

func claims(t *testing.T, token string) map[string]any {
	t.Helper()
	c, err := issuer.UnverifiedClaims(token)
	if err != nil {
		t.Fatalf("not a JWT: %v", err)
	}
	return c
}

// TestSeededPool walks every journey of the demo through the emulator's API, pinning what the web
// app and the stack rely on, the deviations from Cognito included (see the package comment).
func TestSeededPool(t *testing.T) {
	if testing.Short() {
		t.Skip("runs cognito-local under Node: not with -short")
	}
	const ttl = 90 * time.Second
	e := cognitolocal.StartTest(t, cognitolocal.Options{AccessTokenTTL: ttl})
	ctx, p, box := t.Context(), e.Pool, e.Outbox
	call := func(action string, in, out any) error { return e.Call(ctx, action, in, out) }
	// Through the Front a code is in the outbox by the time the call that sent it is answered.
	const wait = 0

	t.Run("seeding sent no code", func(t *testing.T) {
		if msgs := box.Messages(); len(msgs) != 0 {
			t.Fatalf("the outbox holds %+v before anyone asked for a code", msgs)
		}
		for _, u := range []cognitolocal.User{p.Admin, p.User} {
			tok, ok := e.SeededTokens(u)
			if !ok {
				t.Fatalf("no seeded tokens for %s", u.Username)
			}
			if c := claims(t, tok.AccessToken); c["sub"] != u.Sub || c["iss"] != p.Issuer {
				t.Errorf("%s's seeded access token: %v, want sub %s, iss %s", u.Username, c, u.Sub, p.Issuer)
			}
		}
	})

	t.Run("the plain user signs in without MFA", func(t *testing.T) {
		var r authResult
		if err := call("InitiateAuth", passwordAuth(p.User.Username, p.User.Password, p.ClientID), &r); err != nil {
			t.Fatal(err)
		}
		c := claims(t, r.AuthenticationResult.AccessToken)
		if c["sub"] != p.User.Sub || c["iss"] != p.Issuer || c["client_id"] != p.ClientID || c["cognito:groups"] != nil {
			t.Errorf("access token claims %v, want sub %s, iss %s, client_id %s, no groups", c, p.User.Sub, p.Issuer, p.ClientID)
		}
		if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat != ttl.Seconds() {
			t.Errorf("access token lives %vs, want %v (AccessTokenTTL)", exp-iat, ttl)
		}
		// Refresh: new access and ID tokens, no new refresh token.
		var refreshed authResult
		if err := call("InitiateAuth", map[string]any{"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": p.ClientID,
			"AuthParameters": map[string]string{"REFRESH_TOKEN": r.AuthenticationResult.RefreshToken}}, &refreshed); err != nil {
			t.Fatal(err)
		}
		if got := claims(t, refreshed.AuthenticationResult.AccessToken)["sub"]; got != p.User.Sub {
			t.Errorf("refreshed access token of sub %v, want %s", got, p.User.Sub)
		}
		// The emulator calls a wrong password InvalidPasswordException; through the Front it is
		// Cognito's NotAuthorizedException.
		wantAPIMessage(t, call("InitiateAuth", passwordAuth(p.User.Username, "wrong", p.ClientID), nil), "NotAuthorizedException", "Incorrect username or password.")
	})

	t.Run("the admin is asked for an SMS code from the outbox", func(t *testing.T) {
		from := box.Len()
		var r authResult
		if err := call("InitiateAuth", passwordAuth(p.Admin.Username, p.Admin.Password, p.ClientID), &r); err != nil {
			t.Fatal(err)
		}
		if r.ChallengeName != "SMS_MFA" || r.AuthenticationResult.AccessToken != "" {
			t.Fatalf("sign-in answered %+v, want an SMS_MFA challenge and no tokens", r)
		}
		code, err := box.Await(ctx, from, p.Admin.Username, cognitolocal.PurposeSMSMFA, wait)
		if err != nil {
			t.Fatalf("no SMS code in the outbox: %v (%+v)", err, box.Messages())
		}
		respond := func(code string, out any) error {
			// Deviation: the challenge had no Session, yet one is required.
			return call("RespondToAuthChallenge", map[string]any{"ClientId": p.ClientID, "ChallengeName": "SMS_MFA",
				"Session": "cognito-local-needs-one", "ChallengeResponses": map[string]string{
					"USERNAME": p.Admin.Username, "SMS_MFA_CODE": code}}, out)
		}
		wantAPIError(t, respond("not-"+code, nil), "CodeMismatchException")
		if err := respond(code, &r); err != nil {
			t.Fatal(err)
		}
		c := claims(t, r.AuthenticationResult.AccessToken)
		if groups, _ := c["cognito:groups"].([]any); c["sub"] != p.Admin.Sub || len(groups) != 1 || groups[0] != cognitolocal.AdminGroup {
			t.Errorf("access token claims %v, want sub %s in group %s", c, p.Admin.Sub, cognitolocal.AdminGroup)
		}
	})

	t.Run("sign up, confirm, forget and reset the password", func(t *testing.T) {
		const user, password, newPassword = "carol", "Carol-passw0rd", "Carol-n3w-passw0rd"
		from := box.Len()
		signUp := map[string]any{"ClientId": p.ClientID, "Username": user, "Password": password,
			"UserAttributes": []map[string]string{{"Name": "email", "Value": user + "@example.com"}}}
		if err := call("SignUp", signUp, nil); err != nil {
			t.Fatal(err)
		}
		wantAPIError(t, call("SignUp", signUp, nil), "UsernameExistsException")
		wantAPIError(t, call("InitiateAuth", passwordAuth(user, password, p.ClientID), nil), "UserNotConfirmedException")
		code, err := box.Await(ctx, from, user, cognitolocal.PurposeConfirmSignUp, wait)
		if err != nil {
			t.Fatalf("no confirmation code in the outbox: %v (%+v)", err, box.Messages())
		}
		confirm := func(code string) error {
			return call("ConfirmSignUp", map[string]any{"ClientId": p.ClientID, "Username": user, "ConfirmationCode": code}, nil)
		}
		wantAPIError(t, confirm("not-"+code), "CodeMismatchException")
		if err := confirm(code); err != nil {
			t.Fatal(err)
		}
		var r authResult
		if err := call("InitiateAuth", passwordAuth(user, password, p.ClientID), &r); err != nil || r.AuthenticationResult.AccessToken == "" {
			t.Fatalf("a confirmed user signs in without MFA: %+v, %v", r, err)
		}

		from = box.Len()
		if err := call("ForgotPassword", map[string]any{"ClientId": p.ClientID, "Username": user}, nil); err != nil {
			t.Fatal(err)
		}
		code, err = box.Await(ctx, from, user, cognitolocal.PurposeForgotPassword, wait)
		if err != nil {
			t.Fatalf("no reset code in the outbox: %v (%+v)", err, box.Messages())
		}
		reset := func(code string) error {
			return call("ConfirmForgotPassword", map[string]any{"ClientId": p.ClientID, "Username": user,
				"ConfirmationCode": code, "Password": newPassword}, nil)
		}
		wantAPIError(t, reset("not-"+code), "CodeMismatchException")
		if err := reset(code); err != nil {
			t.Fatal(err)
		}
		wantAPIError(t, call("InitiateAuth", passwordAuth(user, password, p.ClientID), nil), "NotAuthorizedException")
		if err := call("InitiateAuth", passwordAuth(user, newPassword, p.ClientID), nil); err != nil {
			t.Fatalf("sign-in with the new password: %v", err)
		}
	})

	t.Run("the pool's password policy, with Cognito's error", func(t *testing.T) {
		const user = "dave"
		signUp := func(password string) error {
			return call("SignUp", map[string]any{"ClientId": p.ClientID, "Username": user, "Password": password,
				"UserAttributes": []map[string]string{{"Name": "email", "Value": user + "@example.com"}}}, nil)
		}
		for password, want := range map[string]string{
			"password":  "Password did not conform with policy: Password must have uppercase characters",
			"Pa1-":      "Password did not conform with policy: Password not long enough",
			"Passw0rdd": "Password did not conform with policy: Password must have symbol characters",
		} {
			wantAPIMessage(t, signUp(password), "InvalidPasswordException", want)
		}
		if err := signUp("Dave-passw0rd"); err != nil {
			t.Fatalf("a password that meets the policy: %v", err)
		}
		code, err := box.Await(ctx, 0, user, cognitolocal.PurposeConfirmSignUp, wait)
		if err != nil {
			t.Fatal(err)
		}
		if err := call("ConfirmSignUp", map[string]any{"ClientId": p.ClientID, "Username": user, "ConfirmationCode": code}, nil); err != nil {
			t.Fatal(err)
		}
		from := box.Len()
		if err := call("ForgotPassword", map[string]any{"ClientId": p.ClientID, "Username": user}, nil); err != nil {
			t.Fatal(err)
		}
		if code, err = box.Await(ctx, from, user, cognitolocal.PurposeForgotPassword, wait); err != nil {
			t.Fatal(err)
		}
		reset := func(password string) error {
			return call("ConfirmForgotPassword", map[string]any{"ClientId": p.ClientID, "Username": user,
				"ConfirmationCode": code, "Password": password}, nil)
		}
		wantAPIMessage(t, reset("weakpass"), "InvalidPasswordException", "Password did not conform with policy: Password must have uppercase characters")
		// The refused reset left the code as it was: it still works with a good password.
		if err := reset("Dave-n3w-passw0rd"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a new sign-up code replaces the old one", func(t *testing.T) {
		const user = "erin"
		if err := call("SignUp", map[string]any{"ClientId": p.ClientID, "Username": user, "Password": "Erin-passw0rd",
			"UserAttributes": []map[string]string{{"Name": "email", "Value": user + "@example.com"}}}, nil); err != nil {
			t.Fatal(err)
		}
		first, err := box.Await(ctx, 0, user, cognitolocal.PurposeConfirmSignUp, wait)
		if err != nil {
			t.Fatal(err)
		}
		from := box.Len()
		var sent struct {
			CodeDeliveryDetails struct{ Destination, DeliveryMedium string }
		}
		if err := call("ResendConfirmationCode", map[string]any{"ClientId": p.ClientID, "Username": user}, &sent); err != nil {
			t.Fatal(err)
		}
		if sent.CodeDeliveryDetails.Destination != user+"@example.com" || sent.CodeDeliveryDetails.DeliveryMedium != "EMAIL" {
			t.Errorf("ResendConfirmationCode answered %+v, want delivery by email to %s@example.com", sent, user)
		}
		second, err := box.Await(ctx, from, user, cognitolocal.PurposeConfirmSignUp, wait)
		if err != nil {
			t.Fatalf("no new code in the outbox: %v (%+v)", err, box.Messages())
		}
		confirm := func(code string) error {
			return call("ConfirmSignUp", map[string]any{"ClientId": p.ClientID, "Username": user, "ConfirmationCode": code}, nil)
		}
		if first != second { // one in a million, the new code has the old digits
			wantAPIError(t, confirm(first), "CodeMismatchException")
		}
		if err := confirm(second); err != nil {
			t.Fatal(err)
		}
		wantAPIMessage(t, call("ResendConfirmationCode", map[string]any{"ClientId": p.ClientID, "Username": user}, nil),
			"InvalidParameterException", "User is already confirmed.")
		wantAPIError(t, call("ResendConfirmationCode", map[string]any{"ClientId": p.ClientID, "Username": "nobody"}, nil), "UserNotFoundException")
	})
}

// wantAPIMessage fails unless err is the emulator refusing with type typ and message msg.
func wantAPIMessage(t *testing.T, err error, typ, msg string) {
	t.Helper()
	wantAPIError(t, err, typ)
	if apiErr := (*cognitoapi.Error)(nil); errors.As(err, &apiErr) && apiErr.Message != msg {
		t.Fatalf("%s says %q, want %q", typ, apiErr.Message, msg)
	}
}
