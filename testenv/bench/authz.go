package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/cognito-authz/cognito-authz/extauthz"
	"github.com/cognito-authz/cognito-authz/internal/poll"
	"github.com/cognito-authz/cognito-authz/testenv/childproc"
)

// authzServer is cognito-authz as the bench runs it: inside this process (nothing to build first) or as
// its own process, as it is deployed.
type authzServer interface {
	GRPCAddr() string
	HTTPAddr() string // the HTTP forward-auth endpoint
	// Counters sums each counter's series by metric name.
	Counters() (map[string]float64, error)
	Stop(ctx context.Context) error
	// Process is the service's own process, or false when it runs inside this one.
	Process() (Process, bool)
}

// readyWait is how long a started cognito-authz has to load its keys.
const readyWait = 30 * time.Second

type inProcessAuthz struct{ r *extauthz.Service }

// startAuthzInProcess runs cognito-authz for cfg inside this process, its warnings and errors
// written to logs, and returns once it is ready.
func startAuthzInProcess(ctx context.Context, cfg *extauthz.Config, logs io.Writer) (authzServer, error) {
	r, err := extauthz.NewService(cfg, warnLogger(logs))
	if err != nil {
		return nil, err
	}
	if err := r.Start(ctx); err != nil {
		return nil, fmt.Errorf("cognito-authz: %w", err)
	}
	a := inProcessAuthz{r}
	if err := poll.Until(ctx, readyWait, r.Ready); err != nil {
		_ = r.Shutdown(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("cognito-authz never became ready (keys not loaded): %w", err)
	}
	return a, nil
}

func (a inProcessAuthz) GRPCAddr() string               { return a.r.GRPCAddr().String() }
func (a inProcessAuthz) HTTPAddr() string               { return a.r.HTTPAddr().String() }
func (a inProcessAuthz) Stop(ctx context.Context) error { return a.r.Shutdown(ctx) }
func (a inProcessAuthz) Process() (Process, bool)       { return Process{}, false }

func (a inProcessAuthz) Counters() (map[string]float64, error) {
	families, err := a.r.Metrics().Registry().Gather()
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			out[mf.GetName()] += m.GetCounter().GetValue()
		}
	}
	return out, nil
}

// processAuthz is `cognito-authz serve` in a process of its own.
type processAuthz struct {
	proc     *childproc.Proc
	dir      string // its configuration, removed when it has stopped
	grpc     string
	http     string
	adminURL string
}

func (a *processAuthz) Process() (Process, bool) {
	return Process{Name: ServiceProcess, PID: a.proc.PID()}, true
}

// startAuthzProcess runs `bin serve` for cfg in a process of its own with GOMAXPROCS=procs (Go's
// default when procs is 0), its output written to logs, and returns once it is ready. It picks
// cfg's listen addresses.
func startAuthzProcess(ctx context.Context, bin string, procs int, cfg *extauthz.Config, logs io.Writer) (authzServer, error) {
	// The service's flags have no cache size; a file carries the whole configuration instead.
	ports, err := childproc.FreeAddrs(3)
	if err != nil {
		return nil, err
	}
	cfg.Listen, cfg.AdminListen, cfg.HTTPListen = ports[0], ports[1], ports[2]
	dir, err := os.MkdirTemp("", "bench-authz-")
	if err != nil {
		return nil, err
	}
	cfgPath := dir + "/cognito-authz.yaml"
	text, err := cfg.YAML()
	if err == nil {
		err = os.WriteFile(cfgPath, text, 0o600)
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("cognito-authz config: %w", err)
	}
	cmd := exec.Command(bin, "serve", "--config", cfgPath, "--log-level", "warn", "--log-format", "console")
	cmd.Stdout, cmd.Stderr = logs, logs
	if procs > 0 {
		cmd.Env = append(os.Environ(), fmt.Sprintf("GOMAXPROCS=%d", procs))
	}
	proc, err := childproc.Start(cmd, childproc.Options{Name: "cognito-authz"})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("cognito-authz (%s): %w", bin, err)
	}
	a := &processAuthz{proc: proc, dir: dir, grpc: ports[0], http: ports[2], adminURL: "http://" + ports[1]}
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	if err := proc.WaitReady(ctx, readyWait, childproc.HTTPReady(client, a.adminURL+"/readyz")); err != nil {
		_ = a.Stop(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("cognito-authz (%s) never became ready: %w", bin, err)
	}
	return a, nil
}

func (a *processAuthz) GRPCAddr() string { return a.grpc }
func (a *processAuthz) HTTPAddr() string { return a.http }

// Stop sends SIGTERM (the service then drains) and kills the process if it outlives ctx.
func (a *processAuthz) Stop(ctx context.Context) error {
	err := a.proc.StopContext(ctx)
	os.RemoveAll(a.dir)
	return err
}

// Counters reads the Prometheus text the service serves: a line is a metric name, maybe labels,
// and a value.
func (a *processAuthz) Counters() (map[string]float64, error) {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}
	resp, err := client.Get(a.adminURL + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 4<<20))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, _, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		fields := strings.Fields(line)
		if v, err := strconv.ParseFloat(fields[len(fields)-1], 64); err == nil {
			out[name] += v
		}
	}
	return out, sc.Err()
}

// StartCPUProfile writes this process's CPU profile to path until stop is called.
func StartCPUProfile(path string) (stop func(), err error) {
	out, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(out); err != nil {
		out.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		out.Close()
	}, nil
}

// LoadAverage is the 1-minute load average, or "?" where the system does not say: the machine is
// shared, and a reader should know how busy it was.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	if fields := strings.Fields(string(b)); len(fields) > 0 {
		return fields[0]
	}
	return "?"
}

// warnLogger shows cognito-authz's warnings and errors only: a line per decision would cost more
// than the decision.
func warnLogger(w io.Writer) *zap.Logger {
	enc := zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig())
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), zap.WarnLevel)).Named("cognito-authz")
}

// envoyVersionOf finds the release in `envoy --version` output, which reads
// "<path>/envoy  version: <sha>/1.40.0/Clean/RELEASE/BoringSSL".
func envoyVersionOf(out string) string {
	if _, after, ok := strings.Cut(out, "version:"); ok {
		if parts := strings.Split(strings.TrimSpace(after), "/"); len(parts) > 1 && parts[1] != "" {
			return parts[1]
		}
	}
	return "(version unknown)"
}

// DescribeMachine names the CPU and the versions measured, for the report.
func DescribeMachine(ctx context.Context, envoyBin string, envoyThreads int) string {
	cpu := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(vctx, envoyBin, "--version").Output()
	envoyVersion := "Envoy " + envoyVersionOf(string(out))
	return fmt.Sprintf("%s, %d logical CPUs shared by everything; %s/%s, %s; %s with %d worker thread(s) each",
		cpu, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), envoyVersion, envoyThreads)
}
