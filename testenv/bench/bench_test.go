package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// recorder counts what the test servers receive, per vegeta attack name (phase/setup), and the
// order in which attacks arrived.
type recorder struct {
	mu        sync.Mutex
	requests  map[string]int // attack name -> requests
	anonymous map[string]int // attack name -> requests without a token
	order     []string       // attack names, consecutive repeats collapsed
}

func newRecorder() *recorder {
	return &recorder{requests: map[string]int{}, anonymous: map[string]int{}}
}

func (rec *recorder) note(r *http.Request) {
	name := r.Header.Get("X-Vegeta-Attack")
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.requests[name]++
	if r.Header.Get("Authorization") == "" {
		rec.anonymous[name]++
	}
	if len(rec.order) == 0 || rec.order[len(rec.order)-1] != name {
		rec.order = append(rec.order, name)
	}
}

func (rec *recorder) count(attack string) (requests, anonymous int) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.requests[attack], rec.anonymous[attack]
}

// server starts an httptest server that records each request, then answers with answer.
func server(t *testing.T, rec *recorder, answer http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.note(r)
		answer(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func ok(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }

// unauthorizedWithoutToken answers as a route that requires auth would: 200 with a token, 401 without.
func unauthorizedWithoutToken(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") == "" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func tokens(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("token-%d", i)
	}
	return out
}

// tinyOptions are a run short enough for a unit test; nothing asserts how many requests fit in it.
func tinyOptions(setups ...Setup) Options {
	return Options{
		Setups:   setups,
		Mix:      Mix{Path: "/api/activities/home", Tokens: tokens(20), AnonymousShare: 0.1, Seed: 1},
		Warmup:   20 * time.Millisecond,
		Duration: 100 * time.Millisecond,
		Rate:     200,
		Workers:  4,
		Rounds:   2,
		Timeout:  10 * time.Second,
	}
}

func TestRunMeasuresEverySetupInBothPhases(t *testing.T) {
	rec := newRecorder()
	opts := tinyOptions(
		Setup{Name: NoAuth, BaseURL: server(t, rec, ok)},
		Setup{Name: JWTAuthn, BaseURL: server(t, rec, ok)},
		// This process serves the setup, so its system calls are the setup's.
		Setup{Name: CognitoAuthz, BaseURL: server(t, rec, ok), Processes: []Process{{Name: "self", PID: os.Getpid()}}},
	)
	var progress bytes.Buffer
	opts.Progress = &progress
	report, err := Run(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}

	for _, ph := range []struct {
		name    string
		results []Result
	}{{PhaseFlatOut, report.Setups}, {PhaseFixedRate, report.FixedRate.Setups}} {
		names := make([]string, len(ph.results))
		for i, r := range ph.results {
			names[i] = r.Name
		}
		if want := []string{NoAuth, JWTAuthn, CognitoAuthz}; !slices.Equal(names, want) {
			t.Fatalf("%s: setups %v, want %v in the order given", ph.name, names, want)
		}
		for _, r := range ph.results {
			seen, _ := rec.count(ph.name + "/" + r.Name)
			if r.Requests == 0 || int(r.Requests) != seen {
				t.Errorf("%s %s: %d requests counted, server saw %d", ph.name, r.Name, r.Requests, seen)
			}
			if r.Errors != 0 || len(r.ErrorKinds) != 0 {
				t.Errorf("%s %s: %d errors %v from a server that only says 200", ph.name, r.Name, r.Errors, r.ErrorKinds)
			}
			if r.RPS <= 0 {
				t.Errorf("%s %s: rps %v, want > 0", ph.name, r.Name, r.RPS)
			}
			if !(0 <= r.P50Ms && r.P50Ms <= r.P90Ms && r.P90Ms <= r.P99Ms) {
				t.Errorf("%s %s: percentiles out of order: p50 %v p90 %v p99 %v", ph.name, r.Name, r.P50Ms, r.P90Ms, r.P99Ms)
			}
		}
	}
	if report.FixedRate.Rate != opts.Rate {
		t.Errorf("fixed_rate.rate = %d, want %d", report.FixedRate.Rate, opts.Rate)
	}
	m := report.Method
	if m.Path != opts.Mix.Path || m.Rounds != 2 || m.Workers != 4 || m.DurationSeconds != 0.1 || m.Mix.Users != 20 || m.CPUs < 1 {
		t.Errorf("method = %+v, does not describe the options", m)
	}

	// Setups take turns, forward then backward, each phase measured after every warm-up.
	want := []string{
		"warm-up/no-auth", "warm-up/jwt_authn", "warm-up/cognito-authz",
		"fixed-rate/no-auth", "fixed-rate/jwt_authn", "fixed-rate/cognito-authz", "fixed-rate/jwt_authn", "fixed-rate/no-auth",
		"flat-out/no-auth", "flat-out/jwt_authn", "flat-out/cognito-authz", "flat-out/jwt_authn", "flat-out/no-auth",
	}
	if !slices.Equal(rec.order, want) {
		t.Errorf("attack order\n got %v\nwant %v", rec.order, want)
	}
	// Process costs are given for the setup with processes, per phase and per turn.
	if len(report.ProcessCosts) != 2 {
		t.Errorf("process costs %+v, want one per phase for %s", report.ProcessCosts, CognitoAuthz)
	}
	for _, c := range report.ProcessCosts {
		if c.Setup != CognitoAuthz || len(c.Processes) != 1 || c.Processes[0].ReadCalls <= 0 {
			t.Errorf("process costs %+v: want %s's reads", c, CognitoAuthz)
		}
	}
	// Every measured turn is on record on its own, in the order run.
	var turns []string
	for _, r := range report.Rounds {
		turns = append(turns, fmt.Sprintf("%s/%s", r.Phase, r.Setup))
		if r.RPS <= 0 || r.Round < 1 || r.Round > 2 {
			t.Errorf("round %+v: want rps > 0 and round 1 or 2", r)
		}
		if withProcs := r.Setup == CognitoAuthz; withProcs != (len(r.Processes) == 1 && r.Processes[0].ReadCalls > 0) {
			t.Errorf("round %+v: want process costs for %s only", r, CognitoAuthz)
		}
	}
	wantTurns := []string{
		"fixed-rate/no-auth", "fixed-rate/jwt_authn", "fixed-rate/cognito-authz",
		"fixed-rate/cognito-authz", "fixed-rate/jwt_authn", "fixed-rate/no-auth",
		"flat-out/no-auth", "flat-out/jwt_authn", "flat-out/cognito-authz",
		"flat-out/cognito-authz", "flat-out/jwt_authn", "flat-out/no-auth",
	}
	if !slices.Equal(turns, wantTurns) {
		t.Errorf("rounds\n got %v\nwant %v", turns, wantTurns)
	}
	if lines := strings.Count(progress.String(), "\n"); lines != 3+2*3*2 {
		t.Errorf("progress has %d lines, want one per warm-up and per turn (15):\n%s", lines, progress.String())
	}
}

func TestRunCountsEveryAnswerButA2xxAsAnError(t *testing.T) {
	redirect := func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/elsewhere", http.StatusFound) }
	unavailable := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }
	noContent := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }
	tests := []struct {
		name           string
		answer         http.HandlerFunc
		anonymousShare float64
		// wantErrors gives the errors expected from what the server saw in that phase.
		wantErrors func(requests, anonymous int) int
		wantKind   string
	}{
		{"401 to anonymous callers", unauthorizedWithoutToken, 0.3, func(_, anon int) int { return anon }, "401 Unauthorized"},
		{"every caller anonymous", unauthorizedWithoutToken, 1, func(req, _ int) int { return req }, "401 Unauthorized"},
		{"redirect is not followed", redirect, 0.1, func(req, _ int) int { return req }, "302 Found"},
		{"503", unavailable, 0.1, func(req, _ int) int { return req }, "503 Service Unavailable"},
		{"204 is a success", noContent, 0.1, func(int, int) int { return 0 }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder()
			opts := tinyOptions(Setup{Name: CognitoAuthz, BaseURL: server(t, rec, tt.answer)})
			opts.Mix.AnonymousShare = tt.anonymousShare
			report, err := Run(t.Context(), opts)
			if err != nil {
				t.Fatal(err)
			}
			for phase, r := range map[string]Result{PhaseFlatOut: report.Setups[0], PhaseFixedRate: report.FixedRate.Setups[0]} {
				requests, anonymous := rec.count(phase + "/" + r.Name)
				if int(r.Requests) != requests {
					t.Errorf("%s: %d requests counted, server saw %d", phase, r.Requests, requests)
				}
				if want := tt.wantErrors(requests, anonymous); int(r.Errors) != want {
					t.Errorf("%s: %d errors, want %d (server saw %d requests, %d anonymous)", phase, r.Errors, want, requests, anonymous)
				}
				if tt.wantKind != "" && r.ErrorKinds[tt.wantKind] != r.Errors {
					t.Errorf("%s: error kinds %v, want all %d as %q", phase, r.ErrorKinds, r.Errors, tt.wantKind)
				}
				if r.Errors == r.Requests && r.RPS != 0 {
					t.Errorf("%s: rps %v with no success; rps counts successes only", phase, r.RPS)
				}
			}
		})
	}
}

func TestRunCountsRequestsWithoutAnAnswer(t *testing.T) {
	rec := newRecorder()
	hangUp := func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		conn.Close()
	}
	report, err := Run(t.Context(), tinyOptions(Setup{Name: NoAuth, BaseURL: server(t, rec, hangUp)}))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []Result{report.Setups[0], report.FixedRate.Setups[0]} {
		if r.Requests == 0 || r.Errors != r.Requests || r.RPS != 0 {
			t.Errorf("%+v: want every request an error and no rps", r)
		}
	}
}

func TestRunStopsWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rec := newRecorder()
	opts := tinyOptions(Setup{Name: NoAuth, BaseURL: server(t, rec, func(w http.ResponseWriter, _ *http.Request) {
		cancel()
		w.WriteHeader(http.StatusOK)
	})})
	opts.Duration = time.Hour // only the cancellation can end this run within the test's deadline
	report, err := Run(ctx, opts)
	if !errors.Is(err, context.Canceled) || report != nil {
		t.Fatalf("Run = %v, %v; want no report and context.Canceled", report, err)
	}
}

func TestRunRefusesBadOptions(t *testing.T) {
	good := tinyOptions(Setup{Name: NoAuth, BaseURL: "http://127.0.0.1:1"})
	tests := []struct {
		name   string
		change func(*Options)
		want   string
	}{
		{"no setups", func(o *Options) { o.Setups = nil }, "no setups"},
		{"unnamed setup", func(o *Options) { o.Setups[0].Name = "" }, "name is empty"},
		{"same name twice", func(o *Options) { o.Setups = append(o.Setups, o.Setups[0]) }, "name used twice"},
		{"not loopback", func(o *Options) { o.Setups[0].BaseURL = "http://192.0.2.1:8000" }, "not a loopback address"},
		{"host name", func(o *Options) { o.Setups[0].BaseURL = "http://example.com" }, "not a loopback address"},
		{"https", func(o *Options) { o.Setups[0].BaseURL = "https://127.0.0.1:8443" }, "want http://host:port"},
		{"no scheme", func(o *Options) { o.Setups[0].BaseURL = "127.0.0.1:8000" }, "want http://host:port"},
		{"relative path", func(o *Options) { o.Mix.Path = "api" }, "must start with /"},
		{"anonymous share above 1", func(o *Options) { o.Mix.AnonymousShare = 1.5 }, "not between 0 and 1"},
		{"negative anonymous share", func(o *Options) { o.Mix.AnonymousShare = -0.1 }, "not between 0 and 1"},
		{"no tokens", func(o *Options) { o.Mix.Tokens = nil }, "no tokens"},
		{"token with a newline", func(o *Options) { o.Mix.Tokens[3] = "a\nb" }, "token 3 is empty or contains whitespace"},
		{"zero duration", func(o *Options) { o.Duration = 0 }, "duration 0s must be positive"},
		{"negative warm-up", func(o *Options) { o.Warmup = -time.Second }, "warm-up -1s is negative"},
		{"zero rate", func(o *Options) { o.Rate = 0 }, "rate 0/s must be positive"},
		{"negative workers", func(o *Options) { o.Workers = -1 }, "workers -1 is negative"},
		{"negative rounds", func(o *Options) { o.Rounds = -1 }, "rounds -1 is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := good
			opts.Setups = slices.Clone(good.Setups)
			opts.Mix.Tokens = slices.Clone(good.Mix.Tokens)
			tt.change(&opts)
			report, err := Run(t.Context(), opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) || report != nil {
				t.Fatalf("Run = %v, %v; want an error containing %q", report, err, tt.want)
			}
		})
	}
}

func TestAllAnonymousMixNeedsNoTokens(t *testing.T) {
	rec := newRecorder()
	opts := tinyOptions(Setup{Name: NoAuth, BaseURL: server(t, rec, ok)})
	opts.Mix.Tokens, opts.Mix.AnonymousShare = nil, 1
	report, err := Run(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	requests, anonymous := rec.count(PhaseFlatOut + "/" + NoAuth)
	if requests == 0 || anonymous != requests || report.Method.Mix.AnonymousShare != 1 {
		t.Errorf("server saw %d requests, %d anonymous; mix %+v", requests, anonymous, report.Method.Mix)
	}
}

func TestScheduleIsTheSameForEverySetupAndSeed(t *testing.T) {
	mix := Mix{Path: "/p", Tokens: tokens(50), AnonymousShare: 0.1, ScheduleLength: 5000, Seed: 7}
	// walk returns the Authorization header of each of the first n requests ("" when anonymous).
	walk := func(m Mix, baseURL string, n int) []string {
		next := newSchedule(m).targeter(baseURL, m.Path)
		out := make([]string, n)
		for i := range out {
			var tgt vegeta.Target
			if err := next(&tgt); err != nil {
				t.Fatal(err)
			}
			if want := strings.TrimSuffix(baseURL, "/") + m.Path; tgt.URL != want || tgt.Method != http.MethodGet {
				t.Fatalf("target %s %s, want GET %s", tgt.Method, tgt.URL, want)
			}
			out[i] = tgt.Header.Get("Authorization")
		}
		return out
	}
	a := walk(mix, "http://127.0.0.1:1", 6000)
	b := walk(mix, "http://127.0.0.1:2/", 6000)
	if !slices.Equal(a, b) {
		t.Fatal("two setups got different request sequences")
	}
	if !slices.Equal(a[:1000], a[5000:]) {
		t.Error("the schedule does not repeat after ScheduleLength requests")
	}
	other := mix
	other.Seed = 8
	if slices.Equal(a, walk(other, "http://127.0.0.1:1", 6000)) {
		t.Error("another seed gave the same sequence")
	}

	st := newSchedule(mix).stats()
	if st.Users != 50 || st.AnonymousShare < 0.08 || st.AnonymousShare > 0.12 {
		t.Errorf("stats %+v: want 50 users and about 10%% anonymous", st)
	}
	// 50 users over about 4500 authenticated requests: all but the first use of each repeat.
	if st.ReuseShare < 0.98 {
		t.Errorf("reuse share %v, want about 0.99", st.ReuseShare)
	}
}

func TestTurnOrderAlternates(t *testing.T) {
	tests := []struct {
		setups, rounds int
		want           [][]int
	}{
		{1, 1, [][]int{{0}}},
		{3, 1, [][]int{{0, 1, 2}}},
		{3, 2, [][]int{{0, 1, 2}, {2, 1, 0}}},
		{2, 3, [][]int{{0, 1}, {1, 0}, {0, 1}}},
	}
	for _, tt := range tests {
		got := turnOrder(tt.setups, tt.rounds)
		if !slices.EqualFunc(got, tt.want, slices.Equal) {
			t.Errorf("turnOrder(%d, %d) = %v, want %v", tt.setups, tt.rounds, got, tt.want)
		}
	}
}

func TestReportJSONHasTheIssuesShape(t *testing.T) {
	r := sampleReport()
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(doc)); !slices.Equal(got, []string{"fixed_rate", "method", "process_costs", "rounds", "setups"}) {
		t.Errorf("top-level keys %v", got)
	}
	costs := doc["process_costs"].([]any)[0].(map[string]any)
	if costs["setup"] != CognitoAuthz || costs["phase"] != PhaseFlatOut {
		t.Errorf("process_costs[0] = %v", costs)
	}
	envoy := costs["processes"].([]any)[0].(map[string]any)
	if got := slices.Sorted(maps.Keys(envoy)); !slices.Equal(got, []string{"cpu_us_per_request", "name", "read_syscalls_per_request", "write_syscalls_per_request"}) {
		t.Errorf("process_costs[0].processes[0] keys %v", got)
	}
	resultKeys := []string{"errors", "name", "p50_ms", "p90_ms", "p99_ms", "rps"}
	check := func(where string, v any) {
		list, ok := v.([]any)
		if !ok || len(list) != 3 {
			t.Fatalf("%s: %v is not a list of three setups", where, v)
		}
		for _, item := range list {
			obj := item.(map[string]any)
			if got := slices.Sorted(maps.Keys(obj)); !slices.Equal(got, resultKeys) {
				t.Errorf("%s: keys %v, want exactly %v", where, got, resultKeys)
			}
		}
	}
	check("setups", doc["setups"])
	fixed := doc["fixed_rate"].(map[string]any)
	check("fixed_rate.setups", fixed["setups"])
	if fixed["rate"] != float64(500) {
		t.Errorf("fixed_rate.rate = %v", fixed["rate"])
	}
	first := doc["setups"].([]any)[2].(map[string]any)
	if first["name"] != CognitoAuthz || first["rps"] != 950.0 || first["p99_ms"] != 6.5 || first["errors"] != 0.0 {
		t.Errorf("setups[2] = %v", first)
	}
}

func sampleReport() *Report {
	return &Report{
		Setups: []Result{
			{Name: NoAuth, RPS: 1500, P50Ms: 1, P90Ms: 2, P99Ms: 4, Requests: 15000},
			{Name: JWTAuthn, RPS: 1000, P50Ms: 2, P90Ms: 3, P99Ms: 5, Requests: 10000},
			{Name: CognitoAuthz, RPS: 950, P50Ms: 2.1, P90Ms: 3.2, P99Ms: 6.5, Requests: 9500},
		},
		FixedRate: FixedRateReport{Rate: 500, Setups: []Result{
			{Name: NoAuth, RPS: 500, P50Ms: 0.5, P90Ms: 0.8, P99Ms: 1.2, Requests: 5000},
			{Name: JWTAuthn, RPS: 500, P50Ms: 0.7, P90Ms: 1, P99Ms: 2, Requests: 5000},
			{Name: CognitoAuthz, RPS: 499, P50Ms: 0.9, P90Ms: 1.5, P99Ms: 3, Errors: 2, Requests: 5000,
				ErrorKinds: map[string]uint64{"503 Service Unavailable": 2}},
		}},
		Method: Method{Path: "/api/activities/home", DurationSeconds: 10, Rounds: 2, Workers: 16, CPUs: 2,
			Machine: "2 logical CPUs", Authz: "own process, GOMAXPROCS=1"},
		ProcessCosts: []SetupCosts{
			{Phase: PhaseFlatOut, Setup: CognitoAuthz, Processes: []ProcessCost{
				{Name: EnvoyProcess, CPUMicros: 201.25, ReadCalls: 4.33, WriteCalls: 1.25},
				{Name: "cognito-authz", CPUMicros: 52.8, ReadCalls: 0.37, WriteCalls: 0.2},
			}},
			{Phase: PhaseFlatOut, Setup: JWTAuthn, Processes: []ProcessCost{
				{Name: EnvoyProcess, CPUMicros: 175, ReadCalls: 4, WriteCalls: 0.05},
			}},
			{Phase: PhaseFixedRate, Setup: CognitoAuthz, Processes: []ProcessCost{{Name: EnvoyProcess, CPUMicros: 390}}},
			{Phase: PhaseFixedRate, Setup: JWTAuthn, Processes: []ProcessCost{{Name: EnvoyProcess, CPUMicros: 300}}},
		},
		Rounds: []RoundResult{
			{Phase: PhaseFlatOut, Round: 1, Setup: JWTAuthn, RPS: 1100, Processes: []ProcessCost{{Name: EnvoyProcess, CPUMicros: 170}}},
			{Phase: PhaseFlatOut, Round: 1, Setup: CognitoAuthz, RPS: 990, Processes: []ProcessCost{{Name: EnvoyProcess, CPUMicros: 204}}},
			{Phase: PhaseFlatOut, Round: 2, Setup: CognitoAuthz, RPS: 910, Processes: []ProcessCost{{Name: EnvoyProcess, CPUMicros: 198.5}}},
			{Phase: PhaseFlatOut, Round: 2, Setup: JWTAuthn, RPS: 900, Processes: []ProcessCost{{Name: EnvoyProcess, CPUMicros: 180}}},
		},
	}
}

func TestCompareAgainstTheTargets(t *testing.T) {
	cs, err := sampleReport().Compare(CognitoAuthz, JWTAuthn)
	if err != nil {
		t.Fatal(err)
	}
	want := []Comparison{
		{Phase: PhaseFlatOut, Subject: CognitoAuthz, Baseline: JWTAuthn, ThroughputRatio: 0.95, P99Ratio: 1.3,
			ThroughputMet: true, P99Met: true, NoErrorsMet: true, EnvoyCPURatio: 1.15,
			Rounds: []RoundRatio{{Round: 1, Throughput: 0.9, EnvoyCPU: 1.2}, {Round: 2, Throughput: 1.011, EnvoyCPU: 1.103}}},
		// No Envoy CPU target at a fixed rate, and no rounds on record for it.
		{Phase: PhaseFixedRate, Subject: CognitoAuthz, Baseline: JWTAuthn, ThroughputRatio: 0.998, P99Ratio: 1.5,
			SubjectErrors: 2, ThroughputMet: true, EnvoyCPURatio: 1.3, EnvoyCPUMet: true},
	}
	if !reflect.DeepEqual(cs, want) {
		t.Fatalf("Compare =\n%+v\nwant\n%+v", cs, want)
	}
	if cs[0].Met() || cs[1].Met() {
		t.Errorf("Met: flat out %v (want false: Envoy CPU), fixed rate %v (want false)", cs[0].Met(), cs[1].Met())
	}

	// The Envoy CPU target: met at or under the bound, and when Envoy's CPU was not measured.
	for _, tt := range []struct {
		name        string
		subjectCPU  float64
		wantRatio   float64
		wantCPUMet  bool
		wantMetFlat bool
	}{
		{"under the bound", 175 * 1.05, 1.05, true, true},
		{"at the bound", 175 * MaxEnvoyCPURatio, MaxEnvoyCPURatio, true, true},
		{"over the bound", 175 * 1.12, 1.12, false, false},
		{"not measured", 0, 0, true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := sampleReport()
			r.ProcessCosts[0].Processes[0].CPUMicros = tt.subjectCPU
			cs, err := r.Compare(CognitoAuthz, JWTAuthn)
			if err != nil {
				t.Fatal(err)
			}
			if c := cs[0]; c.EnvoyCPURatio != tt.wantRatio || c.EnvoyCPUMet != tt.wantCPUMet || c.Met() != tt.wantMetFlat {
				t.Errorf("flat out: Envoy CPU %v× met %v, Met %v; want %v×, %v, %v",
					c.EnvoyCPURatio, c.EnvoyCPUMet, c.Met(), tt.wantRatio, tt.wantCPUMet, tt.wantMetFlat)
			}
		})
	}

	for _, tt := range []struct{ subject, baseline, want string }{
		{"opa", JWTAuthn, `no flat-out result for "opa"`},
		{CognitoAuthz, "opa", `no flat-out result for "opa"`},
	} {
		if _, err := sampleReport().Compare(tt.subject, tt.baseline); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Compare(%s, %s) = %v, want %q", tt.subject, tt.baseline, err, tt.want)
		}
	}
	broken := sampleReport()
	broken.Setups[1].RPS = 0
	if _, err := broken.Compare(CognitoAuthz, JWTAuthn); err == nil || !strings.Contains(err.Error(), "no successful requests") {
		t.Errorf("Compare against a baseline with no successes = %v", err)
	}
}

func TestWriteTable(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"flat out: 16 concurrent requests, 10s per setup in 2 rounds",
		"fixed rate: 500 req/s, 10s per setup in 2 rounds",
		"  cognito-authz      950.0     2.100     3.200     6.500        0       9500",
		"  cognito-authz errors: 2× 503 Service Unavailable",
		"cognito-authz vs jwt_authn, flat-out: throughput 0.95× (target ≥ 0.90×) ok; p99 1.30× (target ≤ 1.30×) ok; errors 0 (target 0) ok",
		"cognito-authz vs jwt_authn, fixed-rate: throughput 1.00× (target ≥ 0.90×) ok; p99 1.50× (target ≤ 1.30×) MISSED; errors 2 (target 0) MISSED",
		"no-auth vs jwt_authn, flat-out: throughput 1.50×",
		"machine: 2 logical CPUs",
		"cognito-authz: own process, GOMAXPROCS=1",
		"  phase      setup         process          CPU µs    reads   writes",
		"  flat-out   cognito-authz envoy             201.2     4.33     1.25",
		"  flat-out   cognito-authz cognito-authz      52.8     0.37     0.20",
		"  Envoy CPU per request 1.15× (target ≤ 1.10×) MISSED",
		"  by round: throughput 0.90, 1.01; Envoy CPU per request 1.20, 1.10",
		"  Envoy CPU per request 1.30× (no target at a fixed rate)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "jwt_authn vs jwt_authn") {
		t.Errorf("table compares the baseline with itself:\n%s", out)
	}
}

func TestWriteTableWithoutABaselinePrintsNoRatios(t *testing.T) {
	r := sampleReport()
	r.Setups, r.FixedRate.Setups = r.Setups[:1], r.FixedRate.Setups[:1]
	var buf bytes.Buffer
	if err := r.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), " vs ") {
		t.Errorf("ratios without a jwt_authn run:\n%s", buf.String())
	}
}
