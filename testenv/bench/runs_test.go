package bench

import (
	"bytes"
	"encoding/json"
	"math"
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

func TestNewRuns(t *testing.T) {
	order := []string{JWTAuthn, CognitoAuthz, ExtAuthzFloor}
	runs := NewRuns([]*Report{
		reportWith(map[string][2]float64{JWTAuthn: {100, 0}, CognitoAuthz: {110, 40}, ExtAuthzFloor: {100, 30}}, order...),
		reportWith(map[string][2]float64{JWTAuthn: {200, 0}, CognitoAuthz: {240, 40}, ExtAuthzFloor: {200, 30}}, order...),
		// A run without the floor: its ratios to the floor are missing, not zero.
		reportWith(map[string][2]float64{JWTAuthn: {100, 0}, CognitoAuthz: {130, 40}}, JWTAuthn, CognitoAuthz),
	})
	if len(runs.Summary) != 3 {
		t.Fatalf("%d setups, want 3: %+v", len(runs.Summary), runs.Summary)
	}
	ca := runs.Summary[1]
	if ca.Setup != CognitoAuthz {
		t.Fatalf("second setup %q, want %q", ca.Setup, CognitoAuthz)
	}
	near := func(what string, got RunFigure, mean, stderr float64, n int) {
		t.Helper()
		if len(got.Runs) != n || math.Abs(got.Mean-mean) > 5e-5 || math.Abs(got.StdErr-stderr) > 5e-5 {
			t.Errorf("%s: %+v, want %d runs, mean %v, standard error %v", what, got, n, mean, stderr)
		}
	}
	// Envoy vs jwt_authn: 1.1, 1.2, 1.3: mean 1.2, sample deviation 0.1, over √3.
	near("Envoy vs jwt_authn", ca.EnvoyVsJWT, 1.2, 0.1/math.Sqrt(3), 3)
	// Envoy vs the floor: 1.1 and 1.2 from the two runs that had one.
	near("Envoy vs the floor", ca.EnvoyVsFloor, 1.15, 0.05, 2)
	near("Envoy", ca.Envoy, 160, math.Sqrt(((110-160)*(110-160)+(240-160)*(240-160)+(130-160)*(130-160))/2.0)/math.Sqrt(3), 3)
	near("service", ca.Service, 40, 0, 3)
	if jwt := runs.Summary[0]; len(jwt.Service.Runs) != 0 || len(jwt.EnvoyVsJWT.Runs) != 0 {
		t.Errorf("jwt_authn has no service and is not set against itself: %+v", jwt)
	}

	var table bytes.Buffer
	if err := runs.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"across 3 runs", "1.200× ± 0.058 (1.100–1.300)", "1.150× ± 0.050 (1.100–1.200)"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
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
