package forwardauth_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/authz"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/forwardauth"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/http1"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/policy"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/reason"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/tokensource"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/verifier"
	"github.com/cognito-authz/cognito-authz/internal/testkit"
)

// tokens are what the stand-in verifier knows: the Check service's own tests cover verification;
// these cover the translation to and from HTTP.
var tokens = map[string]*verifier.Claims{
	"admin-token": {Subject: "sub-admin", Username: "ada", Groups: []string{"admin"}, Scopes: []string{"openid"}, ClientID: "c1", TokenUse: verifier.TokenUseAccess},
	"user-token":  {Subject: "sub-user", Username: "bob", Scopes: []string{"openid"}, ClientID: "c1", TokenUse: verifier.TokenUseAccess},
}

var failures = map[string]reason.Code{
	"expired-token":  reason.Expired,
	"keys-are-down!": reason.JWKSUnavailable,
}

type standInVerifier struct{}

func (standInVerifier) VerifySlot(_ context.Context, token string) (*verifier.Claims, *verifier.Slot[authz.Answer], error) {
	if c, ok := tokens[token]; ok {
		return c, nil, nil
	}
	if why, ok := failures[token]; ok {
		return nil, nil, &verifier.Error{Reason: why, Message: "stand-in"}
	}
	return nil, nil, &verifier.Error{Reason: reason.BadSignature, Message: "stand-in"}
}

func newService(t testing.TB) *authz.Server {
	t.Helper()
	s, err := authz.New(authz.Options{
		Verifier: standInVerifier{},
		Policy: policy.Config{
			Default:      policy.AuthOptional,
			InvalidToken: policy.InvalidTokenAnonymous,
			Rules: []policy.Rule{
				{PathPrefix: "/healthz", Auth: policy.AuthOff},
				{PathPrefix: "/api/admin", Auth: policy.AuthRequired, GroupsAny: []string{"admin"}},
				{PathPrefix: "/api/write", Methods: []string{"POST"}, Auth: policy.AuthRequired},
			},
		},
		TokenSources: tokensource.Config{AuthorizationHeader: true, Cookies: []string{"access_token"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type answer struct {
	status int
	header http.Header
	body   string
}

func TestForwardAuth(t *testing.T) {
	tests := []struct {
		name           string
		method, target string
		headers        [][2]string
		wantStatus     int
		wantHeaders    map[string]string // "" means absent
		wantRemoved    []string
		wantBody       string
		// forwardedOnly: the handler of a proxy that must send the forwarded headers (the
		// default); otherwise it is Envoy's, whose request is the original (RequestIsOriginal).
		forwardedOnly bool
	}{
		{
			name: "no token on an optional route is anonymous", method: "GET", target: "/api/activities/home",
			wantStatus:  200,
			wantHeaders: map[string]string{"X-Auth-Status": "anonymous", "X-Auth-Reason": "missing", "X-User-Sub": ""},
			wantRemoved: []string{"x-user-sub", "x-user-groups"},
		},
		{
			name: "a valid token sets the identity headers", method: "GET", target: "/api/activities/home",
			headers:     [][2]string{{"Authorization", "Bearer admin-token"}},
			wantStatus:  200,
			wantHeaders: map[string]string{"X-Auth-Status": "authenticated", "X-User-Sub": "sub-admin", "X-User-Groups": "admin", "X-User-Name": "ada", "X-Auth-Reason": ""},
			wantRemoved: []string{"x-user-email", "x-auth-reason"},
		},
		{
			name: "nginx: X-Original-URI names a required route", method: "GET", target: "/auth", forwardedOnly: true,
			headers:     [][2]string{{"X-Original-URI", "/api/admin/users"}, {"X-Original-Method", "GET"}},
			wantStatus:  401,
			wantHeaders: map[string]string{"Www-Authenticate": `Bearer realm="cognito-authz"`, "Content-Type": "application/json", "X-Auth-Status": ""},
			wantBody:    `{"error":"unauthenticated","reason":"missing"}`,
		},
		{
			name: "Traefik: X-Forwarded-Uri with a query names a required route", method: "GET", target: "/", forwardedOnly: true,
			headers:     [][2]string{{"X-Forwarded-Uri", "/api/admin?page=2"}, {"X-Forwarded-Method", "GET"}, {"Authorization", "Bearer expired-token"}},
			wantStatus:  401,
			wantHeaders: map[string]string{"Www-Authenticate": `Bearer realm="cognito-authz", error="invalid_token", error_description="expired"`},
			wantBody:    `{"error":"unauthenticated","reason":"expired"}`,
		},
		{
			name: "Envoy: the request's own path, a user outside the group", method: "GET", target: "/api/admin",
			headers:     [][2]string{{"Authorization", "Bearer user-token"}},
			wantStatus:  403,
			wantHeaders: map[string]string{"Www-Authenticate": `Bearer realm="cognito-authz", error="insufficient_scope", error_description="insufficient_group"`},
			wantBody:    `{"error":"forbidden","reason":"insufficient_group"}`,
		},
		{
			name: "keys that cannot be had on a required route", method: "GET", target: "/api/admin",
			headers:    [][2]string{{"Authorization", "Bearer keys-are-down!"}},
			wantStatus: 503,
			wantBody:   `{"error":"unavailable","reason":"jwks_unavailable"}`,
		},
		{
			name: "X-Forwarded-Method decides the rule, not the subrequest's GET", method: "GET", target: "/auth",
			headers:    [][2]string{{"X-Forwarded-Uri", "/api/write"}, {"X-Forwarded-Method", "POST"}},
			wantStatus: 401,
		},
		{
			name: "X-Original-Method likewise", method: "GET", target: "/auth",
			headers:    [][2]string{{"X-Original-URI", "/api/write"}, {"X-Original-Method", "POST"}},
			wantStatus: 401,
		},
		{
			name: "the same rule with GET is optional", method: "GET", target: "/auth",
			headers:     [][2]string{{"X-Original-URI", "/api/write"}, {"X-Original-Method", "GET"}},
			wantStatus:  200,
			wantHeaders: map[string]string{"X-Auth-Status": "anonymous"},
		},
		{
			name: "auth off: nothing set, every owned header removed", method: "GET", target: "/healthz",
			wantStatus:  200,
			wantHeaders: map[string]string{"X-Auth-Status": ""},
			wantRemoved: []string{"x-auth-status", "x-auth-reason", "x-user-sub"},
		},
		{
			name: "a token in a cookie, over two Cookie headers", method: "GET", target: "/api/admin",
			headers:     [][2]string{{"Cookie", "theme=dark"}, {"Cookie", "access_token=admin-token"}},
			wantStatus:  200,
			wantHeaders: map[string]string{"X-Auth-Status": "authenticated", "X-User-Sub": "sub-admin"},
		},
		{
			name: "both path headers, agreeing", method: "GET", target: "/auth",
			headers:    [][2]string{{"X-Forwarded-Uri", "/api/admin"}, {"X-Original-URI", "/api/admin"}, {"X-Forwarded-Method", "GET"}},
			wantStatus: 401,
		},
		{
			name: "path headers that disagree are refused, whichever is the client's", method: "GET", target: "/auth",
			headers:    [][2]string{{"X-Forwarded-Uri", "/public"}, {"X-Original-URI", "/api/admin"}, {"Authorization", "Bearer user-token"}},
			wantStatus: 400,
			wantBody:   `{"error":"bad_request","reason":"conflicting X-Forwarded-Uri / X-Original-URI"}`,
		},
		{
			name: "a path header sent twice is refused", method: "GET", target: "/auth",
			headers:    [][2]string{{"X-Forwarded-Uri", "/public"}, {"X-Forwarded-Uri", "/api/admin"}},
			wantStatus: 400,
		},
		{
			name: "method headers that disagree are refused", method: "GET", target: "/auth",
			headers:    [][2]string{{"X-Forwarded-Method", "GET"}, {"X-Original-Method", "POST"}},
			wantStatus: 400,
		},
		{
			name: "no forwarded header: refused, not judged by the endpoint's own path", method: "GET", target: "/", forwardedOnly: true,
			wantStatus: 400,
			wantBody:   `{"error":"bad_request","reason":"no X-Forwarded-Uri / X-Original-URI: which request to check? (set http_request_is_original when the proxy sends the original request itself)"}`,
		},
		{
			name: "no forwarded header, the endpoint's own path under a rule: refused", method: "GET", target: "/api/admin", forwardedOnly: true,
			headers:    [][2]string{{"Authorization", "Bearer admin-token"}},
			wantStatus: 400,
		},
		{
			name: "empty forwarded headers are none", method: "GET", target: "/auth", forwardedOnly: true,
			headers:    [][2]string{{"X-Forwarded-Uri", ""}, {"X-Forwarded-Method", ""}},
			wantStatus: 400,
		},
		{
			name: "an empty X-Forwarded-Method is missing: a path without a method is refused", method: "GET", target: "/auth", forwardedOnly: true,
			headers:    [][2]string{{"X-Forwarded-Uri", "/api/write"}, {"X-Forwarded-Method", ""}},
			wantStatus: 400,
			wantBody:   `{"error":"bad_request","reason":"X-Forwarded-Uri / X-Original-URI without X-Forwarded-Method / X-Original-Method"}`,
		},
		{
			name: "an empty X-Forwarded-Method gives way to X-Original-Method", method: "GET", target: "/auth", forwardedOnly: true,
			headers:    [][2]string{{"X-Forwarded-Uri", "/api/write"}, {"X-Forwarded-Method", ""}, {"X-Original-Method", "POST"}},
			wantStatus: 401,
		},
		{
			name: "a method without a path is refused", method: "GET", target: "/api/activities/home", forwardedOnly: true,
			headers:    [][2]string{{"X-Forwarded-Method", "GET"}},
			wantStatus: 400,
		},
		{
			name: "Envoy's request with half the forwarded headers is refused too", method: "GET", target: "/api/activities/home",
			headers:    [][2]string{{"X-Forwarded-Uri", "/api/activities/home"}},
			wantStatus: 400,
		},
	}
	service := newService(t)
	envoy := forwardauth.New(service, forwardauth.Options{RequestIsOriginal: true})
	forwardedOnly := forwardauth.New(service, forwardauth.Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			handler := envoy
			if tt.forwardedOnly {
				handler = forwardedOnly
			}
			got := serve(t, handler, tt.method, tt.target, tt.headers)
			if got.status != tt.wantStatus {
				t.Fatalf("status %d, want %d (body %s)", got.status, tt.wantStatus, got.body)
			}
			for name, want := range tt.wantHeaders {
				if v := got.header.Get(name); v != want {
					t.Errorf("%s: %q, want %q", name, v, want)
				}
			}
			removed := strings.Split(got.header.Get(forwardauth.HeaderHeadersToRemove), ",")
			for _, name := range tt.wantRemoved {
				if !slices.Contains(removed, name) {
					t.Errorf("%s not in %s: %q", name, forwardauth.HeaderHeadersToRemove, removed)
				}
			}
			for _, opt := range setHeaders(got) {
				if slices.Contains(removed, opt) {
					t.Errorf("%s both set and removed", opt)
				}
			}
			if tt.wantBody != "" && got.body != tt.wantBody {
				t.Errorf("body %s, want %s", got.body, tt.wantBody)
			}
			if got.status >= 400 && !json.Valid([]byte(got.body)) {
				t.Errorf("denial body is not JSON: %q", got.body)
			}
			if got.status != 400 {
				sameAsCheck(t, service, tt.method, tt.target, tt.headers, got)
			}
		})
	}
}

// serve sends one request, its header lines exactly as given, to h's server over loopback. An
// absolute target names the Host; otherwise it is example.com.
func serve(t *testing.T, h *forwardauth.Handler, method, target string, headers [][2]string) answer {
	t.Helper()
	host := "example.com"
	if u, err := url.Parse(target); err == nil && u.Host != "" {
		host, target = u.Host, u.RequestURI()
	}
	var head strings.Builder
	fmt.Fprintf(&head, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, target, host)
	for _, kv := range headers {
		fmt.Fprintf(&head, "%s: %s\r\n", kv[0], kv[1])
	}
	head.WriteString("\r\n")
	return roundTrip(t, startServer(t, h), method, head.String())
}

// startServer serves h on a loopback port until the test ends, and returns the address.
func startServer(t testing.TB, h *forwardauth.Handler) string {
	t.Helper()
	return testkit.ServeLoopback(t, forwardauth.NewServer(h, forwardauth.Timeouts{Head: 5 * time.Second, Idle: time.Minute, Write: 5 * time.Second}, zaptest.NewLogger(t)))
}

// roundTrip writes head on a new connection to addr and reads one answer.
func roundTrip(t testing.TB, addr, method, head string) answer {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: res.StatusCode, header: res.Header, body: string(body)}
}

// setHeaders are the owned headers an allowed answer sets.
func setHeaders(a answer) []string {
	var out []string
	for name := range a.header {
		name = strings.ToLower(name)
		if strings.HasPrefix(name, "x-user-") || strings.HasPrefix(name, "x-auth-") {
			out = append(out, name)
		}
	}
	return out
}

// sameAsCheck asks Check itself the question as Envoy's gRPC filter would put it, and compares.
func sameAsCheck(t *testing.T, s *authz.Server, method, target string, headers [][2]string, got answer) {
	t.Helper()
	path, verb := target, method
	h := map[string]string{}
	for _, kv := range headers {
		name := strings.ToLower(kv[0])
		switch name {
		case "x-forwarded-uri", "x-original-uri":
			path = kv[1]
		case "x-forwarded-method", "x-original-method":
			verb = kv[1]
		}
		if prev, ok := h[name]; ok {
			sep := ","
			if name == "cookie" {
				sep = "; "
			}
			h[name] = prev + sep + kv[1]
		} else {
			h[name] = kv[1]
		}
	}
	resp, err := s.Check(context.Background(), &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{Method: verb, Path: path, Headers: h}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if ok := resp.GetOkResponse(); ok != nil {
		if got.status != 200 {
			t.Fatalf("Check allows, the HTTP endpoint answers %d", got.status)
		}
		for _, opt := range ok.GetHeaders() {
			if v := got.header.Get(opt.GetHeader().GetKey()); v != opt.GetHeader().GetValue() {
				t.Errorf("%s: HTTP %q, Check %q", opt.GetHeader().GetKey(), v, opt.GetHeader().GetValue())
			}
		}
		if want := strings.Join(ok.GetHeadersToRemove(), ","); got.header.Get(forwardauth.HeaderHeadersToRemove) != want {
			t.Errorf("removed: HTTP %q, Check %q", got.header.Get(forwardauth.HeaderHeadersToRemove), want)
		}
		return
	}
	d := resp.GetDeniedResponse()
	if int(d.GetStatus().GetCode()) != got.status || d.GetBody() != got.body {
		t.Errorf("Check denies %d %s, the HTTP endpoint %d %s", d.GetStatus().GetCode(), d.GetBody(), got.status, got.body)
	}
	for _, opt := range d.GetHeaders() {
		if v := got.header.Get(opt.GetHeader().GetKey()); v != opt.GetHeader().GetValue() {
			t.Errorf("%s: HTTP %q, Check %q", opt.GetHeader().GetKey(), v, opt.GetHeader().GetValue())
		}
	}
}

// deadlineChecker records the deadline of the context Check was given.
type deadlineChecker struct{ left time.Duration }

func (d *deadlineChecker) Check(ctx context.Context, _ *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		d.left = -1
	} else {
		d.left = time.Until(deadline)
	}
	return &authv3.CheckResponse{}, nil
}

// waitingChecker waits for its context to end, as a check waiting on Cognito or on a key fetch
// does, and records why it ended.
type waitingChecker struct{ err error }

func (w *waitingChecker) Check(ctx context.Context, _ *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	<-ctx.Done()
	w.err = ctx.Err()
	return &authv3.CheckResponse{}, nil
}

// A check that waits is ended by the deadline Envoy sends, so the proxy gets an answer in time.
func TestAWaitingCheckEndsAtItsDeadline(t *testing.T) {
	checker := &waitingChecker{}
	h := forwardauth.New(checker, forwardauth.Options{RequestIsOriginal: true})
	r := &http1.Request{Method: http.MethodGet, Target: "/api/ping", Host: "authz", Fields: []http1.Field{
		{Name: "host", Value: "authz"}, {Name: "x-envoy-expected-rq-timeout-ms", Value: "50"},
	}}
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		h.ServeHTTP1(r, &http1.Response{})
	}()
	select {
	case <-answered:
	case <-time.After(10 * time.Second):
		t.Fatal("a check waiting on its context was not ended by a 50ms deadline within 10s")
	}
	if !errors.Is(checker.err, context.DeadlineExceeded) {
		t.Fatalf("the waiting check ended with %v, want %v", checker.err, context.DeadlineExceeded)
	}
}

func TestEveryCheckHasADeadline(t *testing.T) {
	tests := []struct {
		name     string
		expected string // X-Envoy-Expected-Rq-Timeout-Ms; "" sends none
		atMost   time.Duration
		over     time.Duration // the deadline is later than this
	}{
		{name: "nginx and Traefik send no timeout", atMost: forwardauth.MaxCheckTime, over: forwardauth.MaxCheckTime / 2},
		{name: "Envoy's shorter timeout", expected: "250", atMost: 250 * time.Millisecond, over: 100 * time.Millisecond},
		{name: "a longer timeout is bounded", expected: "60000", atMost: forwardauth.MaxCheckTime, over: forwardauth.MaxCheckTime / 2},
		{name: "junk is ignored", expected: "soon", atMost: forwardauth.MaxCheckTime, over: forwardauth.MaxCheckTime / 2},
		{name: "zero is ignored", expected: "0", atMost: forwardauth.MaxCheckTime, over: forwardauth.MaxCheckTime / 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checker := &deadlineChecker{}
			var headers [][2]string
			if tt.expected != "" {
				headers = [][2]string{{forwardauth.HeaderExpectedTimeout, tt.expected}}
			}
			serve(t, forwardauth.New(checker, forwardauth.Options{RequestIsOriginal: true}), http.MethodGet, "/api/activities/home", headers)
			if checker.left < 0 {
				t.Fatal("Check got a context with no deadline")
			}
			if checker.left > tt.atMost || checker.left <= tt.over {
				t.Errorf("deadline %v away, want in (%v, %v]", checker.left, tt.over, tt.atMost)
			}
		})
	}
}
