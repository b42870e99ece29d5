package e2e_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/extauthz"
	"github.com/cognito-authz/cognito-authz/testenv/backend"
	"github.com/cognito-authz/cognito-authz/testenv/cognitoapi"
	"github.com/cognito-authz/cognito-authz/testenv/cognitolocal"
	"github.com/cognito-authz/cognito-authz/testenv/e2e"
	"github.com/cognito-authz/cognito-authz/testenv/issuer"
	"github.com/cognito-authz/cognito-authz/testenv/webapp"
)

// fetch sends one request through Envoy and returns the status, headers and body.
func fetch(t *testing.T, method, url string, header http.Header, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := loopback.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// cognitoCall calls the Cognito JSON API at endpoint as the web app and Amplify do, decoding the
// answer into out.
func cognitoCall(t *testing.T, endpoint, action string, in, out any) {
	t.Helper()
	api := cognitoapi.Client{URL: endpoint, HTTP: loopback}
	if err := api.Call(t.Context(), action, in, out); err != nil {
		t.Fatalf("through Envoy: %v", err)
	}
}

// The demo's stack: the web app at /, the Cognito API same-origin at /cognito-idp/, the outbox,
// and a session in Amplify's cookie names that cognito-authz reads.
func TestCognitoLocalStackServesTheDemo(t *testing.T) {
	s := e2e.StartTest(t, e2e.Options{IdP: e2e.IdPCognitoLocal, AuthzTimeout: testAuthzTimeout})
	p := s.CognitoLocal.Pool
	info := s.Info()
	want := e2e.Info{AppURL: s.URL(), IdP: e2e.IdPCognitoLocal, IdPEndpoint: s.URL() + "/cognito-idp/",
		Region: "local", UserPoolID: p.ID, ClientID: p.ClientID, Issuer: p.Issuer, OutboxURL: s.URL() + "/outbox"}
	if info != want {
		t.Fatalf("Info() = %+v\nwant %+v", info, want)
	}

	t.Run("the page and its settings, auth off", func(t *testing.T) {
		status, h, _ := fetch(t, http.MethodGet, info.AppURL+"/", nil, nil)
		if status != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			t.Errorf("GET / = %d %s, want the page", status, h.Get("Content-Type"))
		}
		status, _, body := fetch(t, http.MethodGet, info.AppURL+webapp.AppConfigPath, http.Header{"Authorization": {"Bearer not-a-token"}}, nil)
		var cfg webapp.Config
		if err := json.Unmarshal(body, &cfg); status != http.StatusOK || err != nil {
			t.Fatalf("GET %s = %d %s", webapp.AppConfigPath, status, body)
		}
		wantCfg := webapp.Config{IdP: e2e.IdPCognitoLocal, Region: "local", UserPoolID: p.ID, ClientID: p.ClientID, Endpoint: "/cognito-idp/",
			OutboxURL: e2e.OutboxPath}
		gotPolicy := cfg.PasswordPolicy
		cfg.PasswordPolicy = nil
		if cfg != wantCfg || gotPolicy == nil || *gotPolicy != cognitolocal.DemoPasswordPolicy {
			t.Errorf("app config %+v (password policy %+v), want %+v and the pool's policy %+v", cfg, gotPolicy, wantCfg, cognitolocal.DemoPasswordPolicy)
		}
	})

	t.Run("signed in through Envoy, Amplify's cookies are the session", func(t *testing.T) {
		var out struct {
			AuthenticationResult struct{ AccessToken, IdToken string }
		}
		cognitoCall(t, info.IdPEndpoint, "InitiateAuth", map[string]any{
			"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": info.ClientID,
			"AuthParameters": map[string]string{"USERNAME": p.User.Username, "PASSWORD": p.User.Password},
		}, &out)
		if out.AuthenticationResult.AccessToken == "" {
			t.Fatalf("InitiateAuth through Envoy answered no access token: %+v", out)
		}
		prefix := "CognitoIdentityServiceProvider." + info.ClientID
		cookies := prefix + ".LastAuthUser=" + p.User.Username + "; " +
			prefix + "." + p.User.Username + ".accessToken=" + out.AuthenticationResult.AccessToken
		a := get(t, s, backend.HomePath, http.Header{"Cookie": {cookies}})
		wantApp(t, a)
		if got := a.Received("x-auth-status"); len(got) != 1 || got[0] != "authenticated" {
			t.Fatalf("the app saw x-auth-status %q, want authenticated", got)
		}
		if got := a.Received("x-user-sub"); len(got) != 1 || got[0] != p.User.Sub {
			t.Errorf("the app saw x-user-sub %q, want %s", got, p.User.Sub)
		}
	})

	t.Run("a code sent through Envoy is in the outbox when the call is answered", func(t *testing.T) {
		const user = "dave"
		signUp := func() {
			cognitoCall(t, info.IdPEndpoint, "SignUp", map[string]any{
				"ClientId": info.ClientID, "Username": user, "Password": "Dave-passw0rd",
				"UserAttributes": []map[string]string{{"Name": "email", "Value": user + "@example.com"}},
			}, nil)
		}
		signUp()
		cognitoCall(t, info.IdPEndpoint, "ResendConfirmationCode", map[string]any{"ClientId": info.ClientID, "Username": user}, nil)
		type entry struct {
			Time                    time.Time
			Username, Purpose, Code string
			Latest                  bool
		}
		outbox := func(query string) []entry {
			status, h, body := fetch(t, http.MethodGet, info.OutboxURL+query, nil, nil)
			var box []entry
			if err := json.Unmarshal(body, &box); status != http.StatusOK || err != nil || h.Get("Content-Type") != "application/json" {
				t.Fatalf("GET /outbox%s = %d %s %s", query, status, h.Get("Content-Type"), body)
			}
			return box
		}
		// No wait: the codes are there as the calls are answered.
		box := outbox("?user=" + user)
		if len(box) != 2 || box[0].Purpose != cognitolocal.PurposeConfirmSignUp || box[1].Purpose != cognitolocal.PurposeConfirmSignUp ||
			box[0].Latest || !box[1].Latest || box[0].Code == "" || box[1].Code == "" {
			t.Fatalf("GET /outbox?user=%s = %+v, want two sign-up codes, the second the latest", user, box)
		}
		for _, e := range box {
			if e.Username != user || time.Since(e.Time) > time.Minute || time.Since(e.Time) < 0 {
				t.Errorf("entry %+v: want %s's, timed just now", e, user)
			}
		}
		if all := outbox(""); len(all) < 2 || all[len(all)-1] != box[1] {
			t.Errorf("GET /outbox = %+v, want %+v last", all, box[1])
		}
	})
}

// The web app's and the outbox's routes are auth off: cognito-authz is asked (and removes what a
// client made up) but lets everything through, a valid token or none. With the builtin issuer
// /outbox falls to the demo backend, which shows what it received.
func TestAuthOffDemoRoutesDropForgedIdentity(t *testing.T) {
	s := startStack(t, nil)
	token := s.Issuer.MustMint(t, issuer.TokenSpec{Username: "alice"})
	before := checksAnswered(t, s)
	a := get(t, s, e2e.OutboxPath, withHeaders(e2e.Bearer(token), http.Header{
		"x-user-sub": {"forged"}, "x-auth-status": {"authenticated"}, "x-user-groups": {"admin"}}))
	if a.Status != http.StatusNotFound || a.App == nil {
		t.Fatalf("want the demo backend's 404, got %s", a)
	}
	wantIdentity(t, a, map[string]string{})
	if got := checksAnswered(t, s) - before; got != 1 {
		t.Errorf("cognito-authz answered %v checks, want 1 (auth off)", got)
	}
}

// --idp aws cannot run here: what it tells cognito-authz and the web app is checked instead.
func TestAWSSetup(t *testing.T) {
	cfg, web, info, err := e2e.AWSSetup(e2e.AWSPool{UserPoolID: "eu-west-1_AbCdEf123", ClientID: "webclient"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the configuration does not validate: %v", err)
	}
	is := cfg.Issuers
	if len(is) != 1 || is[0].UserPoolID != "eu-west-1_AbCdEf123" || is[0].Issuer != "" || is[0].JWKSURL != "" ||
		len(is[0].ClientIDs) != 1 || is[0].ClientIDs[0] != "webclient" || is[0].TokenUse != extauthz.TokenUseAny {
		t.Errorf("issuers %+v, want the pool by id (keys from AWS), client webclient, both token kinds", is)
	}
	if !cfg.TokenSources.AmplifyCookies {
		t.Error("amplify_cookies is off")
	}
	const endpoint = "https://cognito-idp.eu-west-1.amazonaws.com/"
	if want := (webapp.Config{IdP: "aws", Region: "eu-west-1", UserPoolID: "eu-west-1_AbCdEf123", ClientID: "webclient", Endpoint: endpoint}); web != want {
		t.Errorf("web app config %+v, want %+v", web, want)
	}
	if want := (e2e.Info{IdP: "aws", IdPEndpoint: endpoint, Region: "eu-west-1", UserPoolID: "eu-west-1_AbCdEf123",
		ClientID: "webclient", Issuer: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"}); info != want {
		t.Errorf("info %+v, want %+v", info, want)
	}

	for _, bad := range []e2e.AWSPool{{ClientID: "c"}, {UserPoolID: "AbCdEf123", ClientID: "c"}, {UserPoolID: "eu-west-1_AbC"}} {
		if _, _, _, err := e2e.AWSSetup(bad); err == nil {
			t.Errorf("AWSSetup(%+v) accepted it", bad)
		}
	}
}
