package envoyconf_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/cognito-authz/cognito-authz/testenv/envoyconf"
	"github.com/cognito-authz/cognito-authz/testenv/envoyproc"
)

var update = flag.Bool("update", false, "rewrite the files under envoy/ from the template")

// committedDir is envoy/ at the repository root.
const committedDir = "../../envoy"

func TestCommittedFilesAreTheRender(t *testing.T) {
	for name, params := range envoyconf.Committed() {
		t.Run(name, func(t *testing.T) {
			want, err := envoyconf.Render(params)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(committedDir, name)
			if *update {
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run cd testenv && go test ./envoyconf -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the template's render; edit testenv/envoyconf/envoy.yaml.tmpl, not the file, then run cd testenv && go test ./envoyconf -update", path)
			}
		})
	}
	// No stray file: every file under envoy/ is one the template renders.
	entries, err := os.ReadDir(committedDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := envoyconf.Committed()[e.Name()]; !ok && strings.HasSuffix(e.Name(), ".yaml") {
			t.Errorf("envoy/%s is not rendered from the template", e.Name())
		}
	}
}

// TestEnvoyValidates runs `envoy --mode validate` on every file under envoy/ and on configs as the
// harness renders them.
func TestEnvoyValidates(t *testing.T) {
	bin := envoyproc.RequireEnvoy(t)
	paths, err := filepath.Glob(filepath.Join(committedDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != len(envoyconf.Committed()) {
		t.Errorf("found %d files under envoy/, want %d", len(paths), len(envoyconf.Committed()))
	}
	rendered := map[string]envoyconf.Params{
		"harness ext_authz": {Filter: envoyconf.ExtAuthz, ListenAddress: "127.0.0.1", AdminAddress: "127.0.0.1",
			ClusterType: envoyconf.Static, Backend: envoyconf.Endpoint{Host: "127.0.0.1", Port: 40001},
			Authz: envoyconf.Endpoint{Host: "::1", Port: 40002}, AuthzTimeout: "1s"},
		"harness ext_authz replicas": {Filter: envoyconf.ExtAuthz, ListenAddress: "127.0.0.1", AdminAddress: "127.0.0.1",
			ClusterType: envoyconf.Static, Backend: envoyconf.Endpoint{Host: "127.0.0.1", Port: 40001},
			AuthzReplicas:       []envoyconf.Endpoint{{Host: "127.0.0.1", Port: 40002}, {Host: "127.0.0.1", Port: 40004}, {Host: "::1", Port: 40005}},
			AuthzHealthInterval: "0.5s"},
		"harness jwt_authn": {Filter: envoyconf.JWTAuthn, ListenAddress: "127.0.0.1", AdminAddress: "127.0.0.1",
			ClusterType: envoyconf.StrictDNS, Backend: envoyconf.Endpoint{Host: "localhost", Port: 40001},
			IssuerURL: "http://127.0.0.1:40003/eu-west-1_Pool", JWKSURL: "http://127.0.0.1:40003/eu-west-1_Pool/.well-known/jwks.json"},
		"harness ext_authz demo app": {Filter: envoyconf.ExtAuthz, ListenAddress: "127.0.0.1", AdminAddress: "127.0.0.1",
			ClusterType: envoyconf.Static, Backend: envoyconf.Endpoint{Host: "127.0.0.1", Port: 40001},
			Authz: envoyconf.Endpoint{Host: "127.0.0.1", Port: 40002}, DemoApp: true,
			CognitoAPI: envoyconf.Endpoint{Host: "127.0.0.1", Port: 40006}},
		"harness no-auth": {Filter: envoyconf.NoAuth, ListenAddress: "127.0.0.1", AdminAddress: "127.0.0.1",
			ClusterType: envoyconf.StrictDNS, Backend: envoyconf.Endpoint{Host: "127.0.0.1", Port: 40001}},
	}
	for name, params := range rendered {
		b, err := envoyconf.Render(params)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		path := filepath.Join(t.TempDir(), "envoy.yaml")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	for _, path := range paths {
		out, err := envoyproc.Validate(t.Context(), bin, path)
		if err != nil {
			t.Error(err)
			continue
		}
		// Envoy warns about deprecated fields; the configs use current ones only.
		if strings.Contains(strings.ToLower(out), "deprecated") {
			t.Errorf("%s uses deprecated fields:\n%s", path, out)
		}
	}
}

// TestPresetsAgree reads the three committed configurations back and checks that they differ only
// where the presets say they should: the same routes, per-route settings and filters.
func TestPresetsAgree(t *testing.T) {
	compose := renderYAML(t, envoyconf.Compose())
	local := renderYAML(t, envoyconf.Local())
	jwt := renderYAML(t, envoyconf.LocalJWTAuthn())

	routes := func(doc map[string]any) []any {
		return dig(t, doc, "static_resources", "listeners", 0, "filter_chains", 0, "filters", 0,
			"typed_config", "route_config", "virtual_hosts", 0, "routes").([]any)
	}
	matches := func(doc map[string]any) []string {
		var out []string
		for _, r := range routes(doc) {
			out = append(out, yamlString(t, r.(map[string]any)["match"]))
		}
		return out
	}
	// The compose stack also routes the demo's web app and Cognito API; the rest is the same.
	composeApp := envoyconf.Compose()
	composeApp.DemoApp, composeApp.CognitoAPI = false, envoyconf.Endpoint{}
	if yamlString(t, routes(renderYAML(t, composeApp))) != yamlString(t, routes(local)) {
		t.Error("compose and local configs have different routes besides the demo app's")
	}
	if m, j := matches(local), matches(jwt); strings.Join(m, "|") != strings.Join(j, "|") {
		t.Errorf("ext_authz and jwt_authn configs match different routes:\n%v\n%v", m, j)
	}
	hcm := func(doc map[string]any) map[string]any {
		return dig(t, doc, "static_resources", "listeners", 0, "filter_chains", 0, "filters", 0, "typed_config").(map[string]any)
	}
	if yamlString(t, hcm(compose)["http_filters"]) != yamlString(t, hcm(local)["http_filters"]) {
		t.Error("compose and local configs have different HTTP filters")
	}

	filters := hcm(local)["http_filters"].([]any)
	var names []string
	for _, f := range filters {
		names = append(names, f.(map[string]any)["name"].(string))
	}
	// CORS answers preflights before anything else; owned headers are gone before the check.
	if want := "envoy.filters.http.cors envoy.filters.http.header_mutation envoy.filters.http.ext_authz envoy.filters.http.router"; strings.Join(names, " ") != want {
		t.Errorf("HTTP filters %v, want %s", names, want)
	}
	extAuthz := dig(t, filters[slices.Index(names, "envoy.filters.http.ext_authz")], "typed_config").(map[string]any)
	want := map[string]string{
		"transport_api_version": "V3",
		"failure_mode_allow":    "false",
		"status_on_error":       "code: 503",
	}
	for key, v := range want {
		if got := strings.TrimSpace(yamlString(t, extAuthz[key])); got != v {
			t.Errorf("ext_authz %s = %q, want %q", key, got, v)
		}
	}
	grpcService := extAuthz["grpc_service"]
	wantService := map[string]string{
		"envoy_grpc/cluster_name":       "cognito_authz",
		"envoy_grpc/skip_envoy_headers": "true",
		"timeout":                       "0.25s",
		// Only failures that mean the check never got an answer are retried, never a decision.
		"retry_policy/retry_on":    "connect-failure,refused-stream,reset,unavailable",
		"retry_policy/num_retries": "2",
		// Envoy's per-try timeout is max_interval: the whole timeout, never cutting a check short.
		"retry_policy/retry_back_off/max_interval": "0.25s",
		"retry_policy/retry_host_predicate/0/name": "envoy.retry_host_predicates.previous_hosts",
	}
	for key, v := range wantService {
		path := []any{}
		for _, step := range strings.Split(key, "/") {
			if n, err := strconv.Atoi(step); err == nil {
				path = append(path, n)
			} else {
				path = append(path, step)
			}
		}
		if got := strings.TrimSpace(yamlString(t, dig(t, grpcService, path...))); got != v {
			t.Errorf("ext_authz grpc_service %s = %q, want %q", key, got, v)
		}
	}
	// Compose and local run the same resilience settings; only the addresses differ.
	authzCluster := func(doc map[string]any) map[string]any {
		for _, c := range dig(t, doc, "static_resources", "clusters").([]any) {
			if c.(map[string]any)["name"] == "cognito_authz" {
				return c.(map[string]any)
			}
		}
		t.Fatal("no cognito_authz cluster")
		return nil
	}
	for _, key := range []string{"circuit_breakers", "health_checks", "outlier_detection", "common_lb_config", "typed_extension_protocol_options", "connect_timeout"} {
		c, l := authzCluster(compose)[key], authzCluster(local)[key]
		if c == nil || yamlString(t, c) != yamlString(t, l) {
			t.Errorf("cognito_authz %s missing or different between compose and local", key)
		}
	}
	// An ejection or failed health check reaches the load balancer at once, not up to 1s later.
	if got := yamlString(t, dig(t, authzCluster(local), "common_lb_config", "update_merge_window")); got != "0s\n" {
		t.Errorf("cognito_authz update_merge_window = %q, want 0s", got)
	}
	for _, doc := range []map[string]any{compose, local, jwt} {
		if yamlString(t, hcm(doc)["path_with_escaped_slashes_action"]) != "REJECT_REQUEST\n" {
			t.Error("path normalization differs between configs")
		}
		if got := yamlString(t, dig(t, hcm(doc), "common_http_protocol_options", "headers_with_underscores_action")); got != "DROP_HEADER\n" {
			t.Errorf("headers_with_underscores_action %q, want DROP_HEADER in every config", got)
		}
	}
}

func renderYAML(t *testing.T, p envoyconf.Params) map[string]any {
	t.Helper()
	b, err := envoyconf.Render(p)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("render is not YAML: %v", err)
	}
	return doc
}

// dig walks a decoded YAML document by map keys and list indexes.
func dig(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, step := range path {
		switch s := step.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("at %q: not a map", s)
			}
			v = m[s]
		case int:
			l, ok := v.([]any)
			if !ok || s >= len(l) {
				t.Fatalf("at [%d]: not a list that long", s)
			}
			v = l[s]
		}
	}
	return v
}

func yamlString(t *testing.T, v any) string {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRenderRejectsBadParams(t *testing.T) {
	good := envoyconf.Local
	tests := []struct {
		name   string
		change func(p *envoyconf.Params)
		want   string
	}{
		{"unknown filter", func(p *envoyconf.Params) { p.Filter = "basic_auth" }, "filter"},
		{"unknown cluster type", func(p *envoyconf.Params) { p.ClusterType = "LOGICAL_DNS" }, "cluster type"},
		{"empty listen address", func(p *envoyconf.Params) { p.ListenAddress = "" }, "listen: address is empty"},
		{"port out of range", func(p *envoyconf.Params) { p.AdminPort = 70000 }, "admin: port 70000"},
		{"backend without port", func(p *envoyconf.Params) { p.Backend.Port = 0 }, "backend: port 0"},
		{"no authz host", func(p *envoyconf.Params) { p.Authz.Host = "" }, "authz: host is empty"},
		{"static cluster with a host name", func(p *envoyconf.Params) { p.ClusterType = envoyconf.Static; p.Authz.Host = "authz" }, "need an IP address"},
		{"timeout not in seconds", func(p *envoyconf.Params) { p.AuthzTimeout = "250ms" }, "authz timeout"},
		{"zero timeout", func(p *envoyconf.Params) { p.AuthzTimeout = "0s" }, "authz timeout"},
		{"health interval not in seconds", func(p *envoyconf.Params) { p.AuthzHealthInterval = "1m" }, "authz health interval"},
		{"authz and replicas both", func(p *envoyconf.Params) {
			p.AuthzReplicas = []envoyconf.Endpoint{{Host: "127.0.0.1", Port: 9002}}
		}, "not both"},
		{"replica without port", func(p *envoyconf.Params) {
			p.Authz = envoyconf.Endpoint{}
			p.AuthzReplicas = []envoyconf.Endpoint{{Host: "127.0.0.1", Port: 9001}, {Host: "127.0.0.1"}}
		}, "authz replica 1: port 0"},
		{"multi-line title", func(p *envoyconf.Params) { p.Title = "a\nadmin: {}" }, "title"},
		{"demo app without ext_authz", func(p *envoyconf.Params) { *p = envoyconf.LocalJWTAuthn(); p.DemoApp = true }, "demo app: needs filter"},
		{"cognito API without ext_authz", func(p *envoyconf.Params) {
			*p = envoyconf.LocalJWTAuthn()
			p.CognitoAPI = envoyconf.Endpoint{Host: "127.0.0.1", Port: 9229}
		}, "cognito API: needs filter"},
		{"cognito API without port", func(p *envoyconf.Params) { p.CognitoAPI.Host = "127.0.0.1" }, "cognito API: port 0"},
		{"jwt_authn without issuer", func(p *envoyconf.Params) { p.Filter = envoyconf.JWTAuthn }, "issuer URL"},
		{"jwt_authn with an https JWKS", func(p *envoyconf.Params) {
			*p = envoyconf.LocalJWTAuthn()
			p.JWKSURL = "https://cognito-idp.eu-west-1.amazonaws.com/x/.well-known/jwks.json"
		}, "https is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := good()
			tt.change(&p)
			_, err := envoyconf.Render(p)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Render error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestRenderQuotesValues(t *testing.T) {
	p := envoyconf.Local()
	p.Backend.Host = `evil" , port_value: 1}` + "\n" + `admin: {}`
	b, err := envoyconf.Render(p)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("render is not YAML: %v", err)
	}
	clusters := dig(t, doc, "static_resources", "clusters").([]any)
	var hosts []string
	for _, c := range clusters {
		hosts = append(hosts, dig(t, c, "load_assignment", "endpoints", 0, "lb_endpoints", 0, "endpoint", "address", "socket_address", "address").(string))
	}
	sort.Strings(hosts)
	if hosts[1] != p.Backend.Host {
		t.Errorf("backend host read back as %q, want it verbatim", hosts[1])
	}
}

func TestRenderAuthzReplicas(t *testing.T) {
	replicas := []envoyconf.Endpoint{{Host: "127.0.0.1", Port: 9001}, {Host: "127.0.0.1", Port: 9002}, {Host: "::1", Port: 9003}}
	tests := []struct {
		name string
		set  func(p *envoyconf.Params)
		want []string // host:port of the cluster's endpoints, in order
	}{
		{"one by default", func(p *envoyconf.Params) {}, []string{"127.0.0.1:9001"}},
		{"replicas", func(p *envoyconf.Params) { p.Authz = envoyconf.Endpoint{}; p.AuthzReplicas = replicas },
			[]string{"127.0.0.1:9001", "127.0.0.1:9002", "::1:9003"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := envoyconf.Local()
			tt.set(&p)
			doc := renderYAML(t, p)
			var got []string
			for _, c := range dig(t, doc, "static_resources", "clusters").([]any) {
				if c.(map[string]any)["name"] != "cognito_authz" {
					continue
				}
				for _, e := range dig(t, c, "load_assignment", "endpoints", 0, "lb_endpoints").([]any) {
					a := dig(t, e, "endpoint", "address", "socket_address").(map[string]any)
					got = append(got, fmt.Sprintf("%v:%v", a["address"], a["port_value"]))
				}
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("cognito_authz endpoints = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestCheckAttemptsHaveNoTimeoutOfTheirOwn: Envoy turns a gRPC service's retry_back_off.max_interval
// into the timeout of each attempt (envoyproxy/envoy#38847). Below the check's timeout it cuts off
// attempts on a replica that is only slow for a moment, all of them if the stall outlasts the
// retries: with 0.05s, a loaded machine failed checks while a replica was being killed
// (testenv/failover). Equal to the timeout it sets none, whatever the timeout.
func TestCheckAttemptsHaveNoTimeoutOfTheirOwn(t *testing.T) {
	for _, timeout := range []string{"", "1s", "2.5s"} {
		p := envoyconf.Local()
		p.AuthzTimeout = timeout
		var service any
		for _, f := range dig(t, renderYAML(t, p), "static_resources", "listeners", 0, "filter_chains", 0, "filters", 0,
			"typed_config", "http_filters").([]any) {
			if dig(t, f, "name") == "envoy.filters.http.ext_authz" {
				service = dig(t, f, "typed_config", "grpc_service")
			}
		}
		checkTimeout := dig(t, service, "timeout")
		if maxInterval := dig(t, service, "retry_policy", "retry_back_off", "max_interval"); maxInterval != checkTimeout {
			t.Errorf("AuthzTimeout %q: retry_back_off.max_interval %v, want the check's timeout %v", timeout, maxInterval, checkTimeout)
		}
	}
}

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		in      string
		want    envoyconf.Endpoint
		wantErr string
	}{
		{"127.0.0.1:9001", envoyconf.Endpoint{Host: "127.0.0.1", Port: 9001}, ""},
		{"[::1]:80", envoyconf.Endpoint{Host: "::1", Port: 80}, ""},
		{"authz:9001", envoyconf.Endpoint{Host: "authz", Port: 9001}, ""},
		{"127.0.0.1", envoyconf.Endpoint{}, "missing port"},
		{"127.0.0.1:0", envoyconf.Endpoint{}, `bad port "0"`},
		{"127.0.0.1:65536", envoyconf.Endpoint{}, `bad port "65536"`},
		{"127.0.0.1:http", envoyconf.Endpoint{}, `bad port "http"`},
	}
	for _, tt := range tests {
		got, err := envoyconf.ParseEndpoint(tt.in)
		if got != tt.want || (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("ParseEndpoint(%q) = %+v, %v; want %+v, error containing %q", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
