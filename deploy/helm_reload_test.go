package deploy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
)

// The chart's ConfigMap really reloads: the service runs with the pod's own arguments and the
// rendered configuration file laid out as the kubelet lays out a ConfigMap volume; a `helm upgrade`
// with a new policy rule (the ..data symlink swapped to the new rendering) changes the decisions
// without a restart, and a broken rendering is refused while the last good one keeps serving.
func TestChartConfigMapReloadsInTheService(t *testing.T) {
	bin := dockerBuilt(t, "build", "cognito-authz")
	jwks := httptest.NewServer(jwksHandler(t, "/local_pool/.well-known/jwks.json"))
	t.Cleanup(jwks.Close)
	addrs := closedAddrs(t, 3)
	grpcAddr, adminAddr, httpAddr := addrs[0], addrs[1], addrs[2]
	values := func(rules string) string {
		return fmt.Sprintf(`
ports: {grpc: %s, admin: %s}
forwardAuth: {enabled: true, port: %s}
config:
  issuers:
    - issuer: %s/local_pool
      client_ids: [demo-client]
      token_use: any
  policy:
    rules: %s`, portOnly(t, grpcAddr), portOnly(t, adminAddr), portOnly(t, httpAddr), jwks.URL, rules)
	}

	// The pod as rendered: its arguments, and the ConfigMap at the directory it mounts.
	objs := renderChart(t, values("[]"))
	d := only[*appsv1.Deployment](t, objs)
	args := container(t, d).Args
	configArg, _ := flagValue(args, "--config")
	volume := newConfigMapVolume(t, configKey, mountedConfig(t, objs))
	args = replaceArg(args, configArg, filepath.Join(volume.dir, path.Base(configArg)))
	// Bound to loopback: the rendered ":port" addresses are the ports, the flags only narrow the host.
	args = append(args, "--listen", grpcAddr, "--admin-listen", adminAddr, "--http-listen", httpAddr)
	svc := startService(t, bin, args...)

	svc.waitFor(t, "the readiness probe passes", func() bool {
		return exec.Command(bin, "healthcheck", "--addr", grpcAddr).Run() == nil
	})
	admin := func() int { return forwardAuthStatus(t, httpAddr, "/api/admin") }
	if got := admin(); got != http.StatusOK {
		t.Fatalf("/api/admin with no rule: %d, want 200 (anonymous)", got)
	}

	volume.update(t, mountedConfig(t, renderChart(t, values("[{path_prefix: /api/admin, auth: required}]"))))
	svc.waitFor(t, "the new rule decides /api/admin", func() bool { return admin() == http.StatusUnauthorized })
	svc.waitFor(t, "the reload is counted", func() bool {
		return metricLine(t, adminAddr, `cognito_authz_config_reloads_total{result="ok"} 1`)
	})

	volume.update(t, []byte("issuers: []\n"))
	svc.waitFor(t, "the broken file is refused", func() bool {
		return metricLine(t, adminAddr, `cognito_authz_config_reloads_total{result="error"} 1`)
	})
	if got := admin(); got != http.StatusUnauthorized {
		t.Errorf("/api/admin after a refused reload: %d, want the last good configuration's 401", got)
	}
	svc.stop(t)
}

func portOnly(t *testing.T, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func replaceArg(args []string, old, new string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if a == old {
			out[i] = new
		}
	}
	return out
}

// configMapVolume is a directory laid out as the kubelet lays out a ConfigMap volume: each key a
// symlink through ..data, which points at a timestamped directory and is swapped atomically on
// every update.
type configMapVolume struct {
	dir, key string
	version  int
}

func newConfigMapVolume(t *testing.T, key string, data []byte) *configMapVolume {
	t.Helper()
	v := &configMapVolume{dir: t.TempDir(), key: key}
	v.update(t, data)
	if err := os.Symlink(filepath.Join("..data", key), filepath.Join(v.dir, key)); err != nil {
		t.Fatal(err)
	}
	return v
}

func (v *configMapVolume) update(t *testing.T, data []byte) {
	t.Helper()
	v.version++
	version := fmt.Sprintf("..2026_12_07_v%d", v.version)
	if err := os.Mkdir(filepath.Join(v.dir, version), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v.dir, version, v.key), data, 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(v.dir, "..data_tmp")
	if err := os.Symlink(version, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(v.dir, "..data")); err != nil {
		t.Fatal(err)
	}
}

// forwardAuthStatus asks the HTTP forward-auth endpoint about a GET of uri, as nginx would.
func forwardAuthStatus(t *testing.T, addr, uri string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Original-URI", uri)
	req.Header.Set("X-Original-Method", http.MethodGet)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// metricLine reports whether the admin address's /metrics holds line.
func metricLine(t *testing.T, addr, line string) bool {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Contains(body, []byte("\n"+line+"\n"))
}

// runningService is a running `cognito-authz serve`, killed at the end of the test if still running.
type runningService struct {
	cmd     *exec.Cmd
	logs    *bytes.Buffer
	exited  chan error
	stopped bool
}

func startService(t *testing.T, bin string, args ...string) *runningService {
	t.Helper()
	s := &runningService{cmd: exec.Command(bin, args...), logs: &bytes.Buffer{}, exited: make(chan error, 1)}
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.exited <- s.cmd.Wait() }()
	t.Cleanup(func() {
		if !s.stopped {
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
		if t.Failed() {
			t.Logf("service log:\n%s", s.logs.String())
		}
	})
	return s
}

// waitFor polls cond until it holds, failing when the service exits first or 30 s pass.
func (s *runningService) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond) // the poll interval, not a synchronisation
	defer tick.Stop()
	for !cond() {
		select {
		case err := <-s.exited:
			s.stopped = true
			t.Fatalf("waiting until %s: the service exited: %v", what, err)
		case <-ctx.Done():
			t.Fatalf("%s: not by the deadline", what)
		case <-tick.C:
		}
	}
}

// stop sends SIGTERM, as the kubelet does, and wants exit 0.
func (s *runningService) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.exited:
		s.stopped = true
		if err != nil {
			t.Errorf("after SIGTERM the service exits with %v, want 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("the service has not exited 30s after SIGTERM")
	}
}
