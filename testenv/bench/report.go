package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Targets for cognito-authz against jwt_authn, through Envoy, in the same run: throughput and p99
// from docs/performance.md, Envoy's CPU per request flat out.
const (
	MinThroughputRatio = 0.9  // cognito-authz req/s at least this times jwt_authn's
	MaxP99Ratio        = 1.3  // cognito-authz p99 at most this times jwt_authn's
	MaxEnvoyCPURatio   = 1.10 // flat out, CPU per request of cognito-authz's Envoy at most this times jwt_authn's
)

// EnvoyProcess is the name of a setup's Envoy among its Processes; Compare sets the Envoys'
// costs side by side.
const EnvoyProcess = "envoy"

// Report is the outcome of a run. Its JSON has a fixed shape: "setups" holds the
// flat-out figures; the fixed-rate ones and how the run was made sit beside it.
type Report struct {
	Setups    []Result        `json:"setups"`
	FixedRate FixedRateReport `json:"fixed_rate"`
	Method    Method          `json:"method"`
	// ProcessCosts is where each setup's requests cost CPU, for setups whose processes were given.
	ProcessCosts []SetupCosts `json:"process_costs,omitempty"`
	// Rounds is every turn on its own, in the order run. Setups take their turns in a round back to
	// back, so a round's ratios compare the same moment of a shared machine, and their spread shows
	// how much of a difference between setups is noise.
	Rounds []RoundResult `json:"rounds,omitempty"`
}

// RoundResult is one setup's turn in one round of a phase.
type RoundResult struct {
	Phase     string        `json:"phase"`
	Round     int           `json:"round"` // from 1
	Setup     string        `json:"setup"`
	RPS       float64       `json:"rps"` // successful answers per second of the turn
	Processes []ProcessCost `json:"processes,omitempty"`
}

// SetupCosts is the cost per request of one setup's processes in one phase.
type SetupCosts struct {
	Phase     string        `json:"phase"`
	Setup     string        `json:"setup"`
	Processes []ProcessCost `json:"processes"`
}

// FixedRateReport is the fixed-rate phase.
type FixedRateReport struct {
	Rate   int      `json:"rate"` // requests per second asked for
	Setups []Result `json:"setups"`
}

// Method records how the run was made, so a reader can tell two reports apart.
type Method struct {
	Path            string   `json:"path"`
	Mix             MixStats `json:"mix"`
	WarmupSeconds   float64  `json:"warmup_s"`
	DurationSeconds float64  `json:"duration_s"` // per setup per phase
	Rounds          int      `json:"rounds"`
	Workers         int      `json:"workers"` // flat-out concurrency
	CPUs            int      `json:"cpus"`    // logical CPUs of the machine, shared by everything
	Machine         string   `json:"machine,omitempty"`
	Authz           string   `json:"authz,omitempty"` // how cognito-authz ran: in the bench process or its own
}

// Result is one setup in one phase. The JSON has exactly these keys.
type Result struct {
	Name string `json:"name"`
	// RPS counts successful (2xx) answers per second of the time the setup was measured.
	RPS   float64 `json:"rps"`
	P50Ms float64 `json:"p50_ms"`
	P90Ms float64 `json:"p90_ms"`
	P99Ms float64 `json:"p99_ms"`
	// Errors are answers other than 2xx plus requests that got no answer (refused, reset, timed
	// out). The bench path takes a valid token or none, so even a 401 is an error here.
	Errors uint64 `json:"errors"`

	// Requests and ErrorKinds are for the table and progress lines, not the JSON.
	Requests   uint64            `json:"-"`
	ErrorKinds map[string]uint64 `json:"-"` // e.g. "503 Service Unavailable": 3
}

// find returns the result named name, if any.
func find(results []Result, name string) (Result, bool) {
	for _, r := range results {
		if r.Name == name {
			return r, true
		}
	}
	return Result{}, false
}

// maxErrorKinds bounds the distinct error texts kept per setup; transport errors name ephemeral
// ports, so they could otherwise be as many as the errors.
const maxErrorKinds = 8

// otherErrors collects the kinds past maxErrorKinds.
const otherErrors = "other errors"

// tally accumulates one setup's results in one phase, across rounds.
type tally struct {
	requests, errors, ok uint64
	elapsed              time.Duration // sum of the slices' windows
	latencies            vegeta.LatencyMetrics
	errorKinds           map[string]uint64
	procs                []procTally // one per Setup.Processes, in order
}

func newProcTallies(ps []Process) []procTally {
	out := make([]procTally, len(ps))
	for i, p := range ps {
		out[i].name = p.Name
	}
	return out
}

// measureProcs starts measuring a turn of the setup's processes; the function it returns ends it.
func (t *tally) measureProcs(ps []Process) (done func()) {
	dones := make([]func(), len(ps))
	for i, p := range ps {
		dones[i] = t.procs[i].measure(p.PID)
	}
	return func() {
		for _, d := range dones {
			d()
		}
	}
}

// addProcs adds a turn's process counters to the phase's.
func (t *tally) addProcs(turn *tally) {
	for i := range t.procs {
		t.procs[i].add(turn.procs[i])
	}
}

// roundResult is this tally, one turn's, as a RoundResult.
func (t *tally) roundResult(phase string, round int, setup string) RoundResult {
	return RoundResult{Phase: phase, Round: round, Setup: setup, RPS: t.result(setup).RPS, Processes: t.processCosts()}
}

// processCosts divides the processes' counters by every request sent in the phase, answered or not.
func (t *tally) processCosts() []ProcessCost {
	var out []ProcessCost
	for i := range t.procs {
		if c, ok := t.procs[i].cost(t.requests); ok {
			out = append(out, c)
		}
	}
	return out
}

func (t *tally) add(res *vegeta.Result) {
	t.requests++
	t.latencies.Add(res.Latency)
	if res.Error == "" && res.Code >= 200 && res.Code <= 299 {
		t.ok++
		return
	}
	t.errors++
	kind := res.Error
	if kind == "" {
		kind = fmt.Sprintf("%d %s", res.Code, http.StatusText(int(res.Code)))
	}
	if t.errorKinds == nil {
		t.errorKinds = map[string]uint64{}
	}
	if _, known := t.errorKinds[kind]; !known && len(t.errorKinds) >= maxErrorKinds {
		kind = otherErrors
	}
	t.errorKinds[kind]++
}

func (t *tally) result(name string) Result {
	r := Result{Name: name, Errors: t.errors, Requests: t.requests, ErrorKinds: t.errorKinds}
	if t.requests == 0 {
		return r
	}
	if secs := t.elapsed.Seconds(); secs > 0 {
		r.RPS = round(float64(t.ok)/secs, 1)
	}
	ms := func(q float64) float64 {
		return round(float64(t.latencies.Quantile(q))/float64(time.Millisecond), 3)
	}
	r.P50Ms, r.P90Ms, r.P99Ms = ms(0.50), ms(0.90), ms(0.99)
	return r
}

// errorSummary is " (3× 503 Service Unavailable)" style text for progress lines; empty when clean.
func (t *tally) errorSummary() string {
	if len(t.errorKinds) == 0 {
		return ""
	}
	return " (" + formatKinds(t.errorKinds) + ")"
}

func formatKinds(kinds map[string]uint64) string {
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		if kinds[names[i]] != kinds[names[j]] {
			return kinds[names[i]] > kinds[names[j]]
		}
		return names[i] < names[j]
	})
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%d× %s", kinds[n], n)
	}
	return strings.Join(parts, "; ")
}

func round(x float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(x*p) / p
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error { return writeIndentedJSON(w, r) }

func writeIndentedJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Comparison is one setup against a baseline in one phase.
type Comparison struct {
	Phase            string
	Subject          string
	Baseline         string
	ThroughputRatio  float64 // subject req/s over baseline req/s
	P99Ratio         float64 // subject p99 over baseline p99
	SubjectErrors    uint64
	ThroughputMet    bool // ThroughputRatio >= MinThroughputRatio
	P99Met           bool // P99Ratio <= MaxP99Ratio
	NoErrorsMet      bool // SubjectErrors == 0
	BaselineHadError bool // the baseline itself erred: the ratios compare against a broken run
	// EnvoyCPURatio is the subject's Envoy CPU per request over the baseline's; 0 when either was
	// not measured.
	EnvoyCPURatio float64
	// EnvoyCPUMet says EnvoyCPURatio <= MaxEnvoyCPURatio flat out; the target does not apply at a
	// fixed rate (where a gRPC round trip per request costs Envoy wake-ups that flat out shares
	// between requests) or when Envoy's CPU was not measured.
	EnvoyCPUMet bool
	// Rounds are the same ratios round by round, for the rounds both setups took part in.
	Rounds []RoundRatio
}

// RoundRatio is one round's ratios of a Comparison; EnvoyCPU is 0 when not measured.
type RoundRatio struct {
	Round                int
	Throughput, EnvoyCPU float64
}

// Met says whether every target is met.
func (c Comparison) Met() bool { return c.ThroughputMet && c.P99Met && c.NoErrorsMet && c.EnvoyCPUMet }

// Compare sets subject against baseline in both phases, flat out first.
func (r *Report) Compare(subject, baseline string) ([]Comparison, error) {
	var out []Comparison
	for _, ph := range []struct {
		name    string
		results []Result
	}{{PhaseFlatOut, r.Setups}, {PhaseFixedRate, r.FixedRate.Setups}} {
		s, ok := find(ph.results, subject)
		if !ok {
			return nil, fmt.Errorf("bench: no %s result for %q", ph.name, subject)
		}
		b, ok := find(ph.results, baseline)
		if !ok {
			return nil, fmt.Errorf("bench: no %s result for %q", ph.name, baseline)
		}
		if b.RPS <= 0 || b.P99Ms <= 0 {
			return nil, fmt.Errorf("bench: %s baseline %q has no successful requests to compare with", ph.name, baseline)
		}
		c := Comparison{
			Phase: ph.name, Subject: subject, Baseline: baseline,
			ThroughputRatio:  ratio(s.RPS, b.RPS),
			P99Ratio:         ratio(s.P99Ms, b.P99Ms),
			SubjectErrors:    s.Errors,
			BaselineHadError: b.Errors > 0,
		}
		c.ThroughputMet = c.ThroughputRatio >= MinThroughputRatio
		c.P99Met = c.P99Ratio <= MaxP99Ratio
		c.NoErrorsMet = c.SubjectErrors == 0
		c.EnvoyCPURatio = ratio(envoyCPU(r.costs(ph.name, subject)), envoyCPU(r.costs(ph.name, baseline)))
		c.EnvoyCPUMet = ph.name != PhaseFlatOut || c.EnvoyCPURatio == 0 || c.EnvoyCPURatio <= MaxEnvoyCPURatio
		c.Rounds = r.roundRatios(ph.name, subject, baseline)
		out = append(out, c)
	}
	return out, nil
}

// costs returns the process costs of setup in phase, if measured.
func (r *Report) costs(phase, setup string) []ProcessCost {
	for _, c := range r.ProcessCosts {
		if c.Phase == phase && c.Setup == setup {
			return c.Processes
		}
	}
	return nil
}

// roundRatios sets subject against baseline round by round.
func (r *Report) roundRatios(phase, subject, baseline string) []RoundRatio {
	var out []RoundRatio
	for _, s := range r.Rounds {
		if s.Phase != phase || s.Setup != subject {
			continue
		}
		for _, b := range r.Rounds {
			if b.Phase == phase && b.Setup == baseline && b.Round == s.Round {
				out = append(out, RoundRatio{Round: s.Round, Throughput: ratio(s.RPS, b.RPS),
					EnvoyCPU: ratio(envoyCPU(s.Processes), envoyCPU(b.Processes))})
			}
		}
	}
	return out
}

// envoyCPU is the CPU per request of the Envoy among costs, or 0.
func envoyCPU(costs []ProcessCost) float64 {
	for _, p := range costs {
		if p.Name == EnvoyProcess {
			return p.CPUMicros
		}
	}
	return 0
}

// ratio is a/b to three places, or 0 when either is unknown.
func ratio(a, b float64) float64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	return round(a/b, 3)
}

// WriteTable prints both phases as tables, then every other setup against jwt_authn when the run
// had one.
func (r *Report) WriteTable(w io.Writer) error {
	ew := &errWriter{w: w}
	m := r.Method
	perSetup := fmt.Sprintf("%gs per setup in %d rounds", m.DurationSeconds, m.Rounds)
	if m.Machine != "" {
		fmt.Fprintf(ew, "machine: %s\n", m.Machine)
	}
	if m.Authz != "" {
		fmt.Fprintf(ew, "cognito-authz: %s\n", m.Authz)
	}
	if bs := r.Breakdowns(); len(bs) > 0 {
		writeBreakdowns(ew, bs)
		fmt.Fprintln(ew)
	}
	writeResults(ew, fmt.Sprintf("flat out: %d concurrent requests, %s", m.Workers, perSetup), r.Setups)
	fmt.Fprintln(ew)
	writeResults(ew, fmt.Sprintf("fixed rate: %d req/s, %s", r.FixedRate.Rate, perSetup), r.FixedRate.Setups)
	if _, ok := find(r.Setups, JWTAuthn); ok {
		fmt.Fprintln(ew)
		for _, s := range r.Setups {
			if s.Name == JWTAuthn {
				continue
			}
			cs, err := r.Compare(s.Name, JWTAuthn)
			if err != nil {
				fmt.Fprintf(ew, "%s vs %s: %v\n", s.Name, JWTAuthn, err)
				continue
			}
			for _, c := range cs {
				writeComparison(ew, c)
			}
		}
	}
	if len(r.ProcessCosts) > 0 {
		fmt.Fprintln(ew)
		writeCosts(ew, r.ProcessCosts)
	}
	return ew.err
}

func writeCosts(w io.Writer, costs []SetupCosts) {
	setupWidth, processWidth := len("setup"), len("process")
	for _, c := range costs {
		setupWidth = max(setupWidth, len(c.Setup))
		for _, p := range c.Processes {
			processWidth = max(processWidth, len(p.Name))
		}
	}
	fmt.Fprintln(w, "cost per request, by process (from /proc; CPU is user + system)")
	fmt.Fprintf(w, "  %-10s %-*s %-*s %9s %8s %8s\n", "phase", setupWidth, "setup", processWidth, "process", "CPU µs", "reads", "writes")
	for _, c := range costs {
		for _, p := range c.Processes {
			fmt.Fprintf(w, "  %-10s %-*s %-*s %9.1f %8.2f %8.2f\n", c.Phase, setupWidth, c.Setup, processWidth, p.Name,
				p.CPUMicros, p.ReadCalls, p.WriteCalls)
		}
	}
}

func writeResults(w io.Writer, title string, results []Result) {
	width := len("setup")
	for _, r := range results {
		width = max(width, len(r.Name))
	}
	fmt.Fprintln(w, title)
	fmt.Fprintf(w, "  %-*s %10s %9s %9s %9s %8s %10s\n", width, "setup", "req/s", "p50 ms", "p90 ms", "p99 ms", "errors", "requests")
	for _, r := range results {
		fmt.Fprintf(w, "  %-*s %10.1f %9.3f %9.3f %9.3f %8d %10d\n", width, r.Name, r.RPS, r.P50Ms, r.P90Ms, r.P99Ms, r.Errors, r.Requests)
	}
	for _, r := range results {
		if len(r.ErrorKinds) > 0 {
			fmt.Fprintf(w, "  %s errors: %s\n", r.Name, formatKinds(r.ErrorKinds))
		}
	}
}

func writeComparison(w io.Writer, c Comparison) {
	verdict := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "MISSED"
	}
	fmt.Fprintf(w, "%s vs %s, %s: throughput %.2f× (target ≥ %.2f×) %s; p99 %.2f× (target ≤ %.2f×) %s; errors %d (target 0) %s\n",
		c.Subject, c.Baseline, c.Phase,
		c.ThroughputRatio, MinThroughputRatio, verdict(c.ThroughputMet),
		c.P99Ratio, MaxP99Ratio, verdict(c.P99Met),
		c.SubjectErrors, verdict(c.NoErrorsMet))
	if c.EnvoyCPURatio > 0 {
		if c.Phase == PhaseFlatOut {
			fmt.Fprintf(w, "  Envoy CPU per request %.2f× (target ≤ %.2f×) %s\n", c.EnvoyCPURatio, MaxEnvoyCPURatio, verdict(c.EnvoyCPUMet))
		} else {
			fmt.Fprintf(w, "  Envoy CPU per request %.2f× (no target at a fixed rate)\n", c.EnvoyCPURatio)
		}
	}
	if len(c.Rounds) > 1 {
		var thr, cpu []string
		for _, r := range c.Rounds {
			thr = append(thr, fmt.Sprintf("%.2f", r.Throughput))
			if r.EnvoyCPU > 0 {
				cpu = append(cpu, fmt.Sprintf("%.2f", r.EnvoyCPU))
			}
		}
		fmt.Fprintf(w, "  by round: throughput %s", strings.Join(thr, ", "))
		if len(cpu) == len(thr) {
			fmt.Fprintf(w, "; Envoy CPU per request %s", strings.Join(cpu, ", "))
		}
		fmt.Fprintln(w)
	}
	if c.BaselineHadError {
		fmt.Fprintf(w, "  note: %s itself had errors in this phase; its figures are not a clean baseline\n", c.Baseline)
	}
}

// errWriter keeps the first write error so the table code need not check every line.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return len(p), nil
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, nil
}
