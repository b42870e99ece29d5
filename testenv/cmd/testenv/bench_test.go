package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/cognito-authz/cognito-authz/testenv/bench"
	"github.com/cognito-authz/cognito-authz/testenv/envoyproc"
)

func TestBenchRefusesBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--duration", "0s"}, "--duration 0s: want more than 0"},
		{[]string{"--duration", "11m"}, "at most 10m0s"},
		{[]string{"--warmup", "-1s"}, "--warmup -1s"},
		{[]string{"--rate", "0"}, "--rate 0"},
		{[]string{"--workers", "0"}, "--workers 0"},
		{[]string{"--rounds", "11"}, "--rounds 11"},
		{[]string{"--users", "0"}, "--users 0"},
		{[]string{"--anonymous", "1"}, "--anonymous 1: want at least 0 and below 1"},
		{[]string{"--anonymous", "NaN"}, "--anonymous NaN"},
		{[]string{"--path", "api"}, `--path "api"`},
		{[]string{"--envoy-concurrency", "0"}, "--envoy-concurrency 0"},
		{[]string{"--authz-gomaxprocs", "2"}, "--authz-gomaxprocs needs --authz-bin"},
		{[]string{"--authz-gomaxprocs", "-2", "--authz-bin", "x"}, "--authz-gomaxprocs -2"},
		{[]string{"--rate", "0", "--users", "0"}, "--rate 0: want 1 to 100000; --users 0"},
		{[]string{"--variants", "map-headers,turbo"}, `--variants: variant "turbo": want one of claims-hosts, google-grpc, map-headers, metadata, revocation`},
		{[]string{"--variants", "metadata,metadata"}, `--variants: variant "metadata" given twice`},
		{[]string{"--runs", "0"}, "--runs 0: want 1 to 20"},
		{[]string{"--runs", "21"}, "--runs 21"},
		{[]string{"--runs", "2", "--cpuprofile", "cpu.out"}, "--cpuprofile profiles one run"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stderr syncBuffer
			err := runBench(t.Context(), env{stderr: &stderr}, tt.args)
			var usage usageError
			if !errors.As(err, &usage) || !strings.Contains(usage.msg, tt.want) {
				t.Fatalf("runBench = %v, want a usage error containing %q", err, tt.want)
			}
		})
	}
}

// TestBenchEndToEnd runs the whole command briefly against real Envoys. It asserts the wiring (every
// setup measured, each answered as its name says, the JSON written), not any speed: the machine is
// shared.
func TestBenchEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three Envoys")
	}
	envoyproc.RequireEnvoy(t)
	table, stderr, raw, err := benchInTest(t, "--duration", "300ms", "--warmup", "100ms", "--rounds", "1",
		"--users", "20", "--rate", "100", "--workers", "2", "--floor", "--http")
	if err != nil {
		t.Fatalf("runBench: %v\nstderr:\n%s", err, stderr)
	}
	var report bench.Report
	if err := json.Unmarshal(raw, &report); err != nil {
		t.Fatalf("--json file: %v\n%s", err, raw)
	}
	want := []string{bench.NoAuth, bench.JWTAuthn, bench.CognitoAuthz, bench.CognitoAuthzHTTP, bench.ExtAuthzFloor}
	for phase, results := range map[string][]bench.Result{"flat out": report.Setups, "fixed rate": report.FixedRate.Setups} {
		var names []string
		for _, r := range results {
			names = append(names, r.Name)
			if r.RPS <= 0 {
				t.Errorf("%s %s: rps %v, want some successes", phase, r.Name, r.RPS)
			}
		}
		if !slices.Equal(names, want) {
			t.Errorf("%s: setups %v, want %v", phase, names, want)
		}
	}
	if report.Method.Mix.Users != 20 || report.Method.Machine == "" || report.Method.Authz != "inside the bench process" {
		t.Errorf("method %+v", report.Method)
	}
	if runtime.GOOS == "linux" {
		// Every setup's Envoy is measured in both phases, and it reads at least its client's request.
		envoys := map[string]bool{}
		for _, c := range report.ProcessCosts {
			for _, p := range c.Processes {
				if p.Name == "envoy" && p.ReadCalls >= 1 {
					envoys[c.Phase+" "+c.Setup] = true
				}
			}
		}
		if len(envoys) != 2*len(want) {
			t.Errorf("process costs with an envoy that read its requests: %v, want %d\n%s", envoys, 2*len(want), raw)
		}
	}
	for _, want := range []string{"flat out:", "fixed rate: 100 req/s", "cognito-authz vs jwt_authn, flat-out:"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if !strings.Contains(stderr, "verified-token cache:") {
		t.Errorf("stderr lacks cognito-authz's counters:\n%s", stderr)
	}
}

// TestBenchRuns runs the command twice over (--runs 2) against real Envoys: each run has its own
// table, the summary across them follows, and the JSON holds both runs and the summary.
func TestBenchRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Envoys twice")
	}
	envoyproc.RequireEnvoy(t)
	table, stderr, raw, err := benchInTest(t, "--duration", "200ms", "--warmup", "0s", "--rounds", "1",
		"--users", "5", "--rate", "100", "--workers", "2", "--http=false", "--floor", "--runs", "2")
	if err != nil {
		t.Fatalf("runBench: %v\nstderr:\n%s", err, stderr)
	}
	for _, want := range []string{"run 1 of 2", "run 2 of 2", "across 2 runs", bench.ExtAuthzFloor} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	var runs bench.Runs
	if err := json.Unmarshal(raw, &runs); err != nil {
		t.Fatalf("--json file: %v\n%s", err, raw)
	}
	if len(runs.Reports) != 2 {
		t.Fatalf("--json file holds %d runs, want 2:\n%s", len(runs.Reports), raw)
	}
	if runtime.GOOS == "linux" { // process costs come from /proc
		if len(runs.Summary) != 4 {
			t.Fatalf("--json file sums up %d setups, want 4:\n%s", len(runs.Summary), raw)
		}
		for _, s := range runs.Summary {
			if s.Setup == bench.CognitoAuthz && len(s.EnvoyVsFloor.Runs) != 2 {
				t.Errorf("%s: Envoy vs the floor in %d runs, want 2: %+v", s.Setup, len(s.EnvoyVsFloor.Runs), s)
			}
		}
	}
}

// TestBenchKeepsFinishedRuns: when a run fails, the runs before it are still summed up and
// written, and the error names the run.
func TestBenchKeepsFinishedRuns(t *testing.T) {
	envoyproc.RequireEnvoy(t) // runBench looks for Envoy before the first run
	calls := 0
	runOnce = func(context.Context, env, benchFlags, string) (*bench.Report, error) {
		if calls++; calls == 2 {
			return nil, errors.New("envoy would not start")
		}
		return &bench.Report{Setups: []bench.Result{{Name: bench.JWTAuthn, RPS: 1}}}, nil
	}
	t.Cleanup(func() { runOnce = benchOnce })
	table, _, raw, err := benchInTest(t, "--runs", "3")
	if err == nil || !strings.Contains(err.Error(), "run 2 of 3: envoy would not start") {
		t.Fatalf("runBench = %v, want the second run's error", err)
	}
	if calls != 2 {
		t.Errorf("%d runs started, want 2: none after the one that failed", calls)
	}
	var runs bench.Runs
	if err := json.Unmarshal(raw, &runs); err != nil || len(runs.Reports) != 1 {
		t.Fatalf("--json file: %v, want the one run that finished:\n%s", err, raw)
	}
	if !strings.Contains(table, "across 1 run,") {
		t.Errorf("no summary of the finished run:\n%s", table)
	}
}

// benchInTest runs the bench command with args and a --json file of its own, and gives what it
// printed as its table and on stderr, the JSON file (nil when none was written) and its error.
func benchInTest(t *testing.T, args ...string) (table, stderr string, raw []byte, err error) {
	t.Helper()
	jsonPath := filepath.Join(t.TempDir(), "bench.json")
	var out bytes.Buffer
	benchStdout = &out
	t.Cleanup(func() { benchStdout = os.Stdout })
	var errOut syncBuffer
	err = runBench(t.Context(), env{stderr: &errOut}, append(args, "--json", jsonPath))
	raw, _ = os.ReadFile(jsonPath)
	return out.String(), errOut.String(), raw, err
}
