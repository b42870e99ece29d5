package bench

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/cognito-authz/cognito-authz/testenv/backend"
)

func TestDescribeAuthz(t *testing.T) {
	tests := []struct {
		opts StackOptions
		want string
	}{
		{StackOptions{}, "inside the bench process"},
		{StackOptions{AuthzBinary: "bin/cognito-authz", AuthzProcs: 1}, "own process (bin/cognito-authz), GOMAXPROCS=1"},
		{StackOptions{AuthzBinary: "bin/cognito-authz"}, fmt.Sprintf("own process (bin/cognito-authz), GOMAXPROCS=%d (Go's default)", runtime.NumCPU())},
	}
	for _, tt := range tests {
		if got := tt.opts.DescribeAuthz(); got != tt.want {
			t.Errorf("%+v.DescribeAuthz() = %q, want %q", tt.opts, got, tt.want)
		}
	}
}

// A gate stands in for a setup's Envoy in front of the real backend: it sets the identity headers
// the setup would, or answers on its own with a status other than 0.
type gate func(r *http.Request) (status int)

const (
	probeToken = "token-of-user-1"
	probeSub   = "sub-of-user-1"
)

func hasProbeToken(r *http.Request) bool {
	return r.Header.Get("Authorization") == "Bearer "+probeToken
}

var (
	passEverything     gate = func(*http.Request) int { return 0 }
	verifyLikeJWTAuthn gate = func(r *http.Request) int {
		if hasProbeToken(r) {
			r.Header.Set("X-User-Sub", probeSub)
		}
		return 0
	}
	verifyLikeCognitoAuthz gate = func(r *http.Request) int {
		r.Header.Set("X-Auth-Status", "anonymous")
		if hasProbeToken(r) {
			r.Header.Set("X-Auth-Status", "authenticated")
			r.Header.Set("X-User-Sub", probeSub)
		}
		return 0
	}
	answerAnonymous gate = func(r *http.Request) int {
		r.Header.Set("X-Auth-Status", "anonymous")
		return 0
	}
	alwaysAuthenticated gate = func(r *http.Request) int {
		r.Header.Set("X-Auth-Status", "authenticated")
		return verifyLikeJWTAuthn(r)
	}
	denyAnonymous gate = func(r *http.Request) int {
		if !hasProbeToken(r) {
			return http.StatusUnauthorized
		}
		return verifyLikeJWTAuthn(r)
	}
)

// gated serves the backend behind g.
func gated(t *testing.T, g gate) string {
	t.Helper()
	app := backend.New(backend.Options{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status := g(r); status != 0 {
			http.Error(w, http.StatusText(status), status)
			return
		}
		app.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestProbeRefusesASetupThatIsNotWhatItsNameSays(t *testing.T) {
	honest := map[string]gate{
		NoAuth:           passEverything,
		JWTAuthn:         verifyLikeJWTAuthn,
		CognitoAuthz:     verifyLikeCognitoAuthz,
		CognitoAuthzHTTP: verifyLikeCognitoAuthz,
		ExtAuthzFloor:    answerAnonymous,
	}
	tests := []struct {
		name  string
		setup string // the setup whose gate is replaced; "" replaces none
		gate  gate
		want  string // in the error; "" for none
	}{
		{"every setup honest", "", nil, ""},
		{"cognito-authz lets the token through unverified", CognitoAuthz, passEverything,
			`probe cognito-authz (token: true): the app saw x-user-sub "", want "sub-of-user-1"`},
		{"jwt_authn lets the token through unverified", JWTAuthn, passEverything,
			`probe jwt_authn (token: true): the app saw x-user-sub "", want "sub-of-user-1"`},
		{"the floor verifies", ExtAuthzFloor, verifyLikeCognitoAuthz,
			`probe ext_authz-floor (token: true): the app saw x-user-sub "sub-of-user-1", want ""`},
		{"no-auth names a user", NoAuth, verifyLikeJWTAuthn,
			`probe no-auth (token: true): the app saw x-user-sub "sub-of-user-1", want ""`},
		{"the HTTP endpoint sets no x-auth-status", CognitoAuthzHTTP, verifyLikeJWTAuthn,
			`probe cognito-authz-http (token: true): the app saw x-auth-status "", want "authenticated"`},
		{"cognito-authz calls an anonymous caller authenticated", CognitoAuthz, alwaysAuthenticated,
			`probe cognito-authz (token: false): the app saw x-auth-status "authenticated", want "anonymous"`},
		{"jwt_authn refuses a request without a token", JWTAuthn, denyAnonymous,
			"/api/activities/home: 401 Unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Stack{Tokens: []string{probeToken}, subs: []string{probeSub}}
			for _, name := range []string{NoAuth, JWTAuthn, CognitoAuthz, CognitoAuthzHTTP, ExtAuthzFloor} {
				g := honest[name]
				if name == tt.setup {
					g = tt.gate
				}
				s.Setups = append(s.Setups, Setup{Name: name, BaseURL: gated(t, g)})
			}
			err := s.Probe(t.Context())
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Probe = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Probe = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
