// Package e2e assembles the whole local stack on loopback — an identity provider (the local
// Cognito-compatible issuer, the cognito-local emulator, or a real user pool), cognito-authz
// in-process, the demo backend and web app, and a real Envoy in front — for `testenv up` and for
// the end-to-end tests beside it, so the demo and the tests run exactly the same thing.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/cognito-authz/cognito-authz/extauthz"
	"github.com/cognito-authz/cognito-authz/internal/poll"
	"github.com/cognito-authz/cognito-authz/testenv/backend"
	"github.com/cognito-authz/cognito-authz/testenv/cognitolocal"
	"github.com/cognito-authz/cognito-authz/testenv/envoyproc"
	"github.com/cognito-authz/cognito-authz/testenv/issuer"
	"github.com/cognito-authz/cognito-authz/testenv/webapp"
)

// ClientID is the app client of the local user pool, as in deploy/compose/cognito-authz.yaml.
const ClientID = "demo-client"

// DefaultReadyTimeout bounds the wait for cognito-authz's keys and for Envoy's start.
const DefaultReadyTimeout = 30 * time.Second

// Options configure a Stack. The zero value is the demo's stack, every piece on a free loopback port.
type Options struct {
	// EnvoyBinary is the Envoy to run; default envoyproc.FindBinary().
	EnvoyBinary string
	// EnvoyPort is Envoy's listener port on 127.0.0.1; 0 picks a free one.
	EnvoyPort int
	// EnvoyDir holds Envoy's rendered configuration and log; default a temporary directory that
	// Stop removes.
	EnvoyDir string
	// EnvoyLogLevel is Envoy's own log level; default warn.
	EnvoyLogLevel string
	// AuthzTimeout bounds one check in Envoy, e.g. "2s"; default envoyconf.DefaultAuthzTimeout.
	AuthzTimeout string
	// TokenTTL is the lifetime of the local issuer's tokens (default issuer.DefaultTTL), or of
	// cognito-local's access and ID tokens (default its own, 24h).
	TokenTTL time.Duration
	// IdP is the identity provider, one of IdPs; default IdPBuiltin.
	IdP string
	// AWS is the user pool of IdPAWS.
	AWS AWSPool
	// OnCode, with IdPCognitoLocal, is told each code the emulator delivers, as it delivers it;
	// it must not block (cognitolocal.Options.OnCode).
	OnCode func(cognitolocal.Message)
	// NPMLogf, with IdPCognitoLocal, is told about a first-run npm install.
	NPMLogf func(format string, args ...any)
	// Backend, when set (host:port), is the app Envoy fronts instead of the demo backend, which
	// is then not started: e.g. an example app running as its own process.
	Backend string
	// Configure, when set, adjusts cognito-authz's configuration (DemoConfig for the local issuer)
	// before it starts; it may replace the issuers, e.g. with another Cognito emulator's pool.
	Configure func(*extauthz.Config)
	// Logger receives cognito-authz's logs; default none.
	Logger *zap.Logger
	// ReadyTimeout bounds the wait for cognito-authz's keys and Envoy's start; default
	// DefaultReadyTimeout.
	ReadyTimeout time.Duration
}

// DemoConfig is deploy/compose/cognito-authz.yaml for an issuer at issuerURL serving its keys at
// jwksURL, listening on free loopback ports: both token kinds of client ClientID are accepted,
// also from Amplify's cookies (the web app's session, whichever IdP signs it in), auth is optional
// unless Envoy's route says otherwise, and an invalid token is anonymous.
func DemoConfig(issuerURL, jwksURL string) *extauthz.Config {
	cfg := extauthz.DefaultConfig()
	cfg.Listen, cfg.AdminListen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Issuers = []extauthz.Issuer{{
		Issuer:    issuerURL,
		JWKSURL:   jwksURL,
		ClientIDs: []string{ClientID},
		TokenUse:  extauthz.TokenUseAny,
	}}
	cfg.Policy.Default = extauthz.AuthOptional
	cfg.Policy.InvalidToken = extauthz.InvalidTokenAnonymous
	cfg.TokenSources.AmplifyCookies = true
	DemoSignIn(cfg)
	return cfg
}

// DemoSignIn adds the web app's admin page at its own URL: it requires group admin, and a
// signed-out browser that opens it is sent to the sign-in page, which sends it back once signed in.
func DemoSignIn(cfg *extauthz.Config) {
	rule := extauthz.Rule{PathPrefix: webapp.AdminPagePath, Auth: extauthz.AuthRequired, GroupsAny: []string{"admin"}}
	rule.Unauthenticated = extauthz.UnauthenticatedRedirect
	cfg.Policy.Rules = append(cfg.Policy.Rules, rule)
	cfg.Policy.LoginURL = webapp.SignInPagePath
}

// Stack is one running local stack. Stop it when done.
type Stack struct {
	// Issuer, with IdPBuiltin, is the local user pool: mint tokens with it, make its key endpoint
	// fail, rotate keys. Nil with another IdP.
	Issuer *issuer.Issuer
	// CognitoLocal, with IdPCognitoLocal, is the running emulator and its seeded pool; nil
	// otherwise.
	CognitoLocal *cognitolocal.Emulator
	// Web is what the web app is told about the identity provider.
	Web webapp.Config
	// Authz is cognito-authz, running in-process.
	Authz *extauthz.Service
	// Envoy fronts the backend and asks Authz about every request but /healthz.
	Envoy *envoyproc.Envoy
	// Config is the configuration Authz runs.
	Config *extauthz.Config

	info            Info // but for the URLs Envoy's port decides
	backendURL      string
	backendRequests atomic.Int64
	servers         []*http.Server
	client          *http.Client
}

// Start starts the issuer, the backend, cognito-authz (and waits until it has loaded its keys) and
// Envoy. ctx bounds the start only. On error everything already started is stopped again.
func Start(ctx context.Context, opts Options) (s *Stack, err error) {
	bin := opts.EnvoyBinary
	if bin == "" {
		if bin, err = envoyproc.FindBinary(); err != nil {
			return nil, fmt.Errorf("%w; install it: %s", err, envoyproc.InstallHint)
		}
	}
	readyTimeout := opts.ReadyTimeout
	if readyTimeout <= 0 {
		readyTimeout = DefaultReadyTimeout
	}
	s = &Stack{client: &http.Client{
		Timeout: 10 * time.Second,
		// Only loopback is reachable; a proxy from the environment must never be asked.
		Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4},
		// A redirect would be the answer under test, not something to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	defer func() {
		if err != nil {
			_ = s.Stop(context.WithoutCancel(ctx))
			s = nil
		}
	}()

	if err := s.startIdP(ctx, opts); err != nil {
		return s, err
	}

	backendAddr := opts.Backend
	if backendAddr == "" {
		backendLis, err := listenLoopback()
		if err != nil {
			return s, err
		}
		backendAddr = backendLis.Addr().String()
		app := s.app(backend.New(backend.Options{}), webapp.Handler(s.Web))
		s.serve(backendLis, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.backendRequests.Add(1)
			app.ServeHTTP(w, r)
		}))
	}
	s.backendURL = "http://" + backendAddr

	if opts.Configure != nil {
		opts.Configure(s.Config)
	}
	if s.Authz, err = extauthz.NewService(s.Config, opts.Logger); err != nil {
		return s, fmt.Errorf("cognito-authz: %w", err)
	}
	if err := s.Authz.Start(ctx); err != nil {
		return s, fmt.Errorf("cognito-authz: %w", err)
	}
	if err := poll.Until(ctx, readyTimeout, s.Authz.Ready); err != nil {
		return s, fmt.Errorf("cognito-authz did not load its keys (issuers %v): %w", s.issuerNames(), err)
	}

	cognitoAPI := ""
	if s.CognitoLocal != nil {
		cognitoAPI = strings.TrimPrefix(s.CognitoLocal.URL(), "http://")
	}
	s.Envoy, err = envoyproc.Start(ctx, envoyproc.Config{
		Backend:      backendAddr,
		DemoApp:      opts.Backend == "", // the web app and outbox are served with the demo backend
		CognitoAPI:   cognitoAPI,
		Authz:        s.Authz.GRPCAddr().String(),
		AuthzTimeout: opts.AuthzTimeout,
		ListenPort:   opts.EnvoyPort,
		Binary:       bin,
		LogLevel:     opts.EnvoyLogLevel,
		ReadyTimeout: readyTimeout,
		Dir:          opts.EnvoyDir,
	})
	if err != nil {
		return s, err
	}
	return s, nil
}

// startIdP starts the identity provider opts name and sets what cognito-authz (s.Config), the
// web app (s.Web) and Info are told about it.
func (s *Stack) startIdP(ctx context.Context, opts Options) error {
	switch opts.IdP {
	case "", IdPBuiltin:
		issuerLis, err := listenLoopback()
		if err != nil {
			return err
		}
		s.Issuer, err = issuer.New(issuer.Options{BaseURL: "http://" + issuerLis.Addr().String(), ClientIDs: []string{ClientID}, TTL: opts.TokenTTL})
		if err != nil {
			issuerLis.Close()
			return err
		}
		s.serve(issuerLis, s.Issuer)
		s.Config = DemoConfig(s.Issuer.IssuerURL(), s.Issuer.JWKSURL())
		s.Web = webapp.Config{IdP: IdPBuiltin, Region: localRegion, UserPoolID: s.Issuer.PoolID(), ClientID: ClientID}
		s.info = Info{IdP: IdPBuiltin, Region: localRegion, UserPoolID: s.Issuer.PoolID(), ClientID: ClientID,
			Issuer: s.Issuer.IssuerURL()}
	case IdPCognitoLocal:
		cl, err := cognitolocal.Start(ctx, cognitolocal.Options{OnCode: opts.OnCode, AccessTokenTTL: opts.TokenTTL, Logf: opts.NPMLogf})
		if err != nil {
			return err
		}
		s.CognitoLocal = cl
		p := cl.Pool
		s.Config = DemoConfig(p.Issuer, p.JWKSURL)
		s.Config.Issuers[0].ClientIDs = []string{p.ClientID}
		s.Web = CognitoLocalWeb(p)
		s.info = Info{IdP: IdPCognitoLocal, Region: p.Region, UserPoolID: p.ID, ClientID: p.ClientID, Issuer: p.Issuer}
	case IdPAWS:
		cfg, web, info, err := AWSSetup(opts.AWS)
		if err != nil {
			return err
		}
		s.Config, s.Web, s.info = cfg, web, info
	default:
		return fmt.Errorf("unknown identity provider %q: want one of %s", opts.IdP, strings.Join(IdPs, ", "))
	}
	return nil
}

// CognitoLocalWeb is what the web app is told about cognito-local's pool p, which it reaches
// same-origin through Envoy.
func CognitoLocalWeb(p cognitolocal.Pool) webapp.Config {
	policy := p.PasswordPolicy
	return webapp.Config{IdP: IdPCognitoLocal, Region: p.Region, UserPoolID: p.ID, ClientID: p.ClientID, Endpoint: cognitoAPIEndpoint,
		PasswordPolicy: &policy, OutboxURL: OutboxPath}
}

// localRegion is the region of the local pools: the part of their id before "_", as Amplify
// derives it (local_pool, cognito-local's local_XXXXXXXX).
const localRegion = "local"

// app is what the backend cluster serves (DemoApp), with the emulator's outbox when there is one.
func (s *Stack) app(demo, web http.Handler) http.Handler {
	var outbox http.Handler
	if s.CognitoLocal != nil {
		outbox = s.CognitoLocal.Outbox
	}
	return DemoApp(demo, web, outbox)
}

// DemoApp is what the backend cluster serves: the web app's paths and the outbox, when not nil
// (Envoy's auth-off routes, envoyconf's DemoApp), and the demo backend for everything else. Paths
// are compared as they arrived, still escaped, as the backend does.
func DemoApp(demo, web, outbox http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.EscapedPath()
		switch {
		case path == OutboxPath && outbox != nil:
			outbox.ServeHTTP(w, r)
		case slices.Contains(webapp.PagePaths, path) || path == webapp.AppConfigPath || strings.HasPrefix(path, webapp.StaticPrefix):
			web.ServeHTTP(w, r)
		default:
			demo.ServeHTTP(w, r)
		}
	})
}

// Info describes the running stack (`testenv up --info`).
func (s *Stack) Info() Info {
	info := s.info
	info.AppURL = s.URL()
	if s.CognitoLocal != nil {
		info.IdPEndpoint = s.URL() + cognitoAPIEndpoint
		info.OutboxURL = s.URL() + OutboxPath
	}
	return info
}

func listenLoopback() (net.Listener, error) {
	return net.Listen("tcp", "127.0.0.1:0")
}

func (s *Stack) serve(l net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.Serve(l) }()
}

func (s *Stack) issuerNames() []string {
	var names []string
	for _, is := range s.Config.Issuers {
		names = append(names, is.Issuer+is.UserPoolID)
	}
	return names
}

// URL is Envoy's listener, where the app is reached, e.g. http://127.0.0.1:8000.
func (s *Stack) URL() string { return s.Envoy.URL() }

// BackendURL is the backend (the demo's, or Options.Backend), reached directly (unchecked).
func (s *Stack) BackendURL() string { return s.backendURL }

// BackendRequests counts the requests that reached the demo backend, however they came (none
// with Options.Backend).
func (s *Stack) BackendRequests() int64 { return s.backendRequests.Load() }

// Checks is how many Check calls cognito-authz has answered (cognito_authz_checks_total, every
// result). A check is counted before its answer is sent, so once a response through Envoy is
// back, the check behind it is counted.
func (s *Stack) Checks() (float64, error) {
	return counterSum(s.Authz.Metrics().Registry(), "cognito_authz_checks_total")
}

// KeyFetches is how many key-set fetches cognito-authz has finished, failed ones included
// (cognito_authz_jwks_fetches_total). A fetch is counted once it has logged its outcome.
func (s *Stack) KeyFetches() (float64, error) {
	return counterSum(s.Authz.Metrics().Registry(), "cognito_authz_jwks_fetches_total")
}

func counterSum(g prometheus.Gatherer, name string) (float64, error) {
	families, err := g.Gather()
	if err != nil {
		return 0, err
	}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		var total float64
		for _, m := range mf.GetMetric() {
			total += m.GetCounter().GetValue()
		}
		return total, nil
	}
	return 0, fmt.Errorf("no metric %s", name)
}

// StopAuthz shuts cognito-authz down and leaves the rest running, so a test can see what Envoy
// does without it.
func (s *Stack) StopAuthz(ctx context.Context) error {
	return s.Authz.Shutdown(ctx)
}

// Stop ends everything, Envoy first so nothing is left calling a stopped upstream. ctx bounds
// cognito-authz's and the servers' graceful shutdown. It is safe to call more than once.
func (s *Stack) Stop(ctx context.Context) error {
	var errs []error
	if s.Envoy != nil {
		if err := s.Envoy.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("envoy: %w", err))
		}
	}
	if s.Authz != nil {
		if err := s.Authz.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("cognito-authz: %w", err))
		}
	}
	for _, srv := range s.servers {
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
			errs = append(errs, err)
		}
	}
	if s.CognitoLocal != nil {
		if err := s.CognitoLocal.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("cognito-local: %w", err))
		}
	}
	s.client.CloseIdleConnections()
	return errors.Join(errs...)
}

// Answer is what one request through Envoy got back.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
	// App is the demo backend's answer when the request reached it, nil when Envoy or
	// cognito-authz answered on their own.
	App *backend.Response
}

// Received returns every value of the request header name (lower-case) that reached the app,
// nil when nothing reached it.
func (a *Answer) Received(name string) []string {
	if a.App == nil {
		return nil
	}
	return a.App.Headers[name]
}

// String describes the answer for a failure message.
func (a *Answer) String() string {
	body := a.Body
	if len(body) > 2048 {
		body = append(body[:2048:2048], "..."...)
	}
	return fmt.Sprintf("%d %v\n%s", a.Status, a.Header, body)
}

// maxAnswerBytes caps a body read back: the backend's answers are a few kilobytes.
const maxAnswerBytes = 1 << 20

// Get sends GET path (e.g. /api/admin) through Envoy with the given request headers. Header keys
// are sent as written, so a test can repeat a header or vary its case.
func (s *Stack) Get(ctx context.Context, path string, header http.Header) (*Answer, error) {
	return s.do(ctx, s.URL()+path, "", header)
}

// GetAsIs is Get with path sent in the request line exactly as written (dot segments, ";" and
// "#" included), as curl --path-as-is sends it.
func (s *Stack) GetAsIs(ctx context.Context, path string, header http.Header) (*Answer, error) {
	return s.do(ctx, s.URL(), path, header)
}

// do sends GET url, or GET opaque to url's host when opaque is set.
func (s *Stack) do(ctx context.Context, url, opaque string, header http.Header) (*Answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.URL.Opaque = opaque
	for name, values := range header {
		req.Header[name] = append(req.Header[name], values...)
	}
	if host := header.Get("Host"); host != "" { // Go sends req.Host, never a Host header
		req.Host = host
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	a := &Answer{Status: resp.StatusCode, Header: resp.Header, Body: body}
	a.App = appAnswer(resp.Header, body)
	return a, nil
}

// appAnswer decodes body as the backend's answer. Denials of cognito-authz are JSON too but carry
// no "headers" object, and Envoy's own answers are not JSON: both give nil.
func appAnswer(h http.Header, body []byte) *backend.Response {
	if mt, _, err := mime.ParseMediaType(h.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil
	}
	var app backend.Response
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&app); err != nil || app.Headers == nil {
		return nil
	}
	return &app
}

// Bearer is an Authorization header carrying token.
func Bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}
