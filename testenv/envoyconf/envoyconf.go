// Package envoyconf renders the Envoy configurations of the local stack from one template, so the
// compose file, the loopback file, the jwt_authn benchmark file, the benchmark's no-auth floor and
// the configs the test harness starts can never drift apart: they differ only in the Params below.
package envoyconf

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/cognito-authz/cognito-authz/extauthz"
)

// EnvoyVersion is the Envoy release the configurations are written and validated for.
const EnvoyVersion = "1.40"

// Filter is the HTTP filter that authenticates requests.
type Filter string

// Filters.
const (
	// ExtAuthz asks cognito-authz over gRPC (the product).
	ExtAuthz Filter = "ext_authz"
	// JWTAuthn is Envoy's own jwt_authn filter (the benchmark's baseline).
	JWTAuthn Filter = "jwt_authn"
	// NoAuth authenticates nothing: the benchmark's floor, never a deployment.
	NoAuth Filter = "none"
)

// Cluster discovery types used for upstream endpoints.
const (
	StrictDNS = "STRICT_DNS" // host names, as in compose, or literal addresses
	Static    = "STATIC"     // literal IP addresses only
)

// IdentityHeaders are the headers cognito-authz sets with its default prefix
// (docs/reference.md#headers), the chosen claims' headers of ClaimHeaders and the claims header
// (owned whether or not enabled) included, for edges that must name each one (testenv/edge): each
// is the answer's value or absent, never a client's. This package's Envoy removes more:
// everything under IdentityPrefix, and OwnedHeaders.
var IdentityHeaders = slices.Concat([]string{extauthz.HeaderAuthStatus, extauthz.HeaderAuthReason},
	extauthz.IdentityHeaderNames(IdentityPrefix), []string{TenantHeader, ClaimsHeader})

// ClaimHeaders are the chosen claims of deploy/forwardauth/cognito-authz.yaml
// (docs/reference.md#claim-headers): a multi-tenant app's custom attribute.
var ClaimHeaders = []extauthz.ClaimHeader{{Claim: TenantClaim, Header: "tenant-id"}}

// TenantClaim is the custom attribute ClaimHeaders maps onto TenantHeader.
const (
	TenantClaim  = "custom:tenant_id"
	TenantHeader = IdentityPrefix + "tenant-id"
)

// IdentityPrefix and OwnedHeaders are the request headers cognito-authz owns as configured in the
// stack (docs/reference.md#headers): every header under the prefix, x-auth-status,
// x-auth-reason and the claims header name, whether or not claims_header is enabled. Envoy removes
// them from every client request before the check.
const IdentityPrefix = extauthz.DefaultPrefix

// ClaimsHeader is the claims header name the README's configuration enables.
const ClaimsHeader = "x-jwt-claims"

// OwnedHeaders are the owned names outside IdentityPrefix.
var OwnedHeaders = []string{extauthz.HeaderAuthStatus, extauthz.HeaderAuthReason, ClaimsHeader}

// FrontEndDevOrigins are where a browser front end under development runs (the original app's
// web client ran on port 3000, its API on another), allowed to call the stack from its own origin:
// under both loopback names, since a browser sends the stack's cookies only to the host that set
// them (a page from localhost:3000 can use bearer tokens; one from 127.0.0.1:3000 also the
// cookie session the stack's web app keeps on 127.0.0.1).
var FrontEndDevOrigins = []string{"http://localhost:3000", "http://127.0.0.1:3000"}

// corsOrigins are the browser origins a stack listening on port lets call every route from another
// origin (Envoy's CORS filter, before the check): its own, under both loopback names, and
// FrontEndDevOrigins. Port 0 (not known yet) leaves only FrontEndDevOrigins.
func corsOrigins(port int) []string {
	if port == 0 {
		return FrontEndDevOrigins
	}
	return append([]string{fmt.Sprintf("http://localhost:%d", port), fmt.Sprintf("http://127.0.0.1:%d", port)}, FrontEndDevOrigins...)
}

// Endpoint is one upstream host and port.
type Endpoint struct {
	Host string
	Port int
}

// ParseEndpoint reads a host:port address, such as a listener's, as an Endpoint.
func ParseEndpoint(hostport string) (Endpoint, error) {
	host, portText, err := net.SplitHostPort(hostport)
	if err != nil {
		return Endpoint{}, err
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port <= 0 || port > 65535 {
		return Endpoint{}, fmt.Errorf("bad port %q", portText)
	}
	return Endpoint{Host: host, Port: port}, nil
}

// Params are everything that differs between rendered configurations.
type Params struct {
	Title  string // first comment line of the file
	Filter Filter

	ListenAddress string
	ListenPort    int // 0: any free port (the harness asks the admin API which)
	AdminAddress  string
	AdminPort     int // 0: any free port (the harness reads it from --admin-address-path)

	ClusterType string   // StrictDNS or Static
	Backend     Endpoint // the app

	// ExtAuthz only.
	Authz        Endpoint // cognito-authz's gRPC port
	AuthzTimeout string   // e.g. 0.25s; empty: DefaultAuthzTimeout
	// AuthzReplicas are several cognito-authz replicas behind the one cluster, instead of Authz
	// (set one or the other). Envoy balances checks over them and retries a failed one on another.
	AuthzReplicas []Endpoint
	// AuthzHealthInterval is how often Envoy asks each replica's grpc.health.v1, e.g. 1s; empty:
	// DefaultAuthzHealthInterval. Tests shorten it to see a replica come and go sooner.
	AuthzHealthInterval string

	// DemoApp adds, with auth off, the routes of the demo's web app (testenv/webapp) and outbox,
	// toward the backend cluster, which serves them (testenv/e2e). ExtAuthz only.
	DemoApp bool
	// CognitoAPI, when its Host is set, is an identity provider's Cognito JSON API (cognito-local),
	// served with auth off at CognitoAPIPrefix so a page reaches it same-origin. ExtAuthz only.
	CognitoAPI Endpoint

	// JWTAuthn only: the issuer (iss) and where its keys are; the issuer cluster is JWKSURL's host.
	IssuerURL string
	JWKSURL   string
}

// CognitoAPIPrefix is where Envoy serves Params.CognitoAPI; it is rewritten to / toward it.
const CognitoAPIPrefix = "/cognito-idp/"

// demoAppMatches are the routes of Params.DemoApp: testenv/webapp's page, settings and assets,
// and the outbox.
var demoAppMatches = []string{
	"{path: /}", "{path: /app-config.json}", "{path_separated_prefix: /static}", "{path: /outbox}",
}

// DefaultAuthzTimeout bounds one check, retries included; past it Envoy answers 503
// (status_on_error).
const DefaultAuthzTimeout = "0.25s"

// DefaultAuthzHealthInterval is the period of Envoy's active health checks of cognito-authz.
const DefaultAuthzHealthInterval = "5s"

// The committed presets, one per file under envoy/.

// Compose is envoy/envoy.yaml: the docker compose stack, service names as hosts.
func Compose() Params {
	return Params{
		Title:         "Envoy in front of the demo app, checked by cognito-authz: docker compose (service names as hosts).",
		Filter:        ExtAuthz,
		ListenAddress: "0.0.0.0", ListenPort: 8000,
		// Loopback only: the admin API can stop Envoy. A compose healthcheck runs inside the
		// container, where 127.0.0.1 reaches it.
		AdminAddress: "127.0.0.1", AdminPort: 9901,
		ClusterType: StrictDNS,
		// testenv demo serves the web app, outbox and demo backend, and cognito-local's API.
		Backend:    Endpoint{Host: "demo", Port: 8081},
		Authz:      Endpoint{Host: "authz", Port: 9001},
		DemoApp:    true,
		CognitoAPI: Endpoint{Host: "demo", Port: 9229},
	}
}

// Local is envoy/envoy-local.yaml: everything on loopback (cognito-authz, the demo backend and
// Envoy run as local processes).
func Local() Params {
	return Params{
		Title:         "Envoy in front of the demo app, checked by cognito-authz: local processes on loopback.",
		Filter:        ExtAuthz,
		ListenAddress: "127.0.0.1", ListenPort: 8000,
		AdminAddress: "127.0.0.1", AdminPort: 9901,
		ClusterType: StrictDNS,
		Backend:     Endpoint{Host: "127.0.0.1", Port: 8081},
		Authz:       Endpoint{Host: "127.0.0.1", Port: 9001},
	}
}

// LocalJWTAuthn is envoy/envoy-jwt-authn.yaml: Local with Envoy's jwt_authn in place of
// cognito-authz, verifying against the local issuer (cmd/testenv issuer) on 127.0.0.1:8080.
func LocalJWTAuthn() Params {
	p := Local()
	p.Title = "Envoy in front of the demo app, checked by Envoy's jwt_authn (benchmark baseline): local processes on loopback."
	p.Filter = JWTAuthn
	p.Authz = Endpoint{}
	p.IssuerURL = "http://127.0.0.1:8080/local_pool"
	p.JWKSURL = "http://127.0.0.1:8080/local_pool/.well-known/jwks.json"
	return p
}

// Committed maps each file under envoy/ to the preset it is rendered from.
func Committed() map[string]Params {
	return map[string]Params{
		"envoy.yaml":           Compose(),
		"envoy-local.yaml":     Local(),
		"envoy-jwt-authn.yaml": LocalJWTAuthn(),
	}
}

//go:embed envoy.yaml.tmpl
var templateText string

var tmpl = template.Must(template.New("envoy.yaml").Funcs(template.FuncMap{
	"yaml": yamlString,
}).Option("missingkey=error").Parse(templateText))

// templateData is Params plus what the template derives from them.
type templateData struct {
	Params
	ExtAuthz       bool
	JWTAuthn       bool
	NoAuth         bool
	EnvoyVersion   string
	Issuer         Endpoint
	IdentityPrefix string
	OwnedHeaders   []string
	// MethodOverrideHeaders go into the check beside the token's headers.
	MethodOverrideHeaders []string
	AuthzEndpoints        []Endpoint // Authz, or AuthzReplicas
	DemoAppMatches        []string
	HasCognitoAPI         bool
	CORSOrigins           []string
}

// Render returns the configuration for p, or an error naming the first bad parameter.
func Render(p Params) ([]byte, error) {
	data, err := prepare(p)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("envoyconf: render: %w", err)
	}
	return []byte(b.String()), nil
}

func prepare(p Params) (templateData, error) {
	if p.AuthzTimeout == "" {
		p.AuthzTimeout = DefaultAuthzTimeout
	}
	if p.AuthzHealthInterval == "" {
		p.AuthzHealthInterval = DefaultAuthzHealthInterval
	}
	d := templateData{Params: p, EnvoyVersion: EnvoyVersion, IdentityPrefix: IdentityPrefix, OwnedHeaders: OwnedHeaders,
		MethodOverrideHeaders: extauthz.MethodOverrideHeaders,
		CORSOrigins:           corsOrigins(p.ListenPort),
		ExtAuthz:              p.Filter == ExtAuthz, JWTAuthn: p.Filter == JWTAuthn, NoAuth: p.Filter == NoAuth}
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(!strings.ContainsAny(p.Title, "\r\n"), "title: must be one line")
	check(p.Filter == ExtAuthz || p.Filter == JWTAuthn || p.Filter == NoAuth, "filter: %q is not %q, %q or %q", p.Filter, ExtAuthz, JWTAuthn, NoAuth)
	check(p.ClusterType == StrictDNS || p.ClusterType == Static, "cluster type: %q is not %s or %s", p.ClusterType, StrictDNS, Static)
	checkAddr := func(name, host string, port int) {
		check(host != "", "%s: address is empty", name)
		check(port >= 0 && port <= 65535, "%s: port %d out of range", name, port)
	}
	checkAddr("listen", p.ListenAddress, p.ListenPort)
	checkAddr("admin", p.AdminAddress, p.AdminPort)
	checkUpstream := func(name string, e Endpoint) {
		check(e.Host != "", "%s: host is empty", name)
		check(e.Port > 0 && e.Port <= 65535, "%s: port %d out of range", name, e.Port)
		if p.ClusterType == Static {
			check(net.ParseIP(e.Host) != nil, "%s: %s clusters need an IP address, not %q", name, Static, e.Host)
		}
	}
	checkUpstream("backend", p.Backend)
	switch p.Filter {
	case ExtAuthz:
		if len(p.AuthzReplicas) == 0 {
			checkUpstream("authz", p.Authz)
			d.AuthzEndpoints = []Endpoint{p.Authz}
		} else {
			check(p.Authz == Endpoint{}, "authz: set Authz or AuthzReplicas, not both")
			for i, e := range p.AuthzReplicas {
				checkUpstream(fmt.Sprintf("authz replica %d", i), e)
			}
			d.AuthzEndpoints = p.AuthzReplicas
		}
		check(isSeconds(p.AuthzTimeout), "authz timeout: %q is not a duration in seconds like 0.25s", p.AuthzTimeout)
		check(isSeconds(p.AuthzHealthInterval), "authz health interval: %q is not a duration in seconds like 5s", p.AuthzHealthInterval)
		if p.DemoApp {
			d.DemoAppMatches = demoAppMatches
		}
		if d.HasCognitoAPI = p.CognitoAPI != (Endpoint{}); d.HasCognitoAPI {
			checkUpstream("cognito API", p.CognitoAPI)
		}
	default:
		check(!p.DemoApp, "demo app: needs filter %q", ExtAuthz)
		check(p.CognitoAPI == Endpoint{}, "cognito API: needs filter %q", ExtAuthz)
	}
	switch p.Filter {
	case JWTAuthn:
		u, err := url.Parse(p.IssuerURL)
		check(err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "", "issuer URL: %q is not an absolute http(s) URL", p.IssuerURL)
		ep, err := endpointOf(p.JWKSURL)
		check(err == nil, "JWKS URL: %v", err)
		d.Issuer = ep
		if err == nil {
			checkUpstream("issuer", ep)
		}
	}
	return d, errors.Join(errs...)
}

var secondsPattern = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?s$`)

// isSeconds reports whether s is a positive duration in seconds as Envoy's YAML takes it, e.g. 0.25s.
func isSeconds(s string) bool {
	if !secondsPattern.MatchString(s) {
		return false
	}
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "s"), 64)
	return err == nil && v > 0
}

// endpointOf is the host and port an http(s) URL connects to.
func endpointOf(raw string) (Endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Endpoint{}, err
	}
	if u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return Endpoint{}, fmt.Errorf("%q is not an absolute http(s) URL", raw)
	}
	if u.Scheme == "https" {
		// The issuer cluster has no TLS transport socket; refusing beats a config that cannot fetch.
		return Endpoint{}, fmt.Errorf("%q: https is not supported for the local issuer", raw)
	}
	port := 80
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return Endpoint{}, fmt.Errorf("%q: bad port", raw)
		}
	}
	return Endpoint{Host: u.Hostname(), Port: port}, nil
}

// yamlString quotes s for YAML: a JSON string is a YAML double-quoted scalar, so no value can break
// out of its field.
func yamlString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}
