package bench

import (
	"fmt"
	"io"
	"math"
)

// ServiceProcess is the name of a setup's cognito-authz among its Processes, when it runs as a
// process of its own.
const ServiceProcess = "cognito-authz"

// Spread is a figure pooled over a phase's rounds, with its lowest and highest round.
type Spread struct {
	Value    float64 `json:"value"`
	Min, Max float64 `json:"-"`
}

func (s Spread) known() bool { return s.Value > 0 }

// format is "212.0 (205.1–220.3)", or "-" when unknown; prec is the decimals.
func (s Spread) format(prec int, unit string) string {
	if !s.known() {
		return "-"
	}
	return fmt.Sprintf("%.*f%s (%.*f–%.*f)", prec, s.Value, unit, prec, s.Min, prec, s.Max)
}

// Breakdown is where one setup's requests cost the proxy side CPU, flat out: its Envoy per
// request, its cognito-authz per check (when that has a process of its own) and their sum, and
// each against jwt_authn's and the ext_authz floor's, round by round.
type Breakdown struct {
	Setup                    string
	Envoy, Service, Sum      Spread // µs per request; Service unknown for a setup without one
	EnvoyVsJWT, SumVsJWT     Spread // ratios; unknown without a jwt_authn setup
	EnvoyVsFloor, SumVsFloor Spread // ratios; unknown without the floor
}

// Breakdowns lists every setup's Breakdown in the flat-out phase, in the setups' order; nil when
// no process was measured.
func (r *Report) Breakdowns() []Breakdown {
	var out []Breakdown
	for _, s := range r.Setups {
		costs := r.costs(PhaseFlatOut, s.Name)
		if costs == nil {
			continue
		}
		b := Breakdown{Setup: s.Name}
		var envoys, services, sums []float64
		for _, round := range r.Rounds {
			if round.Phase == PhaseFlatOut && round.Setup == s.Name {
				e, svc, sum := split(round.Processes)
				envoys, services, sums = append(envoys, e), append(services, svc), append(sums, sum)
			}
		}
		e, svc, sum := split(costs)
		b.Envoy, b.Service, b.Sum = spread(e, envoys), spread(svc, services), spread(sum, sums)
		b.EnvoyVsJWT, b.SumVsJWT = r.ratioSpread(s.Name, JWTAuthn)
		b.EnvoyVsFloor, b.SumVsFloor = r.ratioSpread(s.Name, ExtAuthzFloor)
		out = append(out, b)
	}
	return out
}

// split is the Envoy's and the service's CPU per request among costs (0 when absent), and their
// sum, 0 when cognito-authz ran inside the bench process and its share is unknown.
func split(costs []ProcessCost) (envoy, service, sum float64) {
	inBench := false
	for _, p := range costs {
		switch p.Name {
		case EnvoyProcess:
			envoy = p.CPUMicros
		case ServiceProcess:
			service = p.CPUMicros
		case benchProcessWithAuthz:
			inBench = true
		}
	}
	if inBench || envoy == 0 {
		return envoy, service, 0
	}
	return envoy, service, envoy + service
}

// ratioSpread sets subject's Envoy and sum against baseline's, pooled and round by round.
func (r *Report) ratioSpread(subject, baseline string) (envoy, sum Spread) {
	if subject == baseline {
		return Spread{}, Spread{}
	}
	base := r.costs(PhaseFlatOut, baseline)
	if base == nil {
		return Spread{}, Spread{}
	}
	se, _, ss := split(r.costs(PhaseFlatOut, subject))
	be, _, bs := split(base)
	var envoys, sums []float64
	for _, s := range r.Rounds {
		if s.Phase != PhaseFlatOut || s.Setup != subject {
			continue
		}
		for _, b := range r.Rounds {
			if b.Phase == PhaseFlatOut && b.Setup == baseline && b.Round == s.Round {
				se1, _, ss1 := split(s.Processes)
				be1, _, bs1 := split(b.Processes)
				envoys, sums = append(envoys, ratio(se1, be1)), append(sums, ratio(ss1, bs1))
			}
		}
	}
	return spread(ratio(se, be), envoys), spread(ratio(ss, bs), sums)
}

// spread is value with the lowest and highest of rounds (value alone when no round has one).
func spread(value float64, rounds []float64) Spread {
	if value <= 0 {
		return Spread{}
	}
	s := Spread{Value: value, Min: math.Inf(1), Max: math.Inf(-1)}
	for _, v := range rounds {
		if v > 0 {
			s.Min, s.Max = min(s.Min, v), max(s.Max, v)
		}
	}
	if math.IsInf(s.Min, 1) {
		s.Min, s.Max = value, value
	}
	return s
}

// writeBreakdowns prints Breakdowns as the table docs/performance.md leads with.
func writeBreakdowns(w io.Writer, bs []Breakdown) {
	if len(bs) == 0 {
		return
	}
	width := len("setup")
	for _, b := range bs {
		width = max(width, len(b.Setup))
	}
	fmt.Fprintln(w, "where the CPU goes, flat out: µs per request, all rounds pooled (lowest–highest round);")
	fmt.Fprintln(w, "sum = Envoy + cognito-authz; ratios against jwt_authn's and the floor's, round by round")
	fmt.Fprintf(w, "  %-*s %-22s %-20s %-22s | %-20s %-20s | %-20s %-20s\n", width, "setup",
		"Envoy", "cognito-authz", "sum", "Envoy vs jwt_authn", "sum vs jwt_authn", "Envoy vs floor", "sum vs floor")
	for _, b := range bs {
		fmt.Fprintf(w, "  %-*s %-22s %-20s %-22s | %-20s %-20s | %-20s %-20s\n", width, b.Setup,
			b.Envoy.format(1, ""), b.Service.format(1, ""), b.Sum.format(1, ""),
			b.EnvoyVsJWT.format(2, "×"), b.SumVsJWT.format(2, "×"), b.EnvoyVsFloor.format(2, "×"), b.SumVsFloor.format(2, "×"))
	}
}
