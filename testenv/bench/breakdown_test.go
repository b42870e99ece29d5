package bench

import (
	"strings"
	"testing"
)

// TestBreakdowns: each setup's Envoy, service and their sum, pooled and over rounds, and the
// ratios against jwt_authn and the floor taken round by round; a service inside the bench
// process has no sum.
func TestBreakdowns(t *testing.T) {
	costs := func(envoy, service float64) []ProcessCost {
		ps := []ProcessCost{{Name: EnvoyProcess, CPUMicros: envoy}}
		if service > 0 {
			ps = append(ps, ProcessCost{Name: ServiceProcess, CPUMicros: service})
		}
		return append(ps, ProcessCost{Name: benchProcess, CPUMicros: 100})
	}
	round := func(n int, setup string, envoy, service float64) RoundResult {
		return RoundResult{Phase: PhaseFlatOut, Round: n, Setup: setup, RPS: 1, Processes: costs(envoy, service)}
	}
	r := &Report{
		Setups: []Result{{Name: JWTAuthn}, {Name: CognitoAuthz}, {Name: ExtAuthzFloor}, {Name: "in-process"}},
		ProcessCosts: []SetupCosts{
			{Phase: PhaseFixedRate, Setup: CognitoAuthz, Processes: costs(999, 999)},
			{Phase: PhaseFlatOut, Setup: JWTAuthn, Processes: costs(200, 0)},
			{Phase: PhaseFlatOut, Setup: CognitoAuthz, Processes: costs(220, 40)},
			{Phase: PhaseFlatOut, Setup: ExtAuthzFloor, Processes: costs(200, 40)},
			{Phase: PhaseFlatOut, Setup: "in-process", Processes: []ProcessCost{
				{Name: EnvoyProcess, CPUMicros: 210}, {Name: benchProcessWithAuthz, CPUMicros: 150}}},
		},
		Rounds: []RoundResult{
			round(1, JWTAuthn, 190, 0), round(1, CognitoAuthz, 209, 38), round(1, ExtAuthzFloor, 190, 38),
			round(2, JWTAuthn, 210, 0), round(2, CognitoAuthz, 231, 42), round(2, ExtAuthzFloor, 231, 42),
			{Phase: PhaseFixedRate, Round: 1, Setup: CognitoAuthz, Processes: costs(1, 1)},
		},
	}
	bs := r.Breakdowns()
	if len(bs) != 4 {
		t.Fatalf("%d breakdowns, want 4: %+v", len(bs), bs)
	}
	jwt, ca, floor, inProc := bs[0], bs[1], bs[2], bs[3]
	if jwt.Sum != (Spread{200, 190, 210}) || jwt.Service.known() || jwt.EnvoyVsJWT.known() {
		t.Errorf("jwt_authn: %+v", jwt)
	}
	if ca.Envoy != (Spread{220, 209, 231}) || ca.Service != (Spread{40, 38, 42}) || ca.Sum != (Spread{260, 247, 273}) {
		t.Errorf("cognito-authz costs: %+v", ca)
	}
	// Round 1: 209/190 = 1.1, round 2: 231/210 = 1.1; sums 247/190 = 1.3, 273/210 = 1.3.
	if ca.EnvoyVsJWT != (Spread{1.1, 1.1, 1.1}) || ca.SumVsJWT != (Spread{1.3, 1.3, 1.3}) {
		t.Errorf("cognito-authz vs jwt_authn: %+v %+v", ca.EnvoyVsJWT, ca.SumVsJWT)
	}
	// Round 1: 209/190 = 1.1, round 2: 231/231 = 1.
	if ca.EnvoyVsFloor != (Spread{1.1, 1, 1.1}) {
		t.Errorf("cognito-authz vs the floor: %+v", ca.EnvoyVsFloor)
	}
	if floor.EnvoyVsFloor.known() {
		t.Errorf("the floor against itself: %+v", floor.EnvoyVsFloor)
	}
	if inProc.Sum.known() || inProc.SumVsJWT.known() || !inProc.EnvoyVsJWT.known() {
		t.Errorf("a service inside the bench process has no sum: %+v", inProc)
	}
	var table strings.Builder
	if err := r.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"where the CPU goes", "260.0 (247.0–273.0)", "1.30× (1.30–1.30)"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
}
