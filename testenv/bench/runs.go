package bench

import (
	"fmt"
	"io"
	"math"
)

// Runs is several runs of the bench one after another (testenv bench --runs), each on a stack of
// its own: every process is started again, so runs differ from each other by more than the rounds
// of one run do (which CPU a process lands on, how its memory lies, what else the machine does). A
// difference of a few percent between two setups is read off the runs' mean and its standard
// error, not off one run.
type Runs struct {
	Reports []*Report    `json:"runs"`
	Summary []AcrossRuns `json:"across_runs"`
}

// AcrossRuns is one setup's flat-out Breakdown over the runs: each run's pooled figure, with their
// mean and its standard error.
type AcrossRuns struct {
	Setup        string    `json:"setup"`
	Envoy        RunFigure `json:"envoy_us"`
	Service      RunFigure `json:"cognito_authz_us,omitzero"`
	Sum          RunFigure `json:"sum_us,omitzero"`
	EnvoyVsJWT   RunFigure `json:"envoy_vs_jwt_authn,omitzero"`
	SumVsJWT     RunFigure `json:"sum_vs_jwt_authn,omitzero"`
	EnvoyVsFloor RunFigure `json:"envoy_vs_floor,omitzero"`
	SumVsFloor   RunFigure `json:"sum_vs_floor,omitzero"`
}

// RunFigure is one figure of every run that has it, in run order (a run that lacks it is left
// out, not counted as 0), with their mean and the mean's standard error (the runs' sample
// standard deviation over the square root of their number; 0 for a single run), both rounded to
// four decimals.
type RunFigure struct {
	Runs   []float64 `json:"runs"`
	Mean   float64   `json:"mean"`
	StdErr float64   `json:"stderr"`
}

// NewRuns sums reports up, setup by setup, in the order setups first appear in them.
func NewRuns(reports []*Report) *Runs {
	out := &Runs{Reports: reports}
	var order []string
	bySetup := map[string][]Breakdown{} // a setup's Breakdown in each run that has one
	for _, r := range reports {
		for _, b := range r.Breakdowns() {
			if _, seen := bySetup[b.Setup]; !seen {
				order = append(order, b.Setup)
			}
			bySetup[b.Setup] = append(bySetup[b.Setup], b)
		}
	}
	for _, setup := range order {
		runs := bySetup[setup]
		across := func(figure func(Breakdown) Spread) RunFigure {
			var values []float64
			for _, b := range runs {
				if s := figure(b); s.known() {
					values = append(values, s.Value)
				}
			}
			return newRunFigure(values)
		}
		out.Summary = append(out.Summary, AcrossRuns{Setup: setup,
			Envoy:        across(func(b Breakdown) Spread { return b.Envoy }),
			Service:      across(func(b Breakdown) Spread { return b.Service }),
			Sum:          across(func(b Breakdown) Spread { return b.Sum }),
			EnvoyVsJWT:   across(func(b Breakdown) Spread { return b.EnvoyVsJWT }),
			SumVsJWT:     across(func(b Breakdown) Spread { return b.SumVsJWT }),
			EnvoyVsFloor: across(func(b Breakdown) Spread { return b.EnvoyVsFloor }),
			SumVsFloor:   across(func(b Breakdown) Spread { return b.SumVsFloor }),
		})
	}
	return out
}

func newRunFigure(runs []float64) RunFigure {
	if len(runs) == 0 {
		return RunFigure{}
	}
	var sum float64
	for _, v := range runs {
		sum += v
	}
	mean := sum / float64(len(runs))
	var stderr float64
	if len(runs) > 1 {
		var squares float64
		for _, v := range runs {
			squares += (v - mean) * (v - mean)
		}
		stderr = math.Sqrt(squares/float64(len(runs)-1)) / math.Sqrt(float64(len(runs)))
	}
	return RunFigure{Runs: runs, Mean: round(mean, 4), StdErr: round(stderr, 4)}
}

// format is "1.040× ± 0.012 (0.980–1.090)": the mean, its standard error and the lowest and
// highest run; "-" when no run has the figure.
func (f RunFigure) format(prec int, unit string) string {
	if len(f.Runs) == 0 {
		return "-"
	}
	r := spread(f.Mean, f.Runs)
	return fmt.Sprintf("%.*f%s ± %.*f (%.*f–%.*f)", prec, f.Mean, unit, prec, f.StdErr, prec, r.Min, prec, r.Max)
}

// WriteTable prints the summary across the runs, after the runs' own tables.
func (r *Runs) WriteTable(w io.Writer) error {
	ew := &errWriter{w: w}
	width := len("setup")
	for _, s := range r.Summary {
		width = max(width, len(s.Setup))
	}
	const row = "  %-*s %-28s %-28s %-28s | %-32s %-32s | %-32s %s\n"
	runs := "runs"
	if len(r.Reports) == 1 {
		runs = "run"
	}
	fmt.Fprintf(ew, "\nacross %d %s, flat out: µs per request, each run's pooled figure; their mean ± its standard error (lowest–highest run)\n", len(r.Reports), runs)
	fmt.Fprintf(ew, row, width, "setup", "Envoy", "cognito-authz", "sum",
		"Envoy vs jwt_authn", "sum vs jwt_authn", "Envoy vs floor", "sum vs floor")
	for _, s := range r.Summary {
		fmt.Fprintf(ew, row, width, s.Setup, s.Envoy.format(1, ""), s.Service.format(1, ""), s.Sum.format(1, ""),
			s.EnvoyVsJWT.format(3, "×"), s.SumVsJWT.format(3, "×"), s.EnvoyVsFloor.format(3, "×"), s.SumVsFloor.format(3, "×"))
	}
	return ew.err
}

// WriteJSON writes every run's report and the summary.
func (r *Runs) WriteJSON(w io.Writer) error { return writeIndentedJSON(w, r) }
