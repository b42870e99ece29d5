package envoyconf_test

import (
	"context"
	"encoding/json"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/cognito-authz/cognito-authz/testenv/backend"
	"github.com/cognito-authz/cognito-authz/testenv/envoyconf"
	"github.com/cognito-authz/cognito-authz/testenv/envoyproc"
	"github.com/cognito-authz/cognito-authz/testenv/issuer"
)

// probeAuthz is a stand-in ext_authz server that records what Envoy asks and answers by fixed
// rules, so these tests can check the Envoy configuration without cognito-authz itself. Envoy
// sends it only the Authorization and Cookie headers (allowed_headers), so the test's own
// instructions ride in cookies:
//
//	authorization: Bearer good   OK, sets x-auth-status: authenticated and x-user-sub: sub-1
//	cookie probe=slow            never answers (until Envoy gives up)
//	cookie probe=error           a gRPC error
//	context auth=required        denied 401 with WWW-Authenticate
//	otherwise                    OK, sets x-auth-status: anonymous and removes x-user-sub
type probeAuthz struct {
	authv3.UnimplementedAuthorizationServer
	mu    sync.Mutex
	calls map[string]*authv3.CheckRequest // by the probe-id cookie
}

func startProbeAuthz(t *testing.T) (*probeAuthz, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &probeAuthz{calls: map[string]*authv3.CheckRequest{}}
	srv := grpc.NewServer()
	authv3.RegisterAuthorizationServer(srv, p)
	healthpb.RegisterHealthServer(srv, health.NewServer()) // SERVING
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	return p, l.Addr().String()
}

func (p *probeAuthz) call(id string) *authv3.CheckRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[id]
}

func header(key, value string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: key, Value: value},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}

func (p *probeAuthz) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	h := probeHeaders(req)
	cookies := probeCookies(h["cookie"])
	p.mu.Lock()
	p.calls[cookies["probe-id"]] = req
	p.mu.Unlock()
	switch {
	case cookies["probe"] == "slow":
		<-ctx.Done() // Envoy's timeout cancels the call
		return nil, ctx.Err()
	case cookies["probe"] == "error":
		return nil, grpcstatus.Error(codes.Internal, "probe error")
	case h["authorization"] == "Bearer good":
		return &authv3.CheckResponse{
			Status: &rpcstatus.Status{Code: int32(codes.OK)},
			HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
				Headers: []*corev3.HeaderValueOption{header("x-auth-status", "authenticated"), header("x-user-sub", "sub-1")},
			}},
		}, nil
	case req.GetAttributes().GetContextExtensions()["auth"] == "required":
		return &authv3.CheckResponse{
			Status: &rpcstatus.Status{Code: int32(codes.Unauthenticated)},
			HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
				Status:  &typev3.HttpStatus{Code: typev3.StatusCode_Unauthorized},
				Headers: []*corev3.HeaderValueOption{header("www-authenticate", `Bearer realm="cognito-authz"`)},
				Body:    `{"error":"unauthenticated","reason":"missing"}`,
			}},
		}, nil
	default:
		return &authv3.CheckResponse{
			Status: &rpcstatus.Status{Code: int32(codes.OK)},
			HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
				Headers:         []*corev3.HeaderValueOption{header("x-auth-status", "anonymous")},
				HeadersToRemove: []string{"x-user-sub"},
			}},
		}, nil
	}
}

// probeHeaders are the check's headers, from header_map (encode_raw_headers) or the headers map,
// repeated ones joined as Envoy joins them ("; " for cookie, "," otherwise).
func probeHeaders(req *authv3.CheckRequest) map[string]string {
	hr := req.GetAttributes().GetRequest().GetHttp()
	out := maps.Clone(hr.GetHeaders())
	if out == nil {
		out = map[string]string{}
	}
	for _, hv := range hr.GetHeaderMap().GetHeaders() {
		value := hv.GetValue() + string(hv.GetRawValue())
		if prev, ok := out[hv.GetKey()]; ok {
			sep := ","
			if hv.GetKey() == "cookie" {
				sep = "; "
			}
			value = prev + sep + value
		}
		out[hv.GetKey()] = value
	}
	return out
}

// probeCookies reads the name=value pairs of a Cookie header.
func probeCookies(header string) map[string]string {
	out := map[string]string{}
	for pair := range strings.SplitSeq(header, ";") {
		if name, value, ok := strings.Cut(strings.TrimSpace(pair), "="); ok {
			out[name] = value
		}
	}
	return out
}

// do makes one request through Envoy: headers are set with their names exactly as given (an
// underscore stays an underscore), and a fresh probe-id cookie (after any cookie in headers) tells
// the probe which call it is.
func do(t *testing.T, method, url, id string, headers map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	cookie := "probe-id=" + id
	for k, v := range headers {
		if strings.EqualFold(k, "cookie") {
			cookie = v + "; " + cookie
			continue
		}
		req.Header[k] = []string{v}
	}
	req.Header.Set("Cookie", cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// send is do with GET; the response body is decoded when it is the backend's JSON.
func send(t *testing.T, url, id string, headers map[string]string) (*http.Response, backend.Response) {
	t.Helper()
	resp := do(t, http.MethodGet, url, id, headers)
	var body backend.Response
	if resp.Header.Get("Content-Type") == "application/json" {
		_ = json.NewDecoder(resp.Body).Decode(&body)
	}
	return resp, body
}

func startBackend(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(backend.New(backend.Options{}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func TestExtAuthzRoutesThroughEnvoy(t *testing.T) {
	probe, authzAddr := startProbeAuthz(t)
	envoy := envoyproc.StartTest(t, envoyproc.Config{Backend: startBackend(t), Authz: authzAddr})
	required := map[string]string{"auth": "required", "groups": "admin"}
	tests := []struct {
		name    string
		path    string
		headers map[string]string
		status  int
		// checked: whether cognito-authz was asked, with which path and context_extensions.
		checked     bool
		checkedPath string
		extensions  map[string]string
		// backendHeaders are the values the app must see (nil: the header must not reach it).
		backendHeaders map[string][]string
	}{
		{
			name: "healthz skips the check and drops made-up identity", path: "/healthz",
			headers: map[string]string{"x-user-sub": "forged", "x-auth-status": "authenticated", "x-user-groups": "admin"},
			status:  200, backendHeaders: map[string][]string{"x-user-sub": nil, "x-auth-status": nil, "x-user-groups": nil},
		},
		{
			name: "home without a token is checked as optional", path: backend.HomePath,
			headers: map[string]string{"x-user-sub": "forged"},
			status:  200, checked: true, checkedPath: backend.HomePath, extensions: map[string]string{},
			backendHeaders: map[string][]string{"x-auth-status": {"anonymous"}, "x-user-sub": nil},
		},
		{
			name: "home with a token gets the identity, overwriting a forged one", path: backend.HomePath,
			headers: map[string]string{"authorization": "Bearer good", "x-user-sub": "forged"},
			status:  200, checked: true, checkedPath: backend.HomePath, extensions: map[string]string{},
			backendHeaders: map[string][]string{"x-auth-status": {"authenticated"}, "x-user-sub": {"sub-1"}, "authorization": {"Bearer good"}},
		},
		{
			name: "admin requires auth and group admin", path: "/api/admin/users",
			status: 401, checked: true, checkedPath: "/api/admin/users", extensions: required,
		},
		{
			name: "admin with a token reaches the app", path: "/api/admin/users",
			headers: map[string]string{"authorization": "Bearer good"},
			status:  200, checked: true, checkedPath: "/api/admin/users", extensions: required,
		},
		{
			name: "doubled slashes are merged before routing", path: "/api//admin/users",
			status: 401, checked: true, checkedPath: "/api/admin/users", extensions: required,
		},
		{
			name: "dot segments are resolved before routing", path: "/api/x/../admin/users",
			status: 401, checked: true, checkedPath: "/api/admin/users", extensions: required,
		},
		{name: "encoded slash is refused", path: "/api%2Fadmin/users", status: 400},
		{
			name: "a longer name is not the admin route", path: "/api/administrator",
			status: 404, checked: true, checkedPath: "/api/administrator", extensions: map[string]string{},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "ext-" + string(rune('a'+i))
			resp, body := send(t, envoy.URL()+tt.path, id, tt.headers)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status == 200 && body.Method == "" {
				t.Fatal("200 without the app's JSON body")
			}
			if tt.status == 401 && !strings.HasPrefix(resp.Header.Get("www-authenticate"), "Bearer") {
				t.Errorf("401 without the authz's WWW-Authenticate: %v", resp.Header)
			}
			call := probe.call(id)
			if (call != nil) != tt.checked {
				t.Fatalf("cognito-authz asked: %v, want %v", call != nil, tt.checked)
			}
			if call != nil {
				if got := call.GetAttributes().GetRequest().GetHttp().GetPath(); got != tt.checkedPath {
					t.Errorf("checked path %q, want %q", got, tt.checkedPath)
				}
				// allowed_headers: the token's headers reach the check, nothing else does (the
				// forged x-user-sub, user-agent, x-request-id, pseudo-headers).
				sent := probeHeaders(call)
				for name := range sent {
					if name != "authorization" && name != "cookie" {
						t.Errorf("Envoy sent header %q to the check", name)
					}
				}
				if want := tt.headers["authorization"]; sent["authorization"] != want {
					t.Errorf("the check saw authorization %q, want %q", sent["authorization"], want)
				}
				if !strings.Contains(sent["cookie"], "probe-id="+id) {
					t.Errorf("the check saw cookie %q, want the probe-id cookie", sent["cookie"])
				}
				got := call.GetAttributes().GetContextExtensions()
				if len(got) != len(tt.extensions) {
					t.Errorf("context_extensions %v, want %v", got, tt.extensions)
				}
				for k, v := range tt.extensions {
					if got[k] != v {
						t.Errorf("context_extensions %v, want %v", got, tt.extensions)
					}
				}
			}
			for name, want := range tt.backendHeaders {
				if got := body.Headers[name]; !slices.Equal(got, want) {
					t.Errorf("the app saw %s: %q, want %q", name, got, want)
				}
			}
		})
	}
}

// An escaped letter must not let a request reach the admin handler past the admin check.
func TestEscapedAdminPathIsNotABypass(t *testing.T) {
	_, authzAddr := startProbeAuthz(t)
	envoy := envoyproc.StartTest(t, envoyproc.Config{Backend: startBackend(t), Authz: authzAddr})
	for _, path := range []string{"/api/%61dmin/users", "/api/admin%2fusers", "/API/admin/users", "/api/admin%00/users"} {
		resp, body := send(t, envoy.URL()+path, "escaped", nil)
		if resp.StatusCode == 200 && body.Admin {
			t.Errorf("%s reached the admin handler without the admin check", path)
		}
	}
}

func TestExtAuthzFailsClosed(t *testing.T) {
	_, authzAddr := startProbeAuthz(t)
	envoy := envoyproc.StartTest(t, envoyproc.Config{Backend: startBackend(t), Authz: authzAddr, AuthzTimeout: "0.25s"})
	for _, probe := range []string{"slow", "error"} {
		t.Run(probe, func(t *testing.T) {
			resp, body := send(t, envoy.URL()+backend.HomePath, "fail-"+probe, map[string]string{"cookie": "probe=" + probe})
			if resp.StatusCode != http.StatusServiceUnavailable || body.Method != "" {
				t.Errorf("status %d (app answered: %v), want 503 from Envoy", resp.StatusCode, body.Method != "")
			}
		})
	}
}

func TestJWTAuthnVariantThroughEnvoy(t *testing.T) {
	is := issuer.NewTestServer(t, issuer.Options{PoolID: "local_pool", ClientIDs: []string{"demo-client"}})
	envoy := envoyproc.StartTest(t, envoyproc.Config{
		Filter: envoyconf.JWTAuthn, Backend: startBackend(t), IssuerURL: is.IssuerURL(), JWKSURL: is.JWKSURL(),
	})
	mint := func(spec issuer.TokenSpec) string {
		t.Helper()
		token, err := is.Mint(spec)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + token
	}
	admin, _ := is.SetGroups("root", "admin")
	user, _ := is.User("alice")
	otherKey, err := issuer.NewKey("other")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		auth    string
		status  int
		wantSub string // x-user-sub the app sees; empty: none
	}{
		{"no token: anonymous", backend.HomePath, "", 200, ""},
		{"valid access token", backend.HomePath, mint(issuer.TokenSpec{Username: "alice"}), 200, user.Sub},
		{"valid ID token", backend.HomePath, mint(issuer.TokenSpec{Username: "alice", Use: issuer.ID}), 200, user.Sub},
		{"expired token: anonymous", backend.HomePath, mint(issuer.TokenSpec{Username: "alice", IssuedAt: time.Now().Add(-2 * time.Hour)}), 200, ""},
		{"token of another key: anonymous", backend.HomePath, mint(issuer.TokenSpec{Username: "alice", Key: otherKey}), 200, ""},
		{"healthz", "/healthz", "", 200, ""},
		{"admin without a token", "/api/admin/users", "", 401, ""},
		{"admin, not in group admin", "/api/admin/users", mint(issuer.TokenSpec{Username: "alice"}), 403, ""},
		{"admin, in group admin", "/api/admin/users", mint(issuer.TokenSpec{Username: "root"}), 200, admin.Sub},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Forged identity headers never reach the app: only a verified token sets them.
			headers := map[string]string{"x-user-sub": "forged", "x-jwt-payload": "forged"}
			if tt.auth != "" {
				headers["authorization"] = tt.auth
			}
			resp, body := send(t, envoy.URL()+tt.path, tt.name, headers)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status != 200 {
				return
			}
			if body.Method == "" {
				t.Fatal("200 without the app's JSON body")
			}
			var want []string
			if tt.wantSub != "" {
				want = []string{tt.wantSub}
			}
			if got := body.Headers["x-user-sub"]; !slices.Equal(got, want) {
				t.Errorf("the app saw x-user-sub %q, want %q", got, want)
			}
			if got := body.Headers["x-jwt-payload"]; slices.Contains(got, "forged") || (tt.wantSub != "") != (len(got) == 1) {
				t.Errorf("the app saw x-jwt-payload %q", got)
			}
		})
	}
}

func TestNoAuthVariantThroughEnvoy(t *testing.T) {
	envoy := envoyproc.StartTest(t, envoyproc.Config{Filter: envoyconf.NoAuth, Backend: startBackend(t)})
	for _, path := range []string{"/healthz", backend.HomePath, "/api/admin/users"} {
		resp, body := send(t, envoy.URL()+path, "none", nil)
		if resp.StatusCode != http.StatusOK || body.Method == "" {
			t.Errorf("GET %s: %d, want 200 from the app with no authentication at all", path, resp.StatusCode)
		}
	}
}

// The demo's web app, outbox and Cognito API routes: checked with auth off, and the Cognito API
// reached on its own cluster with /cognito-idp/ rewritten to /.
func TestDemoAppRoutesThroughEnvoy(t *testing.T) {
	probe, authzAddr := startProbeAuthz(t)
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream", "idp")
		backend.New(backend.Options{}).ServeHTTP(w, r)
	}))
	t.Cleanup(idp.Close)
	envoy := envoyproc.StartTest(t, envoyproc.Config{Backend: startBackend(t), Authz: authzAddr,
		DemoApp: true, CognitoAPI: idp.Listener.Addr().String()})
	off := map[string]string{"auth": "off"}
	tests := []struct {
		path       string
		upstream   string // "idp" or "" for the backend cluster
		seenPath   string // the path the upstream saw
		extensions map[string]string
	}{
		{"/", "", "/", off},
		{"/static/app.js", "", "/static/app.js", off},
		{"/app-config.json", "", "/app-config.json", off},
		{"/outbox", "", "/outbox", off},
		{"/staticfile", "", "/staticfile", map[string]string{}},
		{"/outbox/x", "", "/outbox/x", map[string]string{}},
		{"/cognito-idp/", "idp", "/", off},
		{"/cognito-idp", "idp", "/", off},
		{"/cognito-idp/local_x/.well-known/jwks.json", "idp", "/local_x/.well-known/jwks.json", off},
		{"/cognito-idpx", "", "/cognito-idpx", map[string]string{}},
	}
	for i, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			id := "demo-" + string(rune('a'+i))
			resp, body := send(t, envoy.URL()+tt.path, id, map[string]string{"x-user-sub": "forged"})
			if got := resp.Header.Get("X-Upstream"); got != tt.upstream {
				t.Errorf("answered by upstream %q, want %q", got, tt.upstream)
			}
			if body.Path != tt.seenPath {
				t.Errorf("the upstream saw path %q, want %q", body.Path, tt.seenPath)
			}
			if got := body.Headers["x-user-sub"]; got != nil {
				t.Errorf("the upstream saw x-user-sub %q", got)
			}
			call := probe.call(id)
			if call == nil {
				t.Fatal("cognito-authz was not asked")
			}
			if got := call.GetAttributes().GetContextExtensions(); !maps.Equal(got, tt.extensions) {
				t.Errorf("context_extensions %v, want %v", got, tt.extensions)
			}
		})
	}
}
