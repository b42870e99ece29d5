package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/cognito-authz/cognito-authz/testenv/backend"
	"github.com/cognito-authz/cognito-authz/testenv/bench"
	"github.com/cognito-authz/cognito-authz/testenv/envoyproc"
)

// benchStdout receives the table; a variable so a test can read it.
var benchStdout io.Writer = os.Stdout

// Bounds on the bench flags: the run stays short enough for one sitting and, since every token is
// minted before it starts, well inside the tokens' lifetime.
const (
	maxBenchDuration = 10 * time.Minute
	maxBenchWarmup   = time.Minute
	maxBenchUsers    = 100000
	maxBenchRuns     = 20
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
	variants         string
	pinEnvoys        bool
	runs             int
}

func parseBenchFlags(e env, args []string) (benchFlags, error) {
	var f benchFlags
	fs := newFlagSet(e, "bench",
		"Starts the demo backend, the local issuer, cognito-authz and an Envoy per setup on loopback (no-auth,\n"+
			"jwt_authn, cognito-authz over gRPC and over HTTP, and with --floor the ext_authz floor: the same routes),\n"+
			"then sends each the same token mix, first at --rate, then flat out, and prints a table that leads\n"+
			"with where each setup's CPU goes. Needs envoy ("+envoyproc.InstallHint+").")
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
	fs.BoolVar(&f.floor, "floor", false, "add a fourth setup, "+bench.ExtAuthzFloor+": Envoy's ext_authz to a second cognito-authz whose\n"+
		"every route is auth: off, which answers without looking at a token; the cost of any ext_authz call")
	fs.BoolVar(&f.http, "http", true, "run the setup "+bench.CognitoAuthzHTTP+": Envoy's HTTP ext_authz to the same cognito-authz's HTTP\n"+
		"forward-auth endpoint (--http-listen, deploy/forwardauth/envoy-http-ext-authz.yaml), beside its gRPC ext_authz;\n"+
		"--http=false leaves it out")
	fs.StringVar(&f.variants, "variants", "", "comma-separated setups to add, each cognito-authz with one setting changed, to measure\n"+
		"a lever alone: "+strings.Join(bench.VariantNames(), ", "))
	fs.BoolVar(&f.pinEnvoys, "pin-envoys", false, "run every Envoy on a CPU of its own and everything else on the other CPUs (Linux, 2 CPUs\n"+
		"or more): a proxy's CPU per request then moves far less from run to run")
	fs.IntVar(&f.runs, "runs", 1, "runs one after another, each on a stack started afresh, then their mean and its standard\n"+
		"error per setup: a difference of a few percent needs several runs (--json then holds every run)")
	fs.BoolVar(&f.check, "check", false, "exit 1 when cognito-authz misses a target against jwt_authn in any run: throughput, p99,\n"+
		"errors, Envoy CPU per request flat out (docs/performance.md)")
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
	problems.check(f.runs <= 0 || f.runs > maxBenchRuns, "--runs %d: want 1 to %d", f.runs, maxBenchRuns)
	problems.check(f.runs > 1 && f.cpuProfile != "", "--cpuprofile profiles one run: use it without --runs")
	problems.check(f.envoyThreads <= 0 || f.envoyThreads > 64, "--envoy-concurrency %d: want 1 to 64", f.envoyThreads)
	problems.check(f.authzProcs < -1 || f.authzProcs > 1024, "--authz-gomaxprocs %d: want -1, 0 or up to 1024", f.authzProcs)
	problems.check(f.authzProcs != -1 && f.authzBin == "", "--authz-gomaxprocs needs --authz-bin: inside this process cognito-authz shares its GOMAXPROCS")
	if err := bench.CheckVariants(splitList(f.variants)); err != nil {
		problems.check(true, "--variants: %v", err)
	}
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
	var reports []*bench.Report
	var runErr error
	for i := range f.runs {
		if f.runs > 1 {
			e.logf("bench")("run %d of %d", i+1, f.runs)
			fmt.Fprintf(benchStdout, "run %d of %d\n", i+1, f.runs)
		}
		report, err := runOnce(ctx, e, f, envoyBin)
		if err == nil {
			err = report.WriteTable(benchStdout)
		}
		if err != nil {
			if f.runs > 1 {
				err = fmt.Errorf("run %d of %d: %w", i+1, f.runs, err)
			}
			runErr = err
			break
		}
		reports = append(reports, report)
	}
	if len(reports) == 0 {
		return runErr
	}
	// The runs that finished are summed up and written even when a later one failed: each
	// took minutes.
	var result jsonReport = reports[0]
	if f.runs > 1 {
		runs := bench.NewRuns(reports)
		if err := runs.WriteTable(benchStdout); err != nil {
			return err
		}
		result = runs
	}
	if f.jsonPath != "" {
		if err := writeReportFile(f.jsonPath, result); err != nil {
			return err
		}
	}
	if runErr != nil {
		return runErr
	}
	if f.check {
		for i, report := range reports {
			cs, err := report.Compare(bench.CognitoAuthz, bench.JWTAuthn)
			if err != nil {
				return err
			}
			for _, c := range cs {
				if !c.Met() {
					return fmt.Errorf("%s missed a target against %s in the %s phase of run %d (see the table)", c.Subject, c.Baseline, c.Phase, i+1)
				}
			}
		}
	}
	return nil
}

// runOnce is one run; a variable so a test can make a run fail.
var runOnce = benchOnce

// benchOnce starts a stack, measures it and stops it: one run.
func benchOnce(ctx context.Context, e env, f benchFlags, envoyBin string) (*bench.Report, error) {
	logf := e.logf("bench")
	stackOpts := bench.StackOptions{
		Users:        f.users,
		EnvoyBinary:  envoyBin,
		EnvoyThreads: f.envoyThreads,
		AuthzBinary:  f.authzBin,
		AuthzProcs:   f.authzProcs,
		Floor:        f.floor,
		HTTP:         f.http,
		Variants:     splitList(f.variants),
		Logs:         e.stderr,
		Logf:         logf,
	}
	stack, err := bench.StartStack(ctx, stackOpts)
	if err != nil {
		return nil, err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
		defer cancel()
		stack.Close(stopCtx)
	}()
	if err := stack.Probe(ctx); err != nil {
		return nil, err
	}
	var pinning string
	if f.pinEnvoys {
		split, err := stack.PinEnvoys()
		if err != nil {
			return nil, err
		}
		pinning = "; " + split
		logf("%s", split)
	}

	logf("%d users, %.0f%% anonymous, %s; %v warm-up, then %v at %d req/s and %v flat out (%d workers) per setup",
		f.users, f.anonymous*100, f.path, f.warmup, f.duration, f.rate, f.duration, f.workers)
	loadBefore := bench.LoadAverage()
	if f.cpuProfile != "" {
		stopProfile, err := bench.StartCPUProfile(f.cpuProfile)
		if err != nil {
			return nil, err
		}
		defer stopProfile()
	}
	report, err := bench.Run(ctx, bench.Options{
		Setups: stack.Setups,
		Mix: bench.Mix{Path: f.path, Tokens: stack.Tokens, AnonymousShare: f.anonymous,
			Seed: 1}, // fixed: two runs send the same sequence
		Warmup:   f.warmup,
		Duration: f.duration,
		Rate:     f.rate,
		Workers:  f.workers,
		Rounds:   f.rounds,
		Progress: e.stderr,
	})
	if err != nil {
		return nil, err
	}
	report.Method.Machine = bench.DescribeMachine(ctx, envoyBin, f.envoyThreads) + pinning +
		fmt.Sprintf("; load average %s before, %s after", loadBefore, bench.LoadAverage())
	report.Method.Authz = stackOpts.DescribeAuthz()
	logf("%s", stack.AuthzCounters())
	return report, nil
}

// jsonReport is what --json writes: one run's report, or several runs' (bench.Runs).
type jsonReport interface{ WriteJSON(io.Writer) error }

func writeReportFile(path string, r jsonReport) error {
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

// splitList is a comma-separated flag's items, empty ones dropped.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
