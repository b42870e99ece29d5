package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/cognito-authz/cognito-authz/extauthz"
	"github.com/cognito-authz/cognito-authz/testenv/backend"
	"github.com/cognito-authz/cognito-authz/testenv/cognitoapi"
	"github.com/cognito-authz/cognito-authz/testenv/cognitolocal"
	"github.com/cognito-authz/cognito-authz/testenv/e2e"
	"github.com/cognito-authz/cognito-authz/testenv/envoyconf"
	"github.com/cognito-authz/cognito-authz/testenv/envoyproc"
	"github.com/cognito-authz/cognito-authz/testenv/issuer"
	"github.com/cognito-authz/cognito-authz/testenv/npmcache"
)

// upStdout receives the stack's description; a variable so a test can read it.
var upStdout io.Writer = os.Stdout

// The demo's users: one in group admin, one in no group.
const (
	upAdminUser = "alice"
	upPlainUser = "bob"
	upAdminVar  = "ADMIN_TOKEN"
	upUserVar   = "USER_TOKEN"
)

// upDefaultPort keeps the printed curl lines the same from run to run (envoy/envoy-local.yaml's port).
var upDefaultPort = envoyconf.Local().ListenPort

// upDefaultIdP is what `make demo` runs: the emulator, so a person can sign in.
const upDefaultIdP = e2e.IdPCognitoLocal

// upSignalGrace bounds how long after Envoy ends up waits for the Ctrl-C that may have ended it.
const upSignalGrace = 2 * time.Second

// upFlags are the up command's settings.
type upFlags struct {
	port     int
	ttl      time.Duration
	check    bool
	logLevel string
	idp      string
	aws      e2e.AWSPool
	region   string
	info     string
}

func parseUpFlags(e env, args []string) (upFlags, error) {
	var f upFlags
	fs := newFlagSet(e, "up",
		"Starts an identity provider, cognito-authz, the demo backend and web app and Envoy on loopback,\n"+
			"prints the URL, users, tokens and curl lines to try, and runs until Ctrl-C. Needs envoy\n"+
			"("+envoyproc.InstallHint+"); --idp cognito-local needs Node.js and npm.")
	fs.IntVar(&f.port, "port", upDefaultPort, "Envoy's port on 127.0.0.1 (0: any free port)")
	fs.DurationVar(&f.ttl, "ttl", 8*time.Hour, "lifetime of the printed tokens (at most 24h, as in Cognito)")
	fs.BoolVar(&f.check, "check", false, "send the printed requests, report each answer, stop; exit 1 if one is not as printed")
	fs.StringVar(&f.logLevel, "log-level", "warn", "cognito-authz's log level on stderr ("+strings.Join(extauthz.LogLevels, ", ")+")")
	fs.StringVar(&f.idp, "idp", upDefaultIdP, "identity provider: "+e2e.IdPCognitoLocal+" (the npm Cognito emulator, seeded), "+
		e2e.IdPBuiltin+" (the local issuer: minted tokens, no Node.js) or "+e2e.IdPAWS+" (a real user pool)")
	fs.StringVar(&f.aws.UserPoolID, "user-pool-id", "", "with --idp aws: the user pool, e.g. us-east-1_AbCdEf123")
	fs.StringVar(&f.aws.ClientID, "client-id", "", "with --idp aws: its app client (no secret)")
	fs.StringVar(&f.region, "region", "", "with --idp aws: the pool's region (default: from the pool id)")
	fs.StringVar(&f.info, "info", "", "once the stack is ready, write a JSON description of it (app_url, idp_endpoint, user_pool_id, ...) to this file")
	if err := parseFlags(fs, args); err != nil {
		return f, err
	}
	var problems flagProblems
	problems.check(f.port < 0 || f.port > 65535, "--port %d: want 0 to 65535", f.port)
	problems.check(f.ttl <= 0 || f.ttl > 24*time.Hour, "--ttl %v: want more than 0 and at most 24h", f.ttl)
	problems.check(!slices.Contains(extauthz.LogLevels, f.logLevel), "--log-level %q: want one of %s", f.logLevel, strings.Join(extauthz.LogLevels, ", "))
	problems.check(!slices.Contains(e2e.IdPs, f.idp), "--idp %q: want one of %s", f.idp, strings.Join(e2e.IdPs, ", "))
	if f.idp == e2e.IdPAWS {
		if err := f.aws.Check(); err != nil {
			problems.check(true, "--idp aws: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
		}
		region := extauthz.RegionOf(f.aws.UserPoolID)
		problems.check(f.region != "" && region != "" && f.region != region, "--region %s: the pool %s is in %s", f.region, f.aws.UserPoolID, region)
	} else {
		problems.check(f.aws.UserPoolID != "" || f.aws.ClientID != "" || f.region != "", "--user-pool-id, --client-id and --region go with --idp aws")
	}
	return f, problems.err()
}

func runUp(ctx context.Context, e env, args []string) error {
	f, err := parseUpFlags(e, args)
	if err != nil {
		return err
	}
	bin, err := envoyproc.FindBinary()
	if err != nil {
		return fmt.Errorf("%w\nthe stack needs a real Envoy %s: %s (or `make demo`, which installs it)",
			err, envoyconf.EnvoyVersion, envoyproc.InstallHint)
	}
	if f.port != 0 {
		// Envoy would fail too, but with a page of its own log instead of the fix.
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(f.port)))
		if err != nil {
			return fmt.Errorf("port %d is not free (%v); pick another with --port", f.port, err)
		}
		l.Close()
	}

	logf := e.logf("up")
	codes := newUpCodePrinter(upStdout)
	defer codes.stop()
	stack, err := e2e.Start(ctx, upOptions(f, bin, upLogger(e.stderr, f.logLevel), codes.print, logf))
	if err != nil {
		if ctx.Err() != nil {
			return nil // interrupted while starting: Start has stopped what it started
		}
		if errors.Is(err, npmcache.ErrUnavailable) {
			return fmt.Errorf("%w\n--idp %s runs under Node.js; --idp %s needs none", err, f.idp, e2e.IdPBuiltin)
		}
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
		defer cancel()
		if err := stack.Stop(stopCtx); err != nil && ctx.Err() == nil {
			logf("stop: %v", err)
		}
	}()

	demo, err := newUpDemo(stack)
	if err != nil {
		return err
	}
	demo.print(upStdout, viewOf(stack), f)
	codes.start()
	if f.info != "" {
		if err := writeInfo(f.info, stack.Info()); err != nil {
			return err
		}
	}
	if f.check {
		return demo.check(ctx, upStdout, stack)
	}
	if e.onListen != nil {
		e.onListen(stackAddr(stack))
	}
	select {
	case <-ctx.Done():
		logf("stopping")
		return nil
	case <-stack.Envoy.Exited():
		// Ctrl-C reaches Envoy too (one process group), and Envoy may end before this process has
		// seen its own SIGINT: give that signal a moment to arrive before calling the exit a failure.
		select {
		case <-ctx.Done():
			logf("stopping")
			return nil
		case <-time.After(upSignalGrace):
		}
		return fmt.Errorf("envoy exited on its own; its log:\n%s", stack.Envoy.Log())
	}
}

// upOptions is the stack the flags describe. onCode receives cognito-local's codes; npmLogf is
// told about a first-run install.
func upOptions(f upFlags, envoyBin string, logger *zap.Logger, onCode func(cognitolocal.Message), npmLogf func(string, ...any)) e2e.Options {
	return e2e.Options{
		EnvoyBinary: envoyBin,
		EnvoyPort:   f.port,
		TokenTTL:    f.ttl,
		Logger:      logger,
		IdP:         f.idp,
		AWS:         f.aws,
		OnCode:      onCode,
		NPMLogf:     npmLogf,
	}
}

// upCodePrinter prints the codes cognito-local delivers, in order, once the stack's description
// is out (a code sent while starting follows it). print never waits for the terminal: it is called
// while the call that sent the code is being answered, and a terminal that does not take output
// (scrolled back, paused) must hold up neither the answer nor the outbox.
type upCodePrinter struct {
	w       io.Writer
	mu      sync.Mutex
	queue   []cognitolocal.Message
	started bool
	stopped bool
	wake    chan struct{} // buffered: one wake-up pending is enough
}

func newUpCodePrinter(w io.Writer) *upCodePrinter {
	return &upCodePrinter{w: w, wake: make(chan struct{}, 1)}
}

func (p *upCodePrinter) print(m cognitolocal.Message) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	p.queue = append(p.queue, m)
	if p.started {
		p.signal()
	}
}

// signal wakes the printing goroutine; p.mu is held.
func (p *upCodePrinter) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// start prints what was held and, from then on, each code as it comes.
func (p *upCodePrinter) start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started || p.stopped {
		return
	}
	p.started = true
	go p.run()
	p.signal()
}

func (p *upCodePrinter) run() {
	for range p.wake {
		p.mu.Lock()
		queue := p.queue
		p.queue = nil
		p.mu.Unlock()
		for _, m := range queue {
			fmt.Fprintf(p.w, "outbox %s  %s code for %s: %s\n", m.Time.Local().Format(time.TimeOnly), m.Purpose, m.Username, m.Code)
		}
	}
}

// stop ends the printing after what is queued, without waiting for it: a terminal that takes no
// output must not keep the stack from stopping.
func (p *upCodePrinter) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stopped {
		p.stopped = true
		close(p.wake)
	}
}

// writeInfo writes info as one JSON object to path, atomically: a program waiting for the file
// never reads half of it.
func writeInfo(path string, info e2e.Info) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".testenv-info-*")
	if err != nil {
		return fmt.Errorf("--info: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	_, werr := tmp.Write(append(b, '\n'))
	if err := errors.Join(werr, tmp.Close()); err != nil {
		return fmt.Errorf("--info: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("--info: %w", err)
	}
	return nil
}

// stackAddr is Envoy's listener address, for env.onListen.
func stackAddr(s *e2e.Stack) net.Addr {
	addr, err := net.ResolveTCPAddr("tcp", strings.TrimPrefix(s.URL(), "http://"))
	if err != nil {
		return &net.TCPAddr{} // URL is always http://host:port
	}
	return addr
}

func upLogger(w io.Writer, level string) *zap.Logger {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		lvl = zapcore.WarnLevel
	}
	enc := zap.NewDevelopmentEncoderConfig()
	return zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.AddSync(w), lvl)).Named("cognito-authz")
}

// upDemo is the printed users, tokens and the requests to try with them.
type upDemo struct {
	tokens   map[string]string // by shell variable
	requests []upRequest
	users    []cognitolocal.User // cognito-local's: admin, then the plain user
}

// upRequest is one printed curl line and the answer it should get.
type upRequest struct {
	what     string
	path     string
	tokenVar string // "" for no token; a token variable, or upBadToken
	status   int
	// authStatus is the x-auth-status the app should see; "" when the request must not reach it.
	authStatus string
	// reason is the x-auth-reason the app should see, if any.
	reason string
}

// upBadToken is a token no issuer signed.
const upBadToken = "not-a-jwt"

// newUpDemo gets the printed tokens: minted by the local issuer, or signed in for at cognito-local
// while it was seeded. A real pool's users are unknown: no tokens, and only the requests without
// one.
func newUpDemo(s *e2e.Stack) (*upDemo, error) {
	d := &upDemo{tokens: map[string]string{}}
	switch {
	case s.Issuer != nil:
		if _, err := s.Issuer.SetGroups(upAdminUser, "admin"); err != nil {
			return nil, err
		}
		for variable, user := range map[string]string{upAdminVar: upAdminUser, upUserVar: upPlainUser} {
			tok, err := s.Issuer.Mint(issuer.TokenSpec{Username: user})
			if err != nil {
				return nil, err
			}
			d.tokens[variable] = tok
		}
	case s.CognitoLocal != nil:
		// The sign-ins of the seeding, before alice had SMS MFA: signing her in now would put an
		// SMS code in the outbox that a person could take for their own.
		p := s.CognitoLocal.Pool
		for variable, user := range map[string]cognitolocal.User{upAdminVar: p.Admin, upUserVar: p.User} {
			tok, ok := s.CognitoLocal.SeededTokens(user)
			if !ok {
				return nil, fmt.Errorf("cognito-local signed %s in at seeding without tokens", user.Username)
			}
			d.tokens[variable] = tok.AccessToken
		}
		d.users = []cognitolocal.User{p.Admin, p.User}
	}
	for _, r := range upRequests() {
		if r.tokenVar == "" || r.tokenVar == upBadToken || d.tokens[r.tokenVar] != "" {
			d.requests = append(d.requests, r)
		}
	}
	return d, nil
}

// upRequests are the requests to try, for the demo's users alice (admin) and bob.
func upRequests() []upRequest {
	return []upRequest{
		{"anonymous: the public feed (x-auth-status: anonymous)", backend.HomePath, "", http.StatusOK, "anonymous", "missing"},
		{"authenticated: " + upPlainUser + "'s own draft on top of the feed", backend.HomePath, upUserVar, http.StatusOK, "authenticated", ""},
		{"not a token: still the public feed, x-auth-reason: malformed", backend.HomePath, upBadToken, http.StatusOK, "anonymous", "malformed"},
		{"admin route without a token: 401 with WWW-Authenticate", backend.AdminPath, "", http.StatusUnauthorized, "", ""},
		{"admin route, " + upPlainUser + " is in no group: 403", backend.AdminPath, upUserVar, http.StatusForbidden, "", ""},
		{"admin route, " + upAdminUser + " is in group admin: 200", backend.AdminPath, upAdminVar, http.StatusOK, "authenticated", ""},
	}
}

func (r upRequest) curl(base string) string {
	auth := ""
	switch r.tokenVar {
	case "":
	case upBadToken:
		auth = `-H "Authorization: Bearer ` + upBadToken + `" `
	default:
		auth = `-H "Authorization: Bearer $` + r.tokenVar + `" `
	}
	return "curl -si " + auth + base + r.path
}

func (r upRequest) header(tokens map[string]string) http.Header {
	switch r.tokenVar {
	case "":
		return nil
	case upBadToken:
		return e2e.Bearer(upBadToken)
	default:
		return e2e.Bearer(tokens[r.tokenVar])
	}
}

// upView is what up prints about a running stack.
type upView struct {
	info         e2e.Info
	authzGRPC    string
	authzAdmin   string
	issuerURL    string // the local issuer, builtin only
	jwksURL      string
	emulatorURL  string // cognito-local reached directly, cognito-local only
	backendURL   string
	envoyAdmin   string
	envoyLogPath string
}

func viewOf(s *e2e.Stack) upView {
	v := upView{
		info:         s.Info(),
		authzGRPC:    s.Authz.GRPCAddr().String(),
		authzAdmin:   "http://" + s.Authz.AdminAddr().String(),
		backendURL:   s.BackendURL(),
		envoyAdmin:   s.Envoy.AdminURL(),
		envoyLogPath: s.Envoy.LogPath(),
	}
	if s.Issuer != nil {
		v.issuerURL, v.jwksURL = s.Issuer.IssuerURL(), s.Issuer.JWKSURL()
	}
	if s.CognitoLocal != nil {
		v.emulatorURL = s.CognitoLocal.URL()
	}
	return v
}

func (d *upDemo) print(w io.Writer, v upView, f upFlags) {
	base, info := v.info.AppURL, v.info
	fmt.Fprintf(w, "The local stack is up: Envoy in front of the demo app, every request checked by cognito-authz.\n\n")
	fmt.Fprintf(w, "  web app, through Envoy  %s/\n", base)
	switch info.IdP {
	case e2e.IdPBuiltin:
		fmt.Fprintf(w, "  identity provider       builtin: the local issuer %s (keys: %s); no sign-in, tokens are minted\n", v.issuerURL, v.jwksURL)
	case e2e.IdPCognitoLocal:
		fmt.Fprintf(w, "  identity provider       cognito-local %s (%s), user pool %s, app client %s\n", cognitolocal.Version, v.emulatorURL, info.UserPoolID, info.ClientID)
		fmt.Fprintf(w, "  Cognito API             %s (same-origin, auth off)\n", info.IdPEndpoint)
		fmt.Fprintf(w, "  outbox                  %s (codes sent by email or SMS; also printed below)\n", info.OutboxURL)
	case e2e.IdPAWS:
		fmt.Fprintf(w, "  identity provider       aws: user pool %s (%s), app client %s; the page calls %s\n", info.UserPoolID, info.Region, info.ClientID, info.IdPEndpoint)
	}
	fmt.Fprintf(w, "  cognito-authz           gRPC %s; %s/metrics, /readyz\n", v.authzGRPC, v.authzAdmin)
	fmt.Fprintf(w, "  demo app, direct        %s (unchecked: do not expose)\n", v.backendURL)
	fmt.Fprintf(w, "  Envoy admin and log     %s, %s\n\n", v.envoyAdmin, v.envoyLogPath)

	if len(d.users) > 0 {
		fmt.Fprintln(w, "Users, to sign in on the web app:")
		for _, u := range d.users {
			what := "in no group"
			if len(u.Groups) > 0 {
				what = "in group " + strings.Join(u.Groups, ",")
			}
			if u.SMSMFA {
				what += "; asks for an SMS code (see the outbox)"
			}
			fmt.Fprintf(w, "  %-6s password %-16s %s\n", u.Username, u.Password, what)
		}
		fmt.Fprintln(w, "  or sign up a new one: the confirmation code arrives in the outbox.")
		fmt.Fprintln(w)
	}
	if info.IdPEndpoint != "" {
		fmt.Fprintln(w, "Your own Amplify front end (aws-amplify v6) against this pool:")
		fmt.Fprintf(w, "  Amplify.configure({Auth: {Cognito: {userPoolId: %q, userPoolClientId: %q,\n", info.UserPoolID, info.ClientID)
		if info.IdP == e2e.IdPCognitoLocal {
			fmt.Fprintf(w, "    userPoolEndpoint: %q}}})\n", info.IdPEndpoint)
		} else {
			fmt.Fprintf(w, "    }}})\n")
		}
		fmt.Fprintln(w, `  signIn({username, password, options: {authFlowType: "USER_PASSWORD_AUTH"}})`)
		fmt.Fprintln(w, "  with Amplify's CookieStorage the session rides in cookies that cognito-authz reads (amplify_cookies).")
		fmt.Fprintln(w)
	}

	if len(d.tokens) > 0 {
		how := "minted by the local issuer"
		if info.IdP == e2e.IdPCognitoLocal {
			how = "signed in at cognito-local as it was seeded (no code was sent)"
		}
		fmt.Fprintf(w, "Access tokens, %s, valid for %s:\n", how, upDuration(f.ttl))
		fmt.Fprintf(w, "  # %s, in group admin\n  export %s=%s\n", upAdminUser, upAdminVar, d.tokens[upAdminVar])
		fmt.Fprintf(w, "  # %s, in no group\n  export %s=%s\n", upPlainUser, upUserVar, d.tokens[upUserVar])
		fmt.Fprintf(w, "  # the pool, for bin/cognito-authz verify (README: Check a token by hand)\n  %s\n\n", upPoolExports(info))
	}

	fmt.Fprintln(w, "Try:")
	for _, r := range d.requests {
		fmt.Fprintf(w, "  # %s\n  %s\n", r.what, r.curl(base))
	}
	switch info.IdP {
	case e2e.IdPBuiltin:
		fmt.Fprintf(w, "  # more tokens, ID tokens too, from the local issuer:\n")
		fmt.Fprintf(w, "  curl -s -X POST %s/token -d '{\"username\":\"carol\",\"groups\":[\"admin\"],\"token_use\":\"id\"}'\n", v.issuerURL)
	case e2e.IdPCognitoLocal:
		fmt.Fprintf(w, "  # sign in through Envoy, as the web app does (Cognito's InitiateAuth):\n  %s\n", upSignInCurl(info, d.users[1]))
	}
	fmt.Fprintln(w)
	if !f.check {
		fmt.Fprintln(w, "Ctrl-C stops everything.")
	}
}

// upPoolVars name the pool for the README's shell lines: its issuer, app client and, with
// cognito-local, its Cognito API.
const (
	upIssuerVar     = "ISSUER"
	upClientIDVar   = "CLIENT_ID"
	upCognitoAPIVar = "COGNITO_API"
)

// upPoolExports is the export line of upPoolVars.
func upPoolExports(info e2e.Info) string {
	line := "export " + upIssuerVar + "=" + info.Issuer + " " + upClientIDVar + "=" + info.ClientID
	if info.IdPEndpoint != "" {
		line += " " + upCognitoAPIVar + "=" + info.IdPEndpoint
	}
	return line
}

// upSignIn is the request of a USER_PASSWORD_AUTH sign-in of u, as upSignInAction.
func upSignIn(info e2e.Info, u cognitolocal.User) map[string]any {
	return map[string]any{
		"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": info.ClientID,
		"AuthParameters": map[string]string{"USERNAME": u.Username, "PASSWORD": u.Password},
	}
}

const upSignInAction = "InitiateAuth"

func upSignInCurl(info e2e.Info, u cognitolocal.User) string {
	body, _ := json.Marshal(upSignIn(info, u)) // strings always marshal
	return "curl -s " + info.IdPEndpoint + " -H 'Content-Type: " + cognitoapi.ContentType + "' -H 'X-Amz-Target: " +
		cognitoapi.TargetPrefix + upSignInAction + "' -d '" + string(body) + "'"
}

// upDuration writes 8h for 8h0m0s and 1h30m for 1h30m0s.
func upDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// check sends every printed request and reports its answer.
func (d *upDemo) check(ctx context.Context, w io.Writer, s *e2e.Stack) error {
	fmt.Fprintln(w, "Checking the requests above:")
	failed, total := 0, 0
	report := func(what, problem string) {
		total++
		if problem != "" {
			failed++
			fmt.Fprintf(w, "  FAIL %s: %s\n", what, problem)
			return
		}
		fmt.Fprintf(w, "  ok   %s\n", what)
	}
	if a, err := s.Get(ctx, "/", nil); err != nil {
		report("the web app", err.Error())
	} else if ct := a.Header.Get("Content-Type"); a.Status != http.StatusOK || !strings.HasPrefix(ct, "text/html") {
		report("the web app", fmt.Sprintf("status %d, content-type %q, want 200 text/html", a.Status, ct))
	} else {
		report("the web app", "")
	}
	for _, r := range d.requests {
		a, err := s.Get(ctx, r.path, r.header(d.tokens))
		problem := ""
		switch {
		case err != nil:
			problem = err.Error()
		case a.Status != r.status:
			problem = fmt.Sprintf("status %d, want %d", a.Status, r.status)
		case r.authStatus == "" && a.App != nil:
			problem = "reached the app, want it stopped in front"
		case r.authStatus != "" && (a.App == nil || strings.Join(a.Received("x-auth-status"), ",") != r.authStatus):
			problem = fmt.Sprintf("the app saw x-auth-status %q, want %q", a.Received("x-auth-status"), r.authStatus)
		case strings.Join(a.Received("x-auth-reason"), ",") != r.reason:
			problem = fmt.Sprintf("the app saw x-auth-reason %q, want %q", a.Received("x-auth-reason"), r.reason)
		case r.status == http.StatusUnauthorized && !strings.HasPrefix(a.Header.Get("Www-Authenticate"), "Bearer "):
			problem = fmt.Sprintf("WWW-Authenticate %q, want a Bearer challenge", a.Header.Get("Www-Authenticate"))
		}
		report(r.what, problem)
	}
	if s.CognitoLocal != nil {
		report("sign in through Envoy", checkSignIn(ctx, s.Info(), d.users[1]))
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d requests were not answered as printed", failed, total)
	}
	return nil
}

// checkSignIn sends the printed sign-in request and returns what is wrong with the answer, or "".
func checkSignIn(ctx context.Context, info e2e.Info, u cognitolocal.User) string {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	api := cognitoapi.Client{URL: info.IdPEndpoint, HTTP: client}
	var out struct{ AuthenticationResult struct{ AccessToken string } }
	if err := api.Call(ctx, upSignInAction, upSignIn(info, u), &out); err != nil {
		return err.Error()
	}
	if out.AuthenticationResult.AccessToken == "" {
		return "no access token in the answer"
	}
	return ""
}
