package cognitoapi_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/cognito-authz/cognito-authz/testenv/cognitoapi"
)

func TestCall(t *testing.T) {
	var got *http.Request
	var gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got, gotBody = r, string(b)
		switch r.Header.Get("X-Amz-Target") {
		case "AWSCognitoIdentityProviderService.SignUp":
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"__type":"UsernameExistsException","message":"User already exists"}`)
		case "AWSCognitoIdentityProviderService.Broken":
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "not json")
		default:
			io.WriteString(w, `{"UserPool":{"Id":"local_1"}}`)
		}
	}))
	defer srv.Close()

	tests := []struct {
		name          string
		action        string
		region        string
		wantErr       *cognitoapi.Error
		wantAuthScope string // in Authorization; "" for no header
	}{
		{"answer decoded", "CreateUserPool", "", nil, ""},
		{"signed for a region", "CreateUserPool", "us-east-1", nil, "/us-east-1/cognito-idp/aws4_request"},
		{"refused", "SignUp", "", &cognitoapi.Error{Status: 400, Type: "UsernameExistsException", Message: "User already exists"}, ""},
		{"refused without JSON", "Broken", "", &cognitoapi.Error{Status: 500, Message: "not json"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cognitoapi.Client{URL: srv.URL + "/", HTTP: srv.Client(), SigningRegion: tt.region}
			var out struct{ UserPool struct{ Id string } }
			err := c.Call(t.Context(), tt.action, map[string]string{"PoolName": "p"}, &out)
			if got.Method != http.MethodPost || got.URL.Path != "/" || gotBody != `{"PoolName":"p"}` ||
				got.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
				t.Errorf("sent %s %s %q content-type %q", got.Method, got.URL.Path, gotBody, got.Header.Get("Content-Type"))
			}
			if auth := got.Header.Get("Authorization"); (tt.wantAuthScope == "") != (auth == "") || !strings.Contains(auth, tt.wantAuthScope) {
				t.Errorf("Authorization %q, want one with %q", auth, tt.wantAuthScope)
			}
			if tt.wantErr == nil {
				if err != nil || out.UserPool.Id != "local_1" {
					t.Fatalf("Call = %v, decoded %+v", err, out)
				}
				return
			}
			var apiErr *cognitoapi.Error
			if !errors.As(err, &apiErr) || *apiErr != *tt.wantErr {
				t.Fatalf("Call error %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestCreateUser(t *testing.T) {
	tests := []struct {
		name        string
		created     string // AdminCreateUser's answer
		groups      []string
		wantSub     string // "" wants an error
		wantActions []string
	}{
		{"confirmed, in its groups", `{"User":{"Attributes":[{"Name":"email","Value":"a@example.com"},{"Name":"sub","Value":"s-1"}]}}`,
			[]string{"admin", "ops"}, "s-1", []string{"AdminCreateUser", "AdminSetUserPassword", "AdminAddUserToGroup", "AdminAddUserToGroup"}},
		{"no groups", `{"User":{"Attributes":[{"Name":"sub","Value":"s-2"}]}}`, nil, "s-2",
			[]string{"AdminCreateUser", "AdminSetUserPassword"}},
		{"created without a sub", `{"User":{"Attributes":[]}}`, nil, "", []string{"AdminCreateUser"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var actions []string
			var createBody map[string]any
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				action := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), cognitoapi.TargetPrefix)
				actions = append(actions, action)
				if action == "AdminCreateUser" {
					_ = json.NewDecoder(r.Body).Decode(&createBody)
					io.WriteString(w, tt.created)
					return
				}
				io.WriteString(w, `{}`)
			}))
			defer srv.Close()
			c := cognitoapi.Client{URL: srv.URL + "/", HTTP: srv.Client()}
			sub, err := c.CreateUser(t.Context(), "local_1", cognitoapi.User{Username: "alice", Password: "Alice-passw0rd",
				Attributes: []cognitoapi.Attribute{{Name: "email", Value: "a@example.com"}}, Groups: tt.groups})
			if sub != tt.wantSub || (err != nil) != (tt.wantSub == "") {
				t.Errorf("CreateUser = %q, %v; want sub %q", sub, err, tt.wantSub)
			}
			if !slices.Equal(actions, tt.wantActions) {
				t.Errorf("called %v, want %v", actions, tt.wantActions)
			}
			attrs, _ := json.Marshal(createBody["UserAttributes"])
			if createBody["MessageAction"] != "SUPPRESS" || string(attrs) != `[{"Name":"email","Value":"a@example.com"}]` {
				t.Errorf("AdminCreateUser sent %v, want no welcome message and the attributes", createBody)
			}
		})
	}
}
