package bench

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
)

// reportWith is a run whose flat-out phase pooled these Envoy and service figures per setup (a
// service of 0: none), in one round.
func reportWith(costs map[string][2]float64, order ...string) *Report {
	r := &Report{}
	for _, name := range order {
		c := costs[name]
		ps := []ProcessCost{{Name: EnvoyProcess, CPUMicros: c[0]}}
		if c[1] > 0 {
			ps = append(ps, ProcessCost{Name: ServiceProcess, CPUMicros: c[1]})
		}
		r.Setups = append(r.Setups, Result{Name: name})
		r.ProcessCosts = append(r.ProcessCosts, SetupCosts{Phase: PhaseFlatOut, Setup: name, Processes: ps})
		r.Rounds = append(r.Rounds, RoundResult{Phase: PhaseFlatOut, Round: 1, Setup: name, Processes: ps})
	}
	return r
}

// TestNewRuns sums three runs up: every figure of every setup is each run's pooled one, with
// their mean and standard error; a run without a setup or a figure leaves it out.
func TestNewRuns(t *testing.T) {
	runs := NewRuns([]*Report{
		// The first run lacks the floor: a setup first met in a later run is still summed up.
		reportWith(map[string][2]float64{JWTAuthn: {100, 0}, CognitoAuthz: {130, 40}}, JWTAuthn, CognitoAuthz),
		reportWith(map[string][2]float64{JWTAuthn: {100, 0}, CognitoAuthz: {110, 20}, ExtAuthzFloor: {100, 30}},
			JWTAuthn, CognitoAuthz, ExtAuthzFloor),
		reportWith(map[string][2]float64{JWTAuthn: {200, 0}, CognitoAuthz: {240, 60}, ExtAuthzFloor: {200, 30}},
			JWTAuthn, CognitoAuthz, ExtAuthzFloor),
	})
	var setups []string
	for _, s := range runs.Summary {
		setups = append(setups, s.Setup)
	}
	if want := []string{JWTAuthn, CognitoAuthz, ExtAuthzFloor}; !slices.Equal(setups, want) {
		t.Fatalf("setups %v, want %v", setups, want)
	}
	jwt, ca, floor := runs.Summary[0], runs.Summary[1], runs.Summary[2]
	sd := func(vs ...float64) float64 { // the sample standard deviation over √n
		var mean, squares float64
		for _, v := range vs {
			mean += v / float64(len(vs))
		}
		for _, v := range vs {
			squares += (v - mean) * (v - mean)
		}
		return math.Sqrt(squares/float64(len(vs)-1)) / math.Sqrt(float64(len(vs)))
	}
	tests := []struct {
		name         string
		got          RunFigure
		runs         []float64
		mean, stderr float64
	}{
		{"cognito-authz Envoy", ca.Envoy, []float64{130, 110, 240}, 160, sd(130, 110, 240)},
		{"cognito-authz service", ca.Service, []float64{40, 20, 60}, 40, sd(40, 20, 60)},
		{"cognito-authz sum", ca.Sum, []float64{170, 130, 300}, 200, sd(170, 130, 300)},
		{"cognito-authz Envoy vs jwt_authn", ca.EnvoyVsJWT, []float64{1.3, 1.1, 1.2}, 1.2, 0.1 / math.Sqrt(3)},
		{"cognito-authz sum vs jwt_authn", ca.SumVsJWT, []float64{1.7, 1.3, 1.5}, 1.5, 0.2 / math.Sqrt(3)},
		{"cognito-authz Envoy vs the floor, in the two runs with one", ca.EnvoyVsFloor, []float64{1.1, 1.2}, 1.15, 0.05},
		{"cognito-authz sum vs the floor (each run's ratio to three decimals)", ca.SumVsFloor, []float64{1, 1.304}, 1.152, 0.152},
		{"jwt_authn has no service", jwt.Service, nil, 0, 0},
		{"jwt_authn against itself", jwt.EnvoyVsJWT, nil, 0, 0},
		{"the floor against itself", floor.EnvoyVsFloor, nil, 0, 0},
		{"the floor's service, the same in both runs", floor.Service, []float64{30, 30}, 30, 0},
	}
	for _, tt := range tests {
		near := func(a, b float64) bool { return math.Abs(a-b) < 5e-5 }
		same := len(tt.got.Runs) == len(tt.runs)
		for i := range tt.runs {
			same = same && near(tt.got.Runs[i], tt.runs[i])
		}
		if !same || !near(tt.got.Mean, tt.mean) || !near(tt.got.StdErr, tt.stderr) {
			t.Errorf("%s: %+v, want runs %v, mean %v, standard error %.4f", tt.name, tt.got, tt.runs, tt.mean, tt.stderr)
		}
	}

	var table bytes.Buffer
	if err := runs.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(table.String()), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "across 3 runs") {
		t.Fatalf("table: want a title, a header and a row per setup:\n%s", table.String())
	}
	// Each row's columns, in the header's order: setup, then seven figures, "-" where unknown.
	columns := func(line string) []string {
		var out []string
		for _, part := range strings.Split(strings.ReplaceAll(line, "|", "  "), "  ") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
		return out
	}
	wantRows := [][]string{
		{"setup", "Envoy", "cognito-authz", "sum", "Envoy vs jwt_authn", "sum vs jwt_authn", "Envoy vs floor", "sum vs floor"},
		{JWTAuthn, "133.3 ± 33.3 (100.0–200.0)", "-", "133.3 ± 33.3 (100.0–200.0)", "-", "-", "1.000× ± 0.000 (1.000–1.000)", "0.820× ± 0.051 (0.769–0.870)"},
		{CognitoAuthz, "160.0 ± 40.4 (110.0–240.0)", "40.0 ± 11.5 (20.0–60.0)", "200.0 ± 51.3 (130.0–300.0)",
			"1.200× ± 0.058 (1.100–1.300)", "1.500× ± 0.116 (1.300–1.700)", "1.150× ± 0.050 (1.100–1.200)", "1.152× ± 0.152 (1.000–1.304)"},
	}
	for i, want := range wantRows {
		if got := columns(lines[i+1]); !slices.Equal(got, want) {
			t.Errorf("table line %d: %q, want %q", i+2, got, want)
		}
	}

	var raw bytes.Buffer
	if err := runs.WriteJSON(&raw); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Runs       []json.RawMessage            `json:"runs"`
		AcrossRuns []map[string]json.RawMessage `json:"across_runs"`
	}
	if err := json.Unmarshal(raw.Bytes(), &back); err != nil {
		t.Fatalf("JSON: %v\n%s", err, raw.String())
	}
	if len(back.Runs) != 3 || len(back.AcrossRuns) != 3 {
		t.Fatalf("JSON holds %d runs and %d setups, want 3 and 3:\n%s", len(back.Runs), len(back.AcrossRuns), raw.String())
	}
	if _, ok := back.AcrossRuns[0]["cognito_authz_us"]; ok {
		t.Errorf("jwt_authn's summary has a service figure:\n%s", raw.String())
	}
	if _, ok := back.AcrossRuns[1]["envoy_vs_floor"]; !ok {
		t.Errorf("cognito-authz's summary lacks envoy_vs_floor:\n%s", raw.String())
	}
}

func TestNewRunsOfNone(t *testing.T) {
	if r := NewRuns(nil); len(r.Summary) != 0 {
		t.Errorf("no runs: %+v", r)
	}
}
