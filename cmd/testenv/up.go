package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/cognito-authz/cognito-authz/extauthz/config"
	"github.com/cognito-authz/cognito-authz/testenv/backend"
	"github.com/cognito-authz/cognito-authz/testenv/e2e"
	"github.com/cognito-authz/cognito-authz/testenv/envoyconf"
	"github.com/cognito-authz/cognito-authz/testenv/envoyproc"
	"github.com/cognito-authz/cognito-authz/testenv/issuer"
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

// upSignalGrace bounds how long after Envoy ends up waits for the Ctrl-C that may have ended it.
const upSignalGrace = 2 * time.Second

// upFlags are the up command's settings.
type upFlags struct {
	port     int
	ttl      time.Duration
	check    bool
	logLevel string
}

func parseUpFlags(e env, args []string) (upFlags, error) {
	var f upFlags
	fs := newFlagSet(e, "up",
		"Starts the local issuer, cognito-authz, the demo backend and Envoy on loopback, prints the URL,\n"+
			"tokens and curl lines to try, and runs until Ctrl-C. Needs envoy ("+envoyproc.InstallHint+").")
	fs.IntVar(&f.port, "port", upDefaultPort, "Envoy's port on 127.0.0.1 (0: any free port)")
	fs.DurationVar(&f.ttl, "ttl", 8*time.Hour, "lifetime of the printed tokens (at most 24h, as in Cognito)")
	fs.BoolVar(&f.check, "check", false, "send the printed requests, report each answer, stop; exit 1 if one is not as printed")
	fs.StringVar(&f.logLevel, "log-level", "warn", "cognito-authz's log level on stderr ("+strings.Join(config.LogLevels, ", ")+")")
	if err := parseFlags(fs, args); err != nil {
		return f, err
	}
	var problems flagProblems
	problems.check(f.port < 0 || f.port > 65535, "--port %d: want 0 to 65535", f.port)
	problems.check(f.ttl <= 0 || f.ttl > 24*time.Hour, "--ttl %v: want more than 0 and at most 24h", f.ttl)
	problems.check(!slices.Contains(config.LogLevels, f.logLevel), "--log-level %q: want one of %s", f.logLevel, strings.Join(config.LogLevels, ", "))
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

	stack, err := e2e.Start(ctx, e2e.Options{
		EnvoyBinary: bin,
		EnvoyPort:   f.port,
		TokenTTL:    f.ttl,
		Logger:      upLogger(e.stderr, f.logLevel),
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil // interrupted while starting: Start has stopped what it started
		}
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
		defer cancel()
		if err := stack.Stop(stopCtx); err != nil && ctx.Err() == nil {
			fmt.Fprintf(e.stderr, "testenv up: stop: %v\n", err)
		}
	}()

	demo, err := newUpDemo(stack)
	if err != nil {
		return err
	}
	demo.print(upStdout, stack, f)
	if f.check {
		return demo.check(ctx, upStdout, stack)
	}
	if e.onListen != nil {
		e.onListen(stackAddr(stack))
	}
	select {
	case <-ctx.Done():
		fmt.Fprintln(e.stderr, "testenv up: stopping")
		return nil
	case <-stack.Envoy.Exited():
		// Ctrl-C reaches Envoy too (one process group), and Envoy may end before this process has
		// seen its own SIGINT: give that signal a moment to arrive before calling the exit a failure.
		select {
		case <-ctx.Done():
			fmt.Fprintln(e.stderr, "testenv up: stopping")
			return nil
		case <-time.After(upSignalGrace):
		}
		return fmt.Errorf("envoy exited on its own; its log:\n%s", stack.Envoy.Log())
	}
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

// upDemo is the printed tokens and the requests to try with them.
type upDemo struct {
	tokens   map[string]string // by shell variable
	requests []upRequest
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

func newUpDemo(s *e2e.Stack) (*upDemo, error) {
	d := &upDemo{tokens: map[string]string{}}
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
	d.requests = []upRequest{
		{"anonymous: the public feed (x-auth-status: anonymous)", backend.HomePath, "", http.StatusOK, "anonymous", "missing"},
		{"authenticated: " + upPlainUser + "'s own draft on top of the feed", backend.HomePath, upUserVar, http.StatusOK, "authenticated", ""},
		{"not a token: still the public feed, x-auth-reason: malformed", backend.HomePath, upBadToken, http.StatusOK, "anonymous", "malformed"},
		{"admin route without a token: 401 with WWW-Authenticate", backend.AdminPath, "", http.StatusUnauthorized, "", ""},
		{"admin route, " + upPlainUser + " is in no group: 403", backend.AdminPath, upUserVar, http.StatusForbidden, "", ""},
		{"admin route, " + upAdminUser + " is in group admin: 200", backend.AdminPath, upAdminVar, http.StatusOK, "authenticated", ""},
	}
	return d, nil
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

func (d *upDemo) print(w io.Writer, s *e2e.Stack, f upFlags) {
	base := s.URL()
	authzAdmin := "http://" + s.Authz.AdminAddr().String()
	fmt.Fprintf(w, "The local stack is up: Envoy in front of the demo app, every request checked by cognito-authz.\n\n")
	fmt.Fprintf(w, "  app, through Envoy   %s\n", base)
	fmt.Fprintf(w, "  cognito-authz        gRPC %s; %s/metrics, /readyz\n", s.Authz.GRPCAddr(), authzAdmin)
	fmt.Fprintf(w, "  local issuer         %s (keys: %s)\n", s.Issuer.IssuerURL(), s.Issuer.JWKSURL())
	fmt.Fprintf(w, "  demo app, direct     %s (unchecked: do not expose)\n", s.BackendURL())
	fmt.Fprintf(w, "  Envoy admin and log  %s, %s\n\n", s.Envoy.AdminURL(), s.Envoy.LogPath())

	fmt.Fprintf(w, "Access tokens, valid for %s:\n", upDuration(f.ttl))
	fmt.Fprintf(w, "  # %s, in group admin\n  export %s=%s\n", upAdminUser, upAdminVar, d.tokens[upAdminVar])
	fmt.Fprintf(w, "  # %s, in no group\n  export %s=%s\n\n", upPlainUser, upUserVar, d.tokens[upUserVar])

	fmt.Fprintln(w, "Try:")
	for _, r := range d.requests {
		fmt.Fprintf(w, "  # %s\n  %s\n", r.what, r.curl(base))
	}
	fmt.Fprintf(w, "  # more tokens, ID tokens too, from the local issuer:\n")
	fmt.Fprintf(w, "  curl -s -X POST %s/token -d '{\"username\":\"carol\",\"groups\":[\"admin\"],\"token_use\":\"id\"}'\n\n", s.Issuer.IssuerURL())
	if !f.check {
		fmt.Fprintln(w, "Ctrl-C stops everything.")
	}
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
	failed := 0
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
		if problem != "" {
			failed++
			fmt.Fprintf(w, "  FAIL %s: %s\n", r.what, problem)
			continue
		}
		fmt.Fprintf(w, "  ok   %s\n", r.what)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d requests were not answered as printed", failed, len(d.requests))
	}
	return nil
}
