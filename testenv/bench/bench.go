// Package bench drives the side-by-side benchmark (docs/performance.md): the same token mix, sent by vegeta
// to several setups in turn (Envoy with no auth, with its own jwt_authn filter, with cognito-authz),
// first at a fixed rate and then flat out, and reports requests per second, latency percentiles
// and errors for each. Run starts nothing: it is given base URLs, so it can measure any stack that
// is already up. StartStack (stack.go) starts one for cmd/testenv bench, with cognito-authz from
// startAuthzInProcess or startAuthzProcess (authz.go); StartCPUProfile and DescribeMachine serve
// the report.
//
// Fairness: every setup gets the same requests in the same order, and the setups take turns in
// rounds that alternate direction (A B C, then C B A), so none always runs first or last on a
// machine whose other load drifts. A setup's figures pool all its rounds; each round is also
// kept on its own (Report.Rounds) so a comparison can show its spread.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The three setups every run has, by the names its JSON uses.
const (
	NoAuth       = "no-auth"
	JWTAuthn     = "jwt_authn"
	CognitoAuthz = "cognito-authz"
)

// Defaults for the Options fields a zero value would make meaningless.
const (
	DefaultWorkers = 16
	DefaultRounds  = 2
	DefaultTimeout = 5 * time.Second
	// maxFixedRateWorkers bounds the open-model phase: vegeta adds a worker whenever all are busy,
	// and a setup that stalls must not make the load generator grow without end.
	maxFixedRateWorkers = 2048
)

// Setup is one stack under test.
type Setup struct {
	Name    string // e.g. NoAuth
	BaseURL string // e.g. http://127.0.0.1:41234; loopback only
	// Processes, when given, are measured around each of the setup's turns (Linux only) and
	// reported as CPU time and system calls per request.
	Processes []Process
}

// Options describe one benchmark run.
type Options struct {
	Setups []Setup
	Mix    Mix
	// Warmup is sent flat out to each setup once, before anything is measured, to open
	// connections and fill caches. Zero skips it.
	Warmup time.Duration
	// Duration is how long each setup is measured in each phase, split evenly across Rounds.
	Duration time.Duration
	// Rate is the fixed-rate phase's request rate, per second.
	Rate int
	// Workers is the number of concurrent requests of the flat-out phase (a closed loop: each
	// worker sends its next request as soon as its last one is answered); default DefaultWorkers.
	Workers int
	// Rounds is how many turns each setup takes per phase; default DefaultRounds.
	Rounds int
	// Timeout bounds one request; a request that takes longer is an error. Default DefaultTimeout.
	Timeout time.Duration
	// Progress, when not nil, gets a line as each part of the run ends.
	Progress io.Writer
}

func (o *Options) defaults() {
	if o.Workers == 0 {
		o.Workers = DefaultWorkers
	}
	if o.Rounds == 0 {
		o.Rounds = DefaultRounds
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
}

func (o Options) validate() error {
	var errs []error
	if len(o.Setups) == 0 {
		errs = append(errs, errors.New("no setups"))
	}
	seen := map[string]bool{}
	for _, s := range o.Setups {
		if s.Name == "" {
			errs = append(errs, fmt.Errorf("setup %s: name is empty", s.BaseURL))
		} else if seen[s.Name] {
			errs = append(errs, fmt.Errorf("setup %s: name used twice", s.Name))
		}
		seen[s.Name] = true
		if err := checkLoopbackURL(s.BaseURL); err != nil {
			errs = append(errs, fmt.Errorf("setup %s: %w", s.Name, err))
		}
	}
	if err := o.Mix.validate(); err != nil {
		errs = append(errs, err)
	}
	if o.Duration <= 0 {
		errs = append(errs, fmt.Errorf("duration %v must be positive", o.Duration))
	}
	if o.Warmup < 0 {
		errs = append(errs, fmt.Errorf("warm-up %v is negative", o.Warmup))
	}
	if o.Rate <= 0 {
		errs = append(errs, fmt.Errorf("rate %d/s must be positive", o.Rate))
	}
	if o.Workers < 0 {
		errs = append(errs, fmt.Errorf("workers %d is negative", o.Workers))
	}
	if o.Rounds < 0 {
		errs = append(errs, fmt.Errorf("rounds %d is negative", o.Rounds))
	}
	if o.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout %v is negative", o.Timeout))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// checkLoopbackURL refuses anything but an http URL on a loopback address: a load generator
// pointed elsewhere by a typo would be a flood at someone else's server.
func checkLoopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("base URL %q: want http://host:port", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("base URL %q: host is not a loopback address", raw)
	}
	return nil
}

// Phase names, as attack names (vegeta sends them in X-Vegeta-Attack) and in progress lines.
const (
	PhaseWarmup    = "warm-up"
	PhaseFixedRate = "fixed-rate"
	PhaseFlatOut   = "flat-out"
)

// Run measures every setup and returns the report. It stops early, with ctx's error, when ctx
// ends. A request that fails is counted, not returned: Run's error means the run itself could
// not be made.
func Run(ctx context.Context, opts Options) (*Report, error) {
	opts.defaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	sched := newSchedule(opts.Mix)
	runners := make([]*setupRunner, len(opts.Setups))
	for i, s := range opts.Setups {
		runners[i] = newSetupRunner(s, sched, opts)
		defer runners[i].close()
	}

	progress := func(format string, args ...any) {
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, format+"\n", args...)
		}
	}

	if opts.Warmup > 0 {
		for _, r := range runners {
			var t tally
			if err := r.attack(ctx, PhaseWarmup, flatOut(opts.Workers), opts.Warmup, &t); err != nil {
				return nil, err
			}
			progress("%s %s: %d requests, %d errors%s", PhaseWarmup, r.setup.Name, t.requests, t.errors, t.errorSummary())
		}
	}

	slice := opts.Duration / time.Duration(opts.Rounds)
	phases := []struct {
		name  string
		pacer pacing
	}{
		{PhaseFixedRate, fixedRate(opts.Rate)},
		{PhaseFlatOut, flatOut(opts.Workers)},
	}
	tallies := map[string][]tally{}
	var rounds []RoundResult
	for _, ph := range phases {
		tallies[ph.name] = make([]tally, len(runners))
		for i, r := range runners {
			tallies[ph.name][i].procs = newProcTallies(r.setup.Processes)
		}
		for round, order := range turnOrder(len(runners), opts.Rounds) {
			for _, i := range order {
				t := &tallies[ph.name][i]
				turn := tally{procs: newProcTallies(runners[i].setup.Processes)}
				measured := turn.measureProcs(runners[i].setup.Processes)
				err := runners[i].attack(ctx, ph.name, ph.pacer, slice, t, &turn)
				measured()
				if err != nil {
					return nil, err
				}
				t.addProcs(&turn)
				rounds = append(rounds, turn.roundResult(ph.name, round+1, runners[i].setup.Name))
				progress("%s round %d/%d %s: %d requests, %d errors%s", ph.name, round+1, opts.Rounds,
					runners[i].setup.Name, turn.requests, turn.errors, t.errorSummary())
			}
		}
	}

	results := func(phase string) []Result {
		out := make([]Result, len(runners))
		for i, r := range runners {
			out[i] = tallies[phase][i].result(r.setup.Name)
		}
		return out
	}
	var costs []SetupCosts
	for _, ph := range phases {
		for i, r := range runners {
			if c := tallies[ph.name][i].processCosts(); len(c) > 0 {
				costs = append(costs, SetupCosts{Phase: ph.name, Setup: r.setup.Name, Processes: c})
			}
		}
	}
	return &Report{
		Setups:       results(PhaseFlatOut),
		FixedRate:    FixedRateReport{Rate: opts.Rate, Setups: results(PhaseFixedRate)},
		ProcessCosts: costs,
		Rounds:       rounds,
		Method: Method{
			Path:            opts.Mix.Path,
			Mix:             sched.stats(),
			WarmupSeconds:   opts.Warmup.Seconds(),
			DurationSeconds: opts.Duration.Seconds(),
			Rounds:          opts.Rounds,
			Workers:         opts.Workers,
			CPUs:            runtime.NumCPU(),
		},
	}, nil
}

// turnOrder lists, per round, the order in which setups 0..n-1 take their turn: forward on even
// rounds, backward on odd ones.
func turnOrder(n, rounds int) [][]int {
	forward := make([]int, n)
	for i := range forward {
		forward[i] = i
	}
	backward := slices.Clone(forward)
	slices.Reverse(backward)
	out := make([][]int, rounds)
	for r := range out {
		if r%2 == 0 {
			out[r] = forward
		} else {
			out[r] = backward
		}
	}
	return out
}

// pacing is how one attack is paced: a vegeta pacer and the attacker's worker bounds.
type pacing struct {
	pacer               vegeta.Pacer
	workers, maxWorkers uint64
}

// fixedRate is an open model: requests start on schedule whether or not earlier ones are done,
// so a slow setup shows up as latency, not as a lower request rate.
func fixedRate(perSecond int) pacing {
	return pacing{pacer: vegeta.ConstantPacer{Freq: perSecond, Per: time.Second},
		workers: vegeta.DefaultWorkers, maxWorkers: maxFixedRateWorkers}
}

// flatOut is a closed loop of n workers: vegeta's zero rate sends as fast as the workers free up.
func flatOut(n int) pacing {
	return pacing{pacer: vegeta.ConstantPacer{}, workers: uint64(n), maxWorkers: uint64(n)}
}

// setupRunner attacks one setup. Its HTTP client lives for the whole run, so connections opened
// by the warm-up carry over to the measured phases, as a real client's keep-alive would.
type setupRunner struct {
	setup     Setup
	targeter  vegeta.Targeter
	client    *http.Client
	transport *http.Transport
}

func newSetupRunner(s Setup, sched *schedule, opts Options) *setupRunner {
	transport := &http.Transport{
		Proxy:               nil, // never through a proxy from the environment: loopback only
		DialContext:         (&net.Dialer{Timeout: opts.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        maxFixedRateWorkers,
		MaxIdleConnsPerHost: maxFixedRateWorkers,
		IdleConnTimeout:     5 * time.Minute,
		DisableCompression:  true,
	}
	return &setupRunner{
		setup:    s,
		targeter: sched.targeter(s.BaseURL, opts.Mix.Path),
		client: &http.Client{
			Transport: transport,
			Timeout:   opts.Timeout,
			// A redirect is an answer the bench path must not give: keep it, count it an error.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		transport: transport,
	}
}

func (r *setupRunner) close() { r.transport.CloseIdleConnections() }

// attack runs one phase slice against the setup and adds its results to each tally: the phase's
// and the slice's own.
func (r *setupRunner) attack(ctx context.Context, phase string, p pacing, d time.Duration, tallies ...*tally) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// An Attacker stops for good after one attack, so each slice gets a new one on the shared client.
	attacker := vegeta.NewAttacker(
		vegeta.Client(r.client),
		vegeta.Workers(p.workers),
		vegeta.MaxWorkers(p.maxWorkers),
		vegeta.MaxBody(0), // read and discard bodies: only status and latency matter here
	)
	stop := context.AfterFunc(ctx, func() { attacker.Stop() })
	defer stop()
	var w window
	for res := range attacker.Attack(r.targeter, p.pacer, d, phase+"/"+r.setup.Name) {
		w.add(res)
		for _, t := range tallies {
			t.add(res)
		}
	}
	for _, t := range tallies {
		t.elapsed += w.length()
	}
	return ctx.Err()
}

// window is the span of one slice: from the first request sent to the last answer received.
type window struct {
	first, last time.Time
}

func (w *window) add(res *vegeta.Result) {
	if w.first.IsZero() || res.Timestamp.Before(w.first) {
		w.first = res.Timestamp
	}
	if end := res.End(); end.After(w.last) {
		w.last = end
	}
}

func (w window) length() time.Duration {
	if w.first.IsZero() {
		return 0
	}
	return w.last.Sub(w.first)
}
