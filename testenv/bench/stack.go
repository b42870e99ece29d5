package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/cognito-authz/cognito-authz/extauthz"
	"github.com/cognito-authz/cognito-authz/testenv/backend"
	"github.com/cognito-authz/cognito-authz/testenv/edge"
	"github.com/cognito-authz/cognito-authz/testenv/envoyconf"
	"github.com/cognito-authz/cognito-authz/testenv/envoyproc"
	"github.com/cognito-authz/cognito-authz/testenv/issuer"
)

// The setups a Stack adds on request, beside the three every run has, by the names its JSON uses.
const (
	// ExtAuthzFloor is the ext_authz round trip with no token work: Envoy's ext_authz to a second
	// cognito-authz whose every route is auth: off. It is the least any ext_authz service costs.
	ExtAuthzFloor = "ext_authz-floor"
	// CognitoAuthzHTTP is cognito-authz's HTTP forward-auth endpoint behind Envoy's HTTP
	// ext_authz, to set its cost per check beside the gRPC filter's.
	CognitoAuthzHTTP = "cognito-authz-http"
)

// stackClientID is the one app client of the stack's issuer and cognito-authz.
const stackClientID = "bench-client"

// StackOptions say what StartStack starts.
type StackOptions struct {
	// Users is how many users the issuer mints a token for, one each.
	Users int
	// EnvoyBinary is the envoy to run, one process per setup, each with EnvoyThreads worker threads.
	EnvoyBinary  string
	EnvoyThreads int
	// AuthzBinary, when set, runs cognito-authz from this binary as its own process (as deployed),
	// with GOMAXPROCS=AuthzProcs (Go's default when 0); when empty cognito-authz runs inside this
	// process, which needs nothing built first.
	AuthzBinary string
	AuthzProcs  int
	// Floor adds the ExtAuthzFloor setup, HTTP the CognitoAuthzHTTP one.
	Floor, HTTP bool
	// Variants add one setup each (VariantSetup, VariantNames): cognito-authz with one setting
	// changed.
	Variants []string
	// Logs gets cognito-authz's warnings and errors; nil discards them.
	Logs io.Writer
	// Logf, when set, is told as each piece starts or fails to stop.
	Logf func(format string, args ...any)
}

// DescribeAuthz says how cognito-authz runs, for the report: where it runs shapes its cost.
func (o StackOptions) DescribeAuthz() string {
	switch {
	case o.AuthzBinary == "":
		return "inside the bench process"
	case o.AuthzProcs > 0:
		return fmt.Sprintf("own process (%s), GOMAXPROCS=%d", o.AuthzBinary, o.AuthzProcs)
	default:
		return fmt.Sprintf("own process (%s), GOMAXPROCS=%d (Go's default)", o.AuthzBinary, runtime.NumCPU())
	}
}

// Stack is everything the bench runs against, on loopback ports of its own: a local issuer, the
// demo backend, cognito-authz and one Envoy per setup. Run measures it through Setups and Tokens.
type Stack struct {
	// Setups are the Envoys in front of the backend: NoAuth, JWTAuthn, CognitoAuthz, then
	// CognitoAuthzHTTP and ExtAuthzFloor when asked for.
	Setups []Setup
	// Tokens are the users' access tokens, one each, all valid for the whole run.
	Tokens []string

	subs    []string // subs[i] is the sub in Tokens[i]
	logf    func(format string, args ...any)
	servers []*http.Server
	authz   authzServer
	floor   authzServer // ExtAuthzFloor's cognito-authz, or nil
	// variantAuthz are the variants' own cognito-authz, for those that change the service.
	variantAuthz []authzServer
	envoys       []*envoyproc.Envoy
}

// authzServers are every cognito-authz the stack started: the setups', the floor's and the
// variants' (nil where there is none).
func (s *Stack) authzServers() []authzServer {
	return append([]authzServer{s.authz, s.floor}, s.variantAuthz...)
}

// StartStack starts the issuer, the backend, cognito-authz and one Envoy per setup. On error it
// stops what it started.
func StartStack(ctx context.Context, o StackOptions) (*Stack, error) {
	if o.Logs == nil {
		o.Logs = io.Discard
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	s := &Stack{logf: o.Logf}
	if err := s.start(ctx, o); err != nil {
		s.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return s, nil
}

func (s *Stack) start(ctx context.Context, o StackOptions) error {
	issuerLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	is, err := issuer.New(issuer.Options{BaseURL: "http://" + issuerLis.Addr().String(), ClientIDs: []string{stackClientID}})
	if err != nil {
		issuerLis.Close()
		return err
	}
	s.serve(issuerLis, is)
	backendLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s.serve(backendLis, backend.New(backend.Options{}))

	s.logf("minting %d tokens", o.Users)
	for i := range o.Users {
		name := fmt.Sprintf("bench-user-%05d", i)
		u, err := is.User(name)
		if err != nil {
			return err
		}
		tok, err := is.Mint(issuer.TokenSpec{Username: name})
		if err != nil {
			return err
		}
		s.Tokens, s.subs = append(s.Tokens, tok), append(s.subs, u.Sub)
	}

	startAuthz := func(cfg *extauthz.Config) (authzServer, error) {
		if o.AuthzBinary != "" {
			return startAuthzProcess(ctx, o.AuthzBinary, o.AuthzProcs, cfg, o.Logs)
		}
		return startAuthzInProcess(ctx, cfg, o.Logs)
	}
	if s.authz, err = startAuthz(authzConfig(is, o.Users)); err != nil {
		return err
	}
	type setup struct {
		name   string
		filter envoyconf.Filter
		authz  authzServer
		http   bool // Envoy's HTTP ext_authz to authz's HTTP endpoint
		edit   func(rendered []byte, authzAddr string) ([]byte, error)
	}
	setups := []setup{
		{NoAuth, envoyconf.NoAuth, nil, false, nil},
		{JWTAuthn, envoyconf.JWTAuthn, nil, false, nil},
		{CognitoAuthz, envoyconf.ExtAuthz, s.authz, false, nil},
	}
	if o.HTTP {
		setups = append(setups, setup{CognitoAuthzHTTP, envoyconf.ExtAuthz, s.authz, true, nil})
	}
	if err := CheckVariants(o.Variants); err != nil {
		return err
	}
	var cognitoAPI string // the stand-in for Cognito's GetUser, started for the first variant that needs it
	for _, name := range o.Variants {
		v := variants[name]
		authz := s.authz
		if v.configure != nil {
			if cognitoAPI == "" {
				apiLis, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					return err
				}
				s.serve(apiLis, http.HandlerFunc(liveGetUser))
				cognitoAPI = "http://" + apiLis.Addr().String() + "/"
			}
			cfg := authzConfig(is, o.Users)
			v.configure(cfg, cognitoAPI)
			if authz, err = startAuthz(cfg); err != nil {
				return fmt.Errorf("%s: %w", VariantSetup(name), err)
			}
			s.variantAuthz = append(s.variantAuthz, authz)
		}
		setups = append(setups, setup{VariantSetup(name), envoyconf.ExtAuthz, authz, false, v.edit})
	}
	if o.Floor {
		cfg := authzConfig(is, o.Users)
		cfg.Policy.Rules = []extauthz.Rule{{PathPrefix: "/", Auth: extauthz.AuthOff}}
		if s.floor, err = startAuthz(cfg); err != nil {
			return fmt.Errorf("%s: %w", ExtAuthzFloor, err)
		}
		setups = append(setups, setup{ExtAuthzFloor, envoyconf.ExtAuthz, s.floor, false, nil})
	}

	for _, setup := range setups {
		var authzAddr string
		if setup.authz != nil {
			authzAddr = setup.authz.GRPCAddr()
		}
		ec := envoyproc.Config{
			Filter:      setup.filter,
			Backend:     backendLis.Addr().String(),
			Authz:       authzAddr,
			IssuerURL:   is.IssuerURL(),
			JWKSURL:     is.JWKSURL(),
			Binary:      o.EnvoyBinary,
			LogLevel:    "error",
			Concurrency: o.EnvoyThreads,
		}
		if setup.edit != nil {
			edit, addr := setup.edit, authzAddr
			ec.Edit = func(rendered []byte) ([]byte, error) { return edit(rendered, addr) }
		}
		if setup.http {
			if ec.Rendered, err = envoyHTTPConfig(backendLis.Addr().String(), setup.authz.HTTPAddr()); err != nil {
				return fmt.Errorf("envoy for %s: %w", setup.name, err)
			}
		}
		envoy, err := envoyproc.Start(ctx, ec)
		if err != nil {
			return fmt.Errorf("envoy for %s: %w", setup.name, err)
		}
		s.envoys = append(s.envoys, envoy)
		s.Setups = append(s.Setups, Setup{Name: setup.name, BaseURL: envoy.URL(),
			Processes: processes(envoy, setup.authz)})
		s.logf("%s on %s", setup.name, envoy.URL())
	}
	return nil
}

// liveGetUser answers Cognito's GetUser for every token: the user exists and is signed in.
func liveGetUser(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_, _ = w.Write([]byte(`{"Username":"bench-user","UserAttributes":[]}`))
}

// authzConfig is the service's configuration for the bench issuer: the defaults otherwise, with
// room in the verified-token cache for every user, as a deployment sized for its users would have.
func authzConfig(is *issuer.Issuer, users int) *extauthz.Config {
	cfg := extauthz.DefaultConfig()
	cfg.Listen, cfg.AdminListen, cfg.HTTPListen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Issuers = []extauthz.Issuer{{Issuer: is.IssuerURL(), JWKSURL: is.JWKSURL(),
		ClientIDs: []string{stackClientID}, TokenUse: extauthz.TokenUseAccess}}
	cfg.Cache.MaxEntries = max(cfg.Cache.MaxEntries, 2*users)
	return cfg
}

// envoyHTTPConfig renders deploy/forwardauth/envoy-http-ext-authz.yaml for the bench's addresses.
func envoyHTTPConfig(backendAddr, authzHTTPAddr string) ([]byte, error) {
	p := edge.Local("Rendered by testenv bench.")
	p.Listen.Port, p.Admin.Port = 0, 0
	var err error
	if p.Backend, err = envoyconf.ParseEndpoint(backendAddr); err != nil {
		return nil, err
	}
	if p.Authz, err = envoyconf.ParseEndpoint(authzHTTPAddr); err != nil {
		return nil, err
	}
	return edge.RenderEnvoyHTTP(p)
}

// The bench process's names among a setup's Processes: with cognito-authz inside it, its cost
// cannot be told apart from the load generator's.
const (
	benchProcess          = "testenv bench (load, app)"
	benchProcessWithAuthz = "testenv bench (load, app, authz)"
)

// processes lists what the bench measures per request for a setup: its Envoy, its cognito-authz
// (if any) when that has a process of its own, and this process (load generator, app and issuer,
// and cognito-authz when it runs here), whose share every setup pays.
func processes(envoy *envoyproc.Envoy, authz authzServer) []Process {
	self := benchProcess
	ps := []Process{{Name: EnvoyProcess, PID: envoy.PID()}}
	if authz != nil {
		if p, ok := authz.Process(); ok {
			ps = append(ps, p)
		} else {
			self = benchProcessWithAuthz
		}
	}
	return append(ps, Process{Name: self, PID: os.Getpid()})
}

func (s *Stack) serve(l net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
	s.servers = append(s.servers, srv)
	go srv.Serve(l)
}

// Close stops everything, Envoys first so nothing calls a stopped upstream; cognito-authz and the
// servers may drain until ctx ends. A piece that fails to stop is reported to StackOptions.Logf:
// the others are still stopped.
func (s *Stack) Close(ctx context.Context) {
	for _, envoy := range s.envoys {
		if err := envoy.Stop(); err != nil {
			s.logf("stop envoy: %v", err)
		}
	}
	for _, a := range s.authzServers() {
		if a == nil {
			continue
		}
		if err := a.Stop(ctx); err != nil {
			s.logf("stop cognito-authz: %v", err)
		}
	}
	for _, srv := range s.servers {
		_ = srv.Shutdown(ctx)
	}
}

// Probe checks, before anything is measured, that each setup does what its name says: a request
// with a token reaches the app as that user behind jwt_authn and cognito-authz (so neither is
// fast because it lets everything through unverified), as nobody behind no-auth and the floor
// (which must not verify, or it would be no floor), and a request without a token is served
// everywhere.
func (s *Stack) Probe(ctx context.Context) error {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	for _, setup := range s.Setups {
		for _, withToken := range []bool{true, false} {
			token := ""
			if withToken {
				token = s.Tokens[0]
			}
			got, err := getBackend(ctx, client, setup.BaseURL+backend.HomePath, token)
			if err != nil {
				return fmt.Errorf("probe %s: %w", setup.Name, err)
			}
			sub := first(got.Headers["x-user-sub"])
			var want string
			if withToken && setup.Name != NoAuth && setup.Name != ExtAuthzFloor {
				want = s.subs[0]
			}
			if sub != want {
				return fmt.Errorf("probe %s (token: %v): the app saw x-user-sub %q, want %q", setup.Name, withToken, sub, want)
			}
			if setup.Name == CognitoAuthz || setup.Name == CognitoAuthzHTTP || strings.HasPrefix(setup.Name, CognitoAuthz+"/") {
				status := "anonymous"
				if withToken {
					status = "authenticated"
				}
				if got := first(got.Headers["x-auth-status"]); got != status {
					return fmt.Errorf("probe %s (token: %v): the app saw x-auth-status %q, want %q", setup.Name, withToken, got, status)
				}
			}
		}
	}
	return nil
}

// getBackend GETs url with token as a bearer token (none when empty) and decodes the backend's
// answer.
func getBackend(ctx context.Context, client *http.Client, url, token string) (backend.Response, error) {
	var body backend.Response
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return body, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return body, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return body, fmt.Errorf("GET %s: %w", url, err)
	}
	return body, nil
}

func first(values []string) string {
	if len(values) == 0 {
		return ""
	}
	return values[0]
}

// AuthzCounters summarises cognito-authz's own metrics, for the command's log: how many checks
// it answered and how often the verified-token cache spared an RSA verification.
func (s *Stack) AuthzCounters() string {
	c, err := s.authz.Counters()
	if err != nil {
		return fmt.Sprintf("cognito-authz metrics: %v", err)
	}
	return fmt.Sprintf("cognito-authz answered %.0f checks; verified-token cache: %.0f hits, %.0f misses",
		c["cognito_authz_checks_total"], c["cognito_authz_token_cache_hits_total"], c["cognito_authz_token_cache_misses_total"])
}
