package tokensource_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/tokensource"
)

const (
	tokenA = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnQQ"
	tokenB = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJiIn0.c2lnQg"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     tokensource.Config
		wantErr string
	}{
		{"authorization header only", tokensource.Config{AuthorizationHeader: true}, ""},
		{"every source", tokensource.Config{AuthorizationHeader: true, Headers: []string{"x-access-token"}, Cookies: []string{"access_token"},
			AmplifyCookies: true, AmplifyClientIDs: []string{"abc123"}, AmplifyTokenUse: "id"}, ""},
		{"nothing enabled", tokensource.Config{}, "token_sources: no source is enabled"},
		{"upper-case header", tokensource.Config{Headers: []string{"x-a", "X-Token"}}, `token_sources.headers[1]: "X-Token" must be lower-case`},
		{"header with a space", tokensource.Config{Headers: []string{"x token"}}, `token_sources.headers[0]: "x token" is not a header name`},
		{"pseudo header", tokensource.Config{Headers: []string{":path"}}, `token_sources.headers[0]: ":path" is not a header name`},
		{"empty header", tokensource.Config{Headers: []string{""}}, `token_sources.headers[0]: "" is not a header name`},
		{"authorization as a plain header", tokensource.Config{Headers: []string{"authorization"}}, `token_sources.headers[0]: "authorization" is read by authorization_header`},
		{"cookie as a plain header", tokensource.Config{Headers: []string{"cookie"}}, `token_sources.headers[0]: "cookie" is read by cookies`},
		{"cookie name with =", tokensource.Config{Cookies: []string{"a=b"}}, `token_sources.cookies[0]: "a=b" is not a cookie name`},
		{"amplify without client ids", tokensource.Config{AmplifyCookies: true}, "token_sources.amplify_cookies: no client ids"},
		{"amplify with a bad client id", tokensource.Config{AmplifyCookies: true, AmplifyClientIDs: []string{"a;b"}}, `client id "a;b" cannot be part of a cookie name`},
		{"amplify with an unknown token use", tokensource.Config{AmplifyCookies: true, AmplifyClientIDs: []string{"c"}, AmplifyTokenUse: "refresh"}, `unknown token_use "refresh"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				if _, err := tokensource.New(tt.cfg); err != nil {
					t.Fatalf("New() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
			if _, err := tokensource.New(tt.cfg); err == nil {
				t.Fatal("New() accepted a config Validate rejects")
			}
		})
	}
}

func TestFind(t *testing.T) {
	all := tokensource.Config{
		AuthorizationHeader: true,
		Headers:             []string{"x-access-token", "x-other-token"},
		Cookies:             []string{"access_token"},
		AmplifyCookies:      true,
		AmplifyClientIDs:    []string{"client1", "client2"},
	}
	amplifyOnly := tokensource.Config{AmplifyCookies: true, AmplifyClientIDs: []string{"client1"}}
	amplifyID := tokensource.Config{AmplifyCookies: true, AmplifyClientIDs: []string{"client1"}, AmplifyTokenUse: "id"}
	cookiesOnly := tokensource.Config{Cookies: []string{"access_token"}}
	headerOnly := tokensource.Config{Headers: []string{"x-access-token"}}

	tests := []struct {
		name       string
		cfg        tokensource.Config
		headers    map[string]string
		wantToken  string
		wantFound  bool
		wantSource string // source named in the error; empty: no error
	}{
		{"no headers at all", all, nil, "", false, ""},
		{"unrelated headers", all, map[string]string{"accept": "*/*"}, "", false, ""},
		{"bearer", all, map[string]string{"authorization": "Bearer " + tokenA}, tokenA, true, ""},
		{"scheme is case-insensitive", all, map[string]string{"authorization": "bEaReR " + tokenA}, tokenA, true, ""},
		{"several spaces and a tab", all, map[string]string{"authorization": "Bearer \t " + tokenA + " "}, tokenA, true, ""},
		{"bearer with no token", all, map[string]string{"authorization": "Bearer"}, "", true, "authorization header"},
		{"bearer with only spaces", all, map[string]string{"authorization": "Bearer   "}, "", true, "authorization header"},
		{"two bearer headers joined by Envoy", all, map[string]string{"authorization": "Bearer " + tokenA + ",Bearer " + tokenB}, "", true, "authorization header"},
		{"basic and bearer joined", all, map[string]string{"authorization": "Basic dXNlcjpwdw==, Bearer " + tokenA}, "", true, "authorization header"},
		{"comma inside the token", all, map[string]string{"authorization": "Bearer " + tokenA + "," + tokenB}, "", true, "authorization header"},
		{"space inside the token", all, map[string]string{"authorization": "Bearer abc def"}, "", true, "authorization header"},
		{"basic is not ours: next source", all, map[string]string{"authorization": "Basic dXNlcjpwdw==", "x-access-token": tokenB}, tokenB, true, ""},
		{"bearer-like scheme is not bearer", all, map[string]string{"authorization": "Bearerx " + tokenA}, "", false, ""},
		{"two basic headers are not ours", all, map[string]string{"authorization": "Basic a, Basic b"}, "", false, ""},
		{"authorization wins over a custom header", all, map[string]string{"authorization": "Bearer " + tokenA, "x-access-token": tokenB}, tokenA, true, ""},
		{"authorization source disabled", headerOnly, map[string]string{"authorization": "Bearer " + tokenA}, "", false, ""},
		{"odd header casing", all, map[string]string{"Authorization": "Bearer " + tokenA}, tokenA, true, ""},
		{"odd header casing, repeated", all, map[string]string{"Authorization": "Bearer " + tokenA, "AUTHORIZATION": "Bearer " + tokenB}, "", true, "authorization header"},

		{"custom header, raw token", all, map[string]string{"x-access-token": tokenB}, tokenB, true, ""},
		{"custom header with bearer prefix", all, map[string]string{"x-access-token": "Bearer " + tokenB}, tokenB, true, ""},
		{"custom headers in order", all, map[string]string{"x-other-token": tokenA, "x-access-token": tokenB}, tokenB, true, ""},
		{"empty custom header is no credential", all, map[string]string{"x-access-token": " ", "x-other-token": tokenA}, tokenA, true, ""},
		{"repeated custom header", all, map[string]string{"x-access-token": tokenA + "," + tokenB}, "", true, "header x-access-token"},
		{"custom header with inner space", headerOnly, map[string]string{"x-access-token": "abc def"}, "", true, "header x-access-token"},
		{"custom header, bearer without token", headerOnly, map[string]string{"x-access-token": "Bearer"}, "", true, "header x-access-token"},

		{"cookie", cookiesOnly, map[string]string{"cookie": "theme=dark; access_token=" + tokenA + "; lang=en"}, tokenA, true, ""},
		{"quoted cookie", cookiesOnly, map[string]string{"cookie": `access_token="` + tokenA + `"`}, tokenA, true, ""},
		{"cookie with junk around it", cookiesOnly, map[string]string{"cookie": ";;junk; =x; ==; access_token=" + tokenA + "; ; a"}, tokenA, true, ""},
		{"only junk", cookiesOnly, map[string]string{"cookie": ";; junk ;=;\x00\xff"}, "", false, ""},
		{"cookie name is case-sensitive", cookiesOnly, map[string]string{"cookie": "Access_Token=" + tokenA}, "", false, ""},
		{"cookie name is not a suffix match", cookiesOnly, map[string]string{"cookie": "xaccess_token=" + tokenA}, "", false, ""},
		{"first non-empty cookie wins", cookiesOnly, map[string]string{"cookie": "access_token=; access_token=" + tokenA + "; access_token=" + tokenB}, tokenA, true, ""},
		{"empty cookie is no credential", cookiesOnly, map[string]string{"cookie": "access_token="}, "", false, ""},
		{"comma-joined cookie headers", cookiesOnly, map[string]string{"cookie": "a=1, access_token=" + tokenA}, tokenA, true, ""},
		{"cookie value with a space", cookiesOnly, map[string]string{"cookie": `access_token="abc def"`}, "", true, "cookie access_token"},
		{"cookie value with an encoded comma", cookiesOnly, map[string]string{"cookie": "access_token=" + tokenA + "%2C" + tokenB}, "", true, "cookie access_token"},
		{"amplify cookie with an encoded comma", amplifyOnly, map[string]string{"cookie": "CognitoIdentityServiceProvider.client1.LastAuthUser=u; " +
			"CognitoIdentityServiceProvider.client1.u.accessToken=" + tokenA + "%2c" + tokenB}, "", true, "amplify cookie"},
		{"header wins over cookie", all, map[string]string{"x-access-token": tokenB, "cookie": "access_token=" + tokenA}, tokenB, true, ""},
		{"cookie source disabled", headerOnly, map[string]string{"cookie": "access_token=" + tokenA}, "", false, ""},

		{"amplify access token", amplifyOnly, map[string]string{"cookie": "CognitoIdentityServiceProvider.client1.LastAuthUser=alice; " +
			"CognitoIdentityServiceProvider.client1.alice.idToken=" + tokenB + "; CognitoIdentityServiceProvider.client1.alice.accessToken=" + tokenA}, tokenA, true, ""},
		{"amplify id token", amplifyID, map[string]string{"cookie": "CognitoIdentityServiceProvider.client1.LastAuthUser=alice; " +
			"CognitoIdentityServiceProvider.client1.alice.accessToken=" + tokenA + "; CognitoIdentityServiceProvider.client1.alice.idToken=" + tokenB}, tokenB, true, ""},
		{"amplify picks the last auth user", amplifyOnly, map[string]string{"cookie": "CognitoIdentityServiceProvider.client1.bob.accessToken=" + tokenB +
			"; CognitoIdentityServiceProvider.client1.LastAuthUser=alice; CognitoIdentityServiceProvider.client1.alice.accessToken=" + tokenA}, tokenA, true, ""},
		{"amplify encoded user name", amplifyOnly, map[string]string{"cookie": "CognitoIdentityServiceProvider.client1.LastAuthUser=alice%40example.com; " +
			"CognitoIdentityServiceProvider.client1.alice%40example.com.accessToken=" + tokenA}, tokenA, true, ""},
		{"amplify second client", all, map[string]string{"cookie": "CognitoIdentityServiceProvider.client2.LastAuthUser=u; CognitoIdentityServiceProvider.client2.u.accessToken=" + tokenB}, tokenB, true, ""},
		{"amplify unknown client", amplifyOnly, map[string]string{"cookie": "CognitoIdentityServiceProvider.other.LastAuthUser=u; CognitoIdentityServiceProvider.other.u.accessToken=" + tokenB}, "", false, ""},
		{"amplify user without token cookie", amplifyOnly, map[string]string{"cookie": "CognitoIdentityServiceProvider.client1.LastAuthUser=alice"}, "", false, ""},
		{"amplify token without last auth user", amplifyOnly, map[string]string{"cookie": "CognitoIdentityServiceProvider.client1.alice.accessToken=" + tokenA}, "", false, ""},
		{"plain cookie wins over amplify", all, map[string]string{"cookie": "CognitoIdentityServiceProvider.client1.LastAuthUser=u; CognitoIdentityServiceProvider.client1.u.accessToken=" + tokenB + "; access_token=" + tokenA}, tokenA, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := tokensource.New(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			token, found, err := f.Find(tt.headers)
			if token != tt.wantToken || found != tt.wantFound {
				t.Fatalf("Find() = %q, %v, %v; want %q, %v", token, found, err, tt.wantToken, tt.wantFound)
			}
			if tt.wantSource == "" {
				if err != nil {
					t.Fatalf("Find() error = %v, want nil", err)
				}
				return
			}
			var e *tokensource.Error
			if !errors.As(err, &e) || e.Source != tt.wantSource {
				t.Fatalf("Find() error = %#v, want a *tokensource.Error from %q", err, tt.wantSource)
			}
			for _, secret := range []string{tokenA, tokenB, "abc def", "dXNlcjpwdw=="} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error %q repeats the credential", err)
				}
			}
		})
	}
}

func BenchmarkFindAuthorization(b *testing.B) {
	f, err := tokensource.New(tokensource.Config{AuthorizationHeader: true, Cookies: []string{"access_token"}})
	if err != nil {
		b.Fatal(err)
	}
	headers := map[string]string{":path": "/", "accept": "*/*", "authorization": "Bearer " + tokenA}
	b.ReportAllocs()
	for b.Loop() {
		if _, found, _ := f.Find(headers); !found {
			b.Fatal("not found")
		}
	}
}
