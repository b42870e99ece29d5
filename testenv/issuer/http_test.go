package issuer_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/cognito-authz/cognito-authz/testenv/issuer"
)

func post(t *testing.T, url, body string) (int, []byte) {
	t.Helper()
	// curl -d sends a form content type; the endpoint reads JSON whatever the header says.
	resp, err := http.Post(url, "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q, want application/json", ct)
	}
	return resp.StatusCode, b
}

func TestMintEndpoint(t *testing.T) {
	is := newIssuer(t)
	set := fetchKeySet(t, is)
	tokenURL := is.IssuerURL() + "/token"
	tests := []struct {
		name       string
		body       string
		wantUse    issuer.TokenUse
		wantGroups []string
		wantClaim  map[string]any
	}{
		{
			name:       "access token, groups given",
			body:       `{"username":"alice","groups":["admin"]}`,
			wantUse:    issuer.Access,
			wantGroups: []string{"admin"},
			wantClaim:  map[string]any{"username": "alice", "client_id": "demo-client", "cognito:groups": []any{"admin"}},
		},
		{
			name:       "groups given before stay with the user",
			body:       `{"username":"alice","token_use":"id"}`,
			wantUse:    issuer.ID,
			wantGroups: []string{"admin"},
			wantClaim:  map[string]any{"cognito:username": "alice", "aud": "demo-client", "cognito:groups": []any{"admin"}},
		},
		{
			name:       "empty groups take the user out of every group",
			body:       `{"username":"alice","groups":[]}`,
			wantUse:    issuer.Access,
			wantGroups: []string{},
			wantClaim:  map[string]any{"cognito:groups": nil},
		},
		{
			name:       "client, scopes and lifetime",
			body:       `{"username":"bob","client_id":"other-client","scopes":["openid"],"expires_in":60}`,
			wantUse:    issuer.Access,
			wantGroups: []string{},
			wantClaim:  map[string]any{"client_id": "other-client", "scope": "openid", "exp": json.Number("1780000060")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(t, tokenURL, tt.body)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			var resp issuer.MintResponse
			if err := json.Unmarshal(body, &resp); err != nil {
				t.Fatal(err)
			}
			user, _ := is.User(resp.Username)
			if resp.TokenUse != tt.wantUse || resp.TokenType != "Bearer" || resp.Sub != user.Sub || !slices.Equal(resp.Groups, tt.wantGroups) {
				t.Errorf("response %+v, want token_use %s, Bearer, sub %s, groups %v", resp, tt.wantUse, user.Sub, tt.wantGroups)
			}
			if !verifies(t, set, resp.Token) {
				t.Error("minted token does not verify against the JWKS")
			}
			d := decode(t, resp.Token)
			if d.claims["token_use"] != string(tt.wantUse) || d.claims["sub"] != user.Sub {
				t.Errorf("claims %v, want token_use %s and sub %s", d.claims, tt.wantUse, user.Sub)
			}
			for name, want := range tt.wantClaim {
				if got := d.claims[name]; !equalJSON(got, want) {
					t.Errorf("%s = %#v, want %#v", name, got, want)
				}
			}
		})
	}
}

func TestMintEndpointRejects(t *testing.T) {
	is := newIssuer(t)
	tokenURL := is.IssuerURL() + "/token"
	tests := []struct {
		name   string
		body   string
		status int
		want   string
	}{
		{"empty body", ``, http.StatusBadRequest, "want a JSON object"},
		{"not JSON", `username=alice`, http.StatusBadRequest, "body:"},
		{"unknown field", `{"username":"alice","admin":true}`, http.StatusBadRequest, `unknown field "admin"`},
		{"two objects", `{"username":"a"}{"username":"b"}`, http.StatusBadRequest, "exactly one"},
		{"no username", `{"groups":["admin"]}`, http.StatusBadRequest, "username is empty"},
		{"unknown client", `{"username":"a","client_id":"nope","groups":["admin"]}`, http.StatusBadRequest, `client_id "nope"`},
		{"bad token use", `{"username":"a","token_use":"refresh","groups":["admin"]}`, http.StatusBadRequest, "token use"},
		{"negative lifetime", `{"username":"a","expires_in":-1}`, http.StatusBadRequest, "expires_in"},
		{"lifetime over a year", `{"username":"a","expires_in":99999999999}`, http.StatusBadRequest, "expires_in"},
		{"too large", `{"username":"` + strings.Repeat("a", 70<<10) + `"}`, http.StatusRequestEntityTooLarge, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(t, tokenURL, tt.body)
			var e struct{ Error string }
			_ = json.Unmarshal(body, &e)
			if status != tt.status || !strings.Contains(e.Error, tt.want) {
				t.Errorf("got %d %s, want %d with an error containing %q", status, body, tt.status, tt.want)
			}
		})
	}
	// A rejected request with groups leaves the user alone.
	if u, _ := is.User("a"); len(u.Groups) != 0 {
		t.Errorf("user a has groups %v after rejected requests", u.Groups)
	}
}

func TestRoutes(t *testing.T) {
	is := newIssuer(t)
	tests := []struct {
		method, path string
		status       int
		allow        string
	}{
		{http.MethodGet, "/local_pool/.well-known/jwks.json", http.StatusOK, ""},
		{http.MethodHead, "/local_pool/.well-known/jwks.json", http.StatusOK, ""},
		{http.MethodPost, "/local_pool/.well-known/jwks.json", http.StatusMethodNotAllowed, "GET, HEAD"},
		{http.MethodGet, "/local_pool/token", http.StatusMethodNotAllowed, "POST"},
		{http.MethodGet, "/other_pool/.well-known/jwks.json", http.StatusNotFound, ""},
		{http.MethodGet, "/.well-known/jwks.json", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, is.BaseURL()+tt.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status || resp.Header.Get("Allow") != tt.allow {
				t.Errorf("status %d Allow %q, want %d %q", resp.StatusCode, resp.Header.Get("Allow"), tt.status, tt.allow)
			}
		})
	}
}
