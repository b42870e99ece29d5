package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/cognito-authz/cognito-authz/extauthz/config"
	"github.com/cognito-authz/cognito-authz/extauthz/policy"
	"github.com/cognito-authz/cognito-authz/extauthz/verifier"
	"github.com/cognito-authz/cognito-authz/testenv/backend"
	"github.com/cognito-authz/cognito-authz/testenv/bench"
	"github.com/cognito-authz/cognito-authz/testenv/edge"
	"github.com/cognito-authz/cognito-authz/testenv/envoyconf"
	"github.com/cognito-authz/cognito-authz/testenv/envoyproc"
	"github.com/cognito-authz/cognito-authz/testenv/issuer"
)

// benchStdout receives the table; a variable so a test can read it.
var benchStdout io.Writer = os.Stdout

// Bounds on the bench flags: the run stays short enough for one sitting and, since every token is
// minted before it starts, well inside the tokens' lifetime.
const (
	maxBenchDuration = 10 * time.Minute
	maxBenchWarmup   = time.Minute
	maxBenchUsers    = 100000
	benchClientID    = "bench-client"
)

// benchFlags are the bench command's settings.
type benchFlags struct {
	duration, warmup time.Duration
	rate, workers    int
	rounds, users    int
	anonymous        float64
	path, jsonPath   string
	envoyThreads     int
	check            bool
	cpuProfile       string
	authzProcs       int // GOMAXPROCS of the --authz-bin process; 0: Go's default
	authzBin         string
	floor            bool
	http             bool
}

func parseBenchFlags(e env, args []string) (benchFlags, error) {
	var f benchFlags
	fs := newFlagSet(e, "bench",
		"Starts the demo backend, the local issuer, cognito-authz and three Envoys on loopback (no-auth,\n"+
			"jwt_authn, cognito-authz: the same routes), then sends each the same token mix, first at --rate,\n"+
			"then flat out, and prints a table. Needs envoy ("+envoyproc.InstallHint+").")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "measured time per setup in each phase (fixed rate, then flat out)")
	fs.DurationVar(&f.warmup, "warmup", 2*time.Second, "unmeasured flat-out traffic per setup before the first phase")
	fs.IntVar(&f.rate, "rate", 500, "requests per second of the fixed-rate phase")
	fs.IntVar(&f.workers, "workers", bench.DefaultWorkers, "concurrent requests of the flat-out phase")
	fs.IntVar(&f.rounds, "rounds", bench.DefaultRounds, "turns per setup per phase, alternating the order of setups")
	fs.IntVar(&f.users, "users", 1000, "users with a token each; requests pick one at random, so tokens repeat")
	fs.Float64Var(&f.anonymous, "anonymous", 0.1, "share of requests without a token")
	fs.StringVar(&f.path, "path", backend.PingPath, "path requested (a route where auth is optional); the default's answer is the same\n"+
		"for every caller, so the app costs the same behind every setup")
	fs.StringVar(&f.jsonPath, "json", "", "also write the results to this file as JSON")
	fs.IntVar(&f.envoyThreads, "envoy-concurrency", 1, "worker threads of each Envoy")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of this process (load generator, backend, issuer, cognito-authz) during the measured phases")
	fs.StringVar(&f.authzBin, "authz-bin", "", "run cognito-authz from this binary as its own process (as deployed) instead of inside this one")
	fs.IntVar(&f.authzProcs, "authz-gomaxprocs", -1, "GOMAXPROCS of the --authz-bin process: -1 matches --envoy-concurrency (each proxy-side\n"+
		"process sized alike), 0 leaves Go's default (every CPU)")
	fs.BoolVar(&f.floor, "floor", false, "add a fourth setup, "+floorSetup+": Envoy's ext_authz to a second cognito-authz whose\n"+
		"every route is auth: off, which answers without looking at a token; the cost of any ext_authz call")
	fs.BoolVar(&f.http, "http", false, "add a setup, "+httpSetup+": Envoy's HTTP ext_authz to the same cognito-authz's HTTP\n"+
		"forward-auth endpoint (--http-listen, deploy/forwardauth/envoy-http-ext-authz.yaml), beside its gRPC ext_authz")
	fs.BoolVar(&f.check, "check", false, "exit 1 when cognito-authz misses a target against jwt_authn: throughput, p99, errors (issue #6),\n"+
		"Envoy CPU per request flat out (issue #13)")
	if err := parseFlags(fs, args); err != nil {
		return f, err
	}
	var problems flagProblems
	problems.check(f.duration <= 0 || f.duration > maxBenchDuration, "--duration %v: want more than 0 and at most %v", f.duration, maxBenchDuration)
	problems.check(f.warmup < 0 || f.warmup > maxBenchWarmup, "--warmup %v: want 0 to %v", f.warmup, maxBenchWarmup)
	problems.check(f.rate <= 0 || f.rate > 100000, "--rate %d: want 1 to 100000", f.rate)
	problems.check(f.workers <= 0 || f.workers > 1024, "--workers %d: want 1 to 1024", f.workers)
	problems.check(f.rounds <= 0 || f.rounds > 10, "--rounds %d: want 1 to 10", f.rounds)
	problems.check(f.users <= 0 || f.users > maxBenchUsers, "--users %d: want 1 to %d", f.users, maxBenchUsers)
	problems.check(!(f.anonymous >= 0 && f.anonymous < 1), "--anonymous %v: want at least 0 and below 1", f.anonymous)
	problems.check(!strings.HasPrefix(f.path, "/"), "--path %q: want a path starting with /", f.path)
	problems.check(f.envoyThreads <= 0 || f.envoyThreads > 64, "--envoy-concurrency %d: want 1 to 64", f.envoyThreads)
	problems.check(f.authzProcs < -1 || f.authzProcs > 1024, "--authz-gomaxprocs %d: want -1, 0 or up to 1024", f.authzProcs)
	problems.check(f.authzProcs != -1 && f.authzBin == "", "--authz-gomaxprocs needs --authz-bin: inside this process cognito-authz shares its GOMAXPROCS")
	if f.authzProcs == -1 {
		f.authzProcs = f.envoyThreads
	}
	return f, problems.err()
}

func runBench(ctx context.Context, e env, args []string) error {
	f, err := parseBenchFlags(e, args)
	if err != nil {
		return err
	}
	envoyBin, err := envoyproc.FindBinary()
	if err != nil {
		return fmt.Errorf("%w; %s", err, envoyproc.InstallHint)
	}
	stack, err := startBenchStack(ctx, e, f, envoyBin)
	if stack != nil {
		defer stack.close(e)
	}
	if err != nil {
		return err
	}
	if err := stack.probe(ctx); err != nil {
		return err
	}

	fmt.Fprintf(e.stderr, "testenv bench: %d users, %.0f%% anonymous, %s; %v warm-up, then %v at %d req/s and %v flat out (%d workers) per setup\n",
		f.users, f.anonymous*100, f.path, f.warmup, f.duration, f.rate, f.duration, f.workers)
	loadBefore := bench.LoadAverage()
	if f.cpuProfile != "" {
		stopProfile, err := bench.StartCPUProfile(f.cpuProfile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	report, err := bench.Run(ctx, bench.Options{
		Setups: stack.setups,
		Mix: bench.Mix{Path: f.path, Tokens: stack.tokens, AnonymousShare: f.anonymous,
			Seed: 1}, // fixed: two runs send the same sequence
		Warmup:   f.warmup,
		Duration: f.duration,
		Rate:     f.rate,
		Workers:  f.workers,
		Rounds:   f.rounds,
		Progress: e.stderr,
	})
	if err != nil {
		return err
	}
	report.Method.Machine = bench.DescribeMachine(ctx, envoyBin, f.envoyThreads) +
		fmt.Sprintf("; load average %s before, %s after", loadBefore, bench.LoadAverage())
	report.Method.Authz = describeAuthz(f)
	fmt.Fprintf(e.stderr, "testenv bench: %s\n", stack.authzCounters())

	if err := report.WriteTable(benchStdout); err != nil {
		return err
	}
	if f.jsonPath != "" {
		if err := writeReportFile(f.jsonPath, report); err != nil {
			return err
		}
	}
	if f.check {
		cs, err := report.Compare(bench.CognitoAuthz, bench.JWTAuthn)
		if err != nil {
			return err
		}
		for _, c := range cs {
			if !c.Met() {
				return fmt.Errorf("%s missed a target against %s in the %s phase (see the table)", c.Subject, c.Baseline, c.Phase)
			}
		}
	}
	return nil
}

func writeReportFile(path string, r *bench.Report) error {
	out, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--json: %w", err)
	}
	if err := r.WriteJSON(out); err != nil {
		out.Close()
		return fmt.Errorf("--json: %w", err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("--json: %w", err)
	}
	return nil
}

// floorSetup is --floor's setup: the ext_authz round trip with no token work, the least any
// ext_authz service costs. It is not one of issue #6's three setups.
const floorSetup = "ext_authz-floor"

// httpSetup is --http's setup: cognito-authz's HTTP forward-auth endpoint behind Envoy's HTTP
// ext_authz, to set its cost per check beside the gRPC filter's.
const httpSetup = "cognito-authz-http"

// benchStack is everything the bench runs against, on loopback ports of its own.
type benchStack struct {
	servers []*http.Server
	authz   bench.Authz
	floor   bench.Authz // --floor's cognito-authz, or nil
	envoys  []*envoyproc.Envoy
	setups  []bench.Setup
	tokens  []string
	subs    []string // subs[i] is the sub in tokens[i]
}

// startBenchStack starts the issuer, the backend, cognito-authz and one Envoy per setup. On error
// it returns what it started, for close.
func startBenchStack(ctx context.Context, e env, f benchFlags, envoyBin string) (*benchStack, error) {
	s := &benchStack{}
	issuerLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return s, err
	}
	is, err := issuer.New(issuer.Options{BaseURL: "http://" + issuerLis.Addr().String(), ClientIDs: []string{benchClientID}})
	if err != nil {
		issuerLis.Close()
		return s, err
	}
	s.serve(issuerLis, is)
	backendLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return s, err
	}
	s.serve(backendLis, backend.New(backend.Options{}))

	fmt.Fprintf(e.stderr, "testenv bench: minting %d tokens\n", f.users)
	for i := range f.users {
		name := fmt.Sprintf("bench-user-%05d", i)
		u, err := is.User(name)
		if err != nil {
			return s, err
		}
		tok, err := is.Mint(issuer.TokenSpec{Username: name})
		if err != nil {
			return s, err
		}
		s.tokens, s.subs = append(s.tokens, tok), append(s.subs, u.Sub)
	}

	startAuthz := func(cfg *config.Config) (bench.Authz, error) {
		if f.authzBin != "" {
			return bench.StartAuthzProcess(ctx, f.authzBin, f.authzProcs, cfg, e.stderr)
		}
		return bench.StartAuthzInProcess(ctx, cfg, e.stderr)
	}
	if s.authz, err = startAuthz(authzConfig(is, f.users)); err != nil {
		return s, err
	}
	type setup struct {
		name   string
		filter envoyconf.Filter
		authz  bench.Authz
		http   bool // Envoy's HTTP ext_authz to authz's HTTP endpoint
	}
	setups := []setup{
		{bench.NoAuth, envoyconf.NoAuth, nil, false},
		{bench.JWTAuthn, envoyconf.JWTAuthn, nil, false},
		{bench.CognitoAuthz, envoyconf.ExtAuthz, s.authz, false},
	}
	if f.http {
		setups = append(setups, setup{httpSetup, envoyconf.ExtAuthz, s.authz, true})
	}
	if f.floor {
		cfg := authzConfig(is, f.users)
		cfg.Policy.Rules = []config.Rule{{PathPrefix: "/", Auth: policy.AuthOff}}
		if s.floor, err = startAuthz(cfg); err != nil {
			return s, fmt.Errorf("%s: %w", floorSetup, err)
		}
		setups = append(setups, setup{floorSetup, envoyconf.ExtAuthz, s.floor, false})
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
			Binary:      envoyBin,
			LogLevel:    "error",
			Concurrency: f.envoyThreads,
		}
		if setup.http {
			if ec.Rendered, err = envoyHTTPConfig(backendLis.Addr().String(), setup.authz.HTTPAddr()); err != nil {
				return s, fmt.Errorf("envoy for %s: %w", setup.name, err)
			}
		}
		envoy, err := envoyproc.Start(ctx, ec)
		if err != nil {
			return s, fmt.Errorf("envoy for %s: %w", setup.name, err)
		}
		s.envoys = append(s.envoys, envoy)
		s.setups = append(s.setups, bench.Setup{Name: setup.name, BaseURL: envoy.URL(),
			Processes: processes(envoy, setup.authz)})
		fmt.Fprintf(e.stderr, "testenv bench: %s on %s\n", setup.name, envoy.URL())
	}
	return s, nil
}

// envoyHTTPConfig renders deploy/forwardauth/envoy-http-ext-authz.yaml for the bench's addresses.
func envoyHTTPConfig(backendAddr, authzHTTPAddr string) ([]byte, error) {
	endpoint := func(addr string) (envoyconf.Endpoint, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return envoyconf.Endpoint{}, err
		}
		p, err := strconv.Atoi(port)
		return envoyconf.Endpoint{Host: host, Port: p}, err
	}
	p := edge.Local("Rendered by testenv bench.")
	p.Listen.Port, p.Admin.Port = 0, 0
	var err error
	if p.Backend, err = endpoint(backendAddr); err != nil {
		return nil, err
	}
	if p.Authz, err = endpoint(authzHTTPAddr); err != nil {
		return nil, err
	}
	return edge.RenderEnvoyHTTP(p)
}

// processes lists what the bench measures per request for a setup: its Envoy, its cognito-authz
// (if any) when that has a process of its own, and this process (load generator, app and issuer,
// and cognito-authz when it runs here), whose share every setup pays.
func processes(envoy *envoyproc.Envoy, authz bench.Authz) []bench.Process {
	self := "testenv bench (load, app)"
	ps := []bench.Process{{Name: bench.EnvoyProcess, PID: envoy.PID()}}
	if authz != nil {
		if p, ok := authz.Process(); ok {
			ps = append(ps, p)
		} else {
			self = "testenv bench (load, app, authz)"
		}
	}
	return append(ps, bench.Process{Name: self, PID: os.Getpid()})
}

func (s *benchStack) serve(l net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
	s.servers = append(s.servers, srv)
	go srv.Serve(l)
}

// close stops everything, Envoys first so nothing calls a stopped upstream.
func (s *benchStack) close(e env) {
	for _, envoy := range s.envoys {
		if err := envoy.Stop(); err != nil {
			fmt.Fprintf(e.stderr, "testenv bench: stop envoy: %v\n", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	for _, a := range []bench.Authz{s.authz, s.floor} {
		if a == nil {
			continue
		}
		if err := a.Stop(ctx); err != nil {
			fmt.Fprintf(e.stderr, "testenv bench: stop cognito-authz: %v\n", err)
		}
	}
	for _, srv := range s.servers {
		_ = srv.Shutdown(ctx)
	}
}

// probe checks, before anything is measured, that each setup does what its name says: a request
// with a token reaches the app as that user behind jwt_authn and cognito-authz (so neither is
// fast because it lets everything through unverified), as nobody behind no-auth and the floor
// (which must not verify, or it would be no floor), and a request without a token is served
// everywhere.
func (s *benchStack) probe(ctx context.Context) error {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	for _, setup := range s.setups {
		for _, withToken := range []bool{true, false} {
			token := ""
			if withToken {
				token = s.tokens[0]
			}
			got, err := getBackend(ctx, client, setup.BaseURL+backend.HomePath, token)
			if err != nil {
				return fmt.Errorf("probe %s: %w", setup.Name, err)
			}
			sub := first(got.Headers["x-user-sub"])
			var want string
			if withToken && setup.Name != bench.NoAuth && setup.Name != floorSetup {
				want = s.subs[0]
			}
			if sub != want {
				return fmt.Errorf("probe %s (token: %v): the app saw x-user-sub %q, want %q", setup.Name, withToken, sub, want)
			}
			if setup.Name == bench.CognitoAuthz || setup.Name == httpSetup {
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

// authzCounters summarises cognito-authz's own metrics: how many checks it answered and how often
// the verified-token cache spared an RSA verification.
func (s *benchStack) authzCounters() string {
	c, err := s.authz.Counters()
	if err != nil {
		return fmt.Sprintf("cognito-authz metrics: %v", err)
	}
	return fmt.Sprintf("cognito-authz answered %.0f checks; verified-token cache: %.0f hits, %.0f misses",
		c["cognito_authz_checks_total"], c["cognito_authz_token_cache_hits_total"], c["cognito_authz_token_cache_misses_total"])
}

// authzConfig is the service's configuration for the bench issuer: the defaults otherwise, with
// room in the verified-token cache for every user, as a deployment sized for its users would have.
func authzConfig(is *issuer.Issuer, users int) *config.Config {
	cfg := config.Default()
	cfg.Listen, cfg.AdminListen, cfg.HTTPListen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Issuers = []config.Issuer{{Issuer: is.IssuerURL(), JWKSURL: is.JWKSURL(),
		ClientIDs: []string{benchClientID}, TokenUse: verifier.TokenUseAccess}}
	cfg.Cache.MaxEntries = max(cfg.Cache.MaxEntries, 2*users)
	return cfg
}

// describeAuthz says how cognito-authz ran, for the report.
func describeAuthz(f benchFlags) string {
	switch {
	case f.authzBin == "":
		return "inside the bench process"
	case f.authzProcs > 0:
		return fmt.Sprintf("own process (%s), GOMAXPROCS=%d", f.authzBin, f.authzProcs)
	default:
		return fmt.Sprintf("own process (%s), GOMAXPROCS=%d (Go's default)", f.authzBin, runtime.NumCPU())
	}
}
