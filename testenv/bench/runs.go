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

// RunFigure is one figure of every run that has it, in run order, with their mean and the mean's
// standard error (the runs' sample standard deviation over the square root of their number; 0
// for a single run), rounded to four decimals.
type RunFigure struct {
	Runs   []float64 `json:"runs"`
	Mean   float64   `json:"mean"`
	StdErr float64   `json:"stderr"`
}

// NewRuns sums reports up, setup by setup, in the first report's order of setups.
func NewRuns(reports []*Report) *Runs {
	out := &Runs{Reports: reports}
	if len(reports) == 0 {
		return out
	}
	for _, first := range reports[0].Breakdowns() {
		var figures [7][]float64
		for _, r := range reports {
			for _, b := range r.Breakdowns() {
				if b.Setup != first.Setup {
					continue
				}
				for i, s := range [7]Spread{b.Envoy, b.Service, b.Sum, b.EnvoyVsJWT, b.SumVsJWT, b.EnvoyVsFloor, b.SumVsFloor} {
					if s.known() {
						figures[i] = append(figures[i], s.Value)
					}
				}
			}
		}
		out.Summary = append(out.Summary, AcrossRuns{Setup: first.Setup,
			Envoy: newRunFigure(figures[0]), Service: newRunFigure(figures[1]), Sum: newRunFigure(figures[2]),
			EnvoyVsJWT: newRunFigure(figures[3]), SumVsJWT: newRunFigure(figures[4]),
			EnvoyVsFloor: newRunFigure(figures[5]), SumVsFloor: newRunFigure(figures[6])})
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

// format is "1.04× ± 0.01 (0.98–1.09)": the mean, its standard error and the lowest and highest
// run; "-" when no run has the figure.
func (f RunFigure) format(prec int, unit string) string {
	if len(f.Runs) == 0 {
		return "-"
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range f.Runs {
		lo, hi = min(lo, v), max(hi, v)
	}
	return fmt.Sprintf("%.*f%s ± %.*f (%.*f–%.*f)", prec, f.Mean, unit, prec, f.StdErr, prec, lo, prec, hi)
}

// WriteTable prints the summary across the runs, after the runs' own tables.
func (r *Runs) WriteTable(w io.Writer) error {
	ew := &errWriter{w: w}
	width := len("setup")
	for _, s := range r.Summary {
		width = max(width, len(s.Setup))
	}
	fmt.Fprintf(ew, "\nacross %d runs, flat out: each run's pooled figure; their mean ± its standard error (lowest–highest run)\n", len(r.Reports))
	fmt.Fprintf(ew, "  %-*s %-28s %-26s | %-28s %-28s | %-28s %s\n", width, "setup",
		"Envoy µs", "cognito-authz µs", "Envoy vs jwt_authn", "sum vs jwt_authn", "Envoy vs floor", "sum vs floor")
	for _, s := range r.Summary {
		fmt.Fprintf(ew, "  %-*s %-28s %-26s | %-28s %-28s | %-28s %s\n", width, s.Setup,
			s.Envoy.format(1, ""), s.Service.format(1, ""), s.EnvoyVsJWT.format(3, "×"), s.SumVsJWT.format(3, "×"),
			s.EnvoyVsFloor.format(3, "×"), s.SumVsFloor.format(3, "×"))
	}
	return ew.err
}

// WriteJSON writes every run's report and the summary.
func (r *Runs) WriteJSON(w io.Writer) error { return writeIndentedJSON(w, r) }
