package runner

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/config"
	"github.com/cognito-authz/cognito-authz/internal/testkit"
)

// configFile writes a configuration for the issuers served by jwks (each a pool path) with the
// given policy rules (YAML list items), and returns its path.
func configFile(t *testing.T, path string, jwks []*jwksServer, rules string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("listen: 127.0.0.1:0\nadmin_listen: 127.0.0.1:0\nissuers:\n")
	for _, s := range jwks {
		fmt.Fprintf(&b, "  - issuer: %s/pool\n    jwks_url: %s/jwks.json\n    client_ids: [%s]\n", s.URL, s.URL, clientID)
	}
	b.WriteString("jwks:\n  min_refetch_interval: 20ms\npolicy:\n  rules:\n" + rules)
	writeFile(t, path, b.String())
	return path
}

// writeFile replaces path's content through a rename, as editors and kubectl do.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

const (
	optionalItems = "    - {path_prefix: /api/items, auth: optional}\n"
	adminItems    = "    - {path_prefix: /api/items, auth: required, groups_any: [admin]}\n"
)

// startReloading starts a runner on the file with reload on (checked every few milliseconds, a
// change loaded once it holds still for 20ms) and the HTTP endpoint, and returns it with its logs.
func startReloading(t *testing.T, path string, signals chan os.Signal) (*Service, *observer.ObservedLogs) {
	t.Helper()
	return startReloadingWith(t, path, Reloading{Signals: signals, Settle: 20 * time.Millisecond})
}

// startReloadingWith is startReloading with rl's Signals and Settle; File, Load and Interval are
// its own.
func startReloadingWith(t *testing.T, path string, rl Reloading) (*Service, *observer.ObservedLogs) {
	t.Helper()
	return startReloadingAfter(t, path, rl, nil)
}

// startReloadingAfter is startReloadingWith, calling beforeStart (when not nil) once reload is
// enabled and before the service starts.
func startReloadingAfter(t *testing.T, path string, rl Reloading, beforeStart func()) (*Service, *observer.ObservedLogs) {
	t.Helper()
	// What serve reloads with when no flag is given: the file, validated.
	flags := &config.Overrides{ConfigFile: path}
	cfg, err := flags.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTPListen = "127.0.0.1:0"
	core, logs := observer.New(zapcore.InfoLevel)
	r, err := New(cfg, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	// The listeners are the runner's own; the file says :0, which a restart would pick anew.
	rl.Load = func(file []byte) (*config.Config, error) {
		c, err := flags.ResolveData(file)
		if c != nil {
			c.HTTPListen = cfg.HTTPListen
		}
		return c, err
	}
	rl.File, rl.Interval = path, 5*time.Millisecond
	r.EnableReload(rl)
	if beforeStart != nil {
		beforeStart()
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	shutdownAtEnd(t, r)
	testkit.Eventually(t, "ready", r.Ready)
	return r, logs
}

// reloadEnv is a runner reloading from a file whose one issuer is jwks, with the optional rule on
// /api/items, and a token of a user in no group.
type reloadEnv struct {
	jwks  *jwksServer
	path  string
	r     *Service
	logs  *observer.ObservedLogs
	conn  *grpc.ClientConn
	token string
}

func newReloadEnv(t *testing.T) *reloadEnv {
	t.Helper()
	key := testkit.MustNewKey(t, "k1")
	e := &reloadEnv{jwks: newJWKSServer(t, key)}
	e.path = configFile(t, filepath.Join(t.TempDir(), "config.yaml"), []*jwksServer{e.jwks}, optionalItems)
	e.r, e.logs = startReloading(t, e.path, nil)
	e.conn = dial(t, e.r.GRPCAddr(), nil)
	e.token = key.Sign(t, accessClaims(e.jwks.URL+"/pool", clientID))
	return e
}

// reloads reads cognito_authz_config_reloads_total{result}.
func reloads(t *testing.T, r *Service, result string) float64 {
	t.Helper()
	families, err := r.Metrics().Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "cognito_authz_config_reloads_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			if m.GetLabel()[0].GetValue() == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no cognito_authz_config_reloads_total{result=%q}", result)
	return 0
}

// outcomeOf is "authenticated", "forbidden", or what else came back, over gRPC.
func outcomeOf(conn *grpc.ClientConn, token string) string {
	resp, err := checkItems(conn, token)
	if err != nil {
		return "error: " + err.Error()
	}
	if s := authStatus(resp); s != "" {
		return s
	}
	return resp.GetDeniedResponse().GetStatus().GetCode().String()
}

// checkItems checks token on GET /api/items over gRPC.
func checkItems(conn *grpc.ClientConn, token string) (*authv3.CheckResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return authv3.NewAuthorizationClient(conn).Check(ctx, &authv3.CheckRequest{
		Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
			Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/api/items", Headers: map[string]string{"authorization": "Bearer " + token}},
		}},
	})
}

// httpCheckItems asks the HTTP endpoint about token on GET /api/items.
func httpCheckItems(client *http.Client, addr, token string) (*http.Response, error) {
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/items", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Forwarded-Uri", "/api/items") // as a proxy names the request it asks about
	req.Header.Set("X-Forwarded-Method", "GET")
	return client.Do(req)
}

// httpOutcomeOf is the same question to the HTTP endpoint.
func httpOutcomeOf(client *http.Client, addr, token string) string {
	resp, err := httpCheckItems(client, addr, token)
	if err != nil {
		return "error: " + err.Error()
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return resp.Header.Get("X-Auth-Status")
	case http.StatusForbidden:
		return "Forbidden"
	}
	return resp.Status
}

// TestReloadUnderLoad: a rule changed in the file while checks run over gRPC and HTTP applies
// without one failed check; each client sees the old answer, then only the new one. The issuer did
// not change, so its keys are not fetched again.
func TestReloadUnderLoad(t *testing.T) {
	e := newReloadEnv(t)
	jwks, path, r, conn, token := e.jwks, e.path, e.r, e.conn, e.token
	fetches := jwks.Hits.Load()

	var (
		stop     atomic.Bool
		wg       sync.WaitGroup
		checks   atomic.Int64
		mu       sync.Mutex
		failures []string
		switched [5]atomic.Bool
	)
	for w := range switched {
		wg.Go(func() {
			client := &http.Client{}
			for !stop.Load() {
				var got string
				if w == 0 {
					got = httpOutcomeOf(client, r.HTTPAddr().String(), token)
				} else {
					got = outcomeOf(conn, token)
				}
				checks.Add(1)
				switch {
				case got == "authenticated" && !switched[w].Load():
				case got == "Forbidden":
					switched[w].Store(true)
				default:
					mu.Lock()
					failures = append(failures, fmt.Sprintf("client %d: %s (after the new rule: %v)", w, got, switched[w].Load()))
					mu.Unlock()
					return
				}
			}
		})
	}
	testkit.Eventually(t, "checks under way", func() bool { return checks.Load() > 50 })
	configFile(t, path, []*jwksServer{jwks}, adminItems)
	testkit.Eventually(t, "every client to see the new rule", func() bool {
		for i := range switched {
			if !switched[i].Load() {
				return false
			}
		}
		return true
	})
	stop.Store(true)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("failed checks: %v", failures)
	}
	if got := reloads(t, r, "ok"); got != 1 {
		t.Errorf("reloads ok = %v, want 1", got)
	}
	if got := jwks.Hits.Load(); got != fetches {
		t.Errorf("the unchanged issuer's keys were fetched %d more times", got-fetches)
	}
}

// TestBrokenConfigKeepsTheLastGood: a file that does not validate is refused with a log line
// naming the key and counted; the old rule keeps answering; a fixed file then applies.
func TestBrokenConfigKeepsTheLastGood(t *testing.T) {
	e := newReloadEnv(t)
	jwks, path, r, logs, conn, token := e.jwks, e.path, e.r, e.logs, e.conn, e.token

	for _, broken := range []struct{ name, rules, key string }{
		{"unknown auth value", "    - {path_prefix: /api/items, auth: sometimes, groups_any: [admin]}\n", "policy.rules[0].auth"},
		{"unknown key", "    - {path_prefix: /api/items, auth: required, group: admin}\n", "policy.rules[0].group"},
		{"not YAML", "    - {path_prefix: /api/items, auth: required\n", "bad YAML"},
	} {
		errorsBefore := reloads(t, r, "error")
		configFile(t, path, []*jwksServer{jwks}, broken.rules)
		testkit.Eventually(t, broken.name+" refused", func() bool { return reloads(t, r, "error") > errorsBefore })
		if got := outcomeOf(conn, token); got != "authenticated" {
			t.Errorf("%s: the old rule should still answer authenticated, got %s", broken.name, got)
		}
		refused := logs.FilterMessageSnippet("reload refused").All()
		if len(refused) == 0 || !strings.Contains(fmt.Sprint(refused[len(refused)-1].ContextMap()), broken.key) {
			t.Errorf("%s: no refusal log naming %s: %v", broken.name, broken.key, refused)
		}
	}
	if got := reloads(t, r, "ok"); got != 0 {
		t.Errorf("reloads ok = %v, want 0", got)
	}
	configFile(t, path, []*jwksServer{jwks}, adminItems)
	testkit.Eventually(t, "the fixed file applied", func() bool { return outcomeOf(conn, token) == "Forbidden" })
}

// TestConfigMapSymlinkSwap: a Kubernetes ConfigMap volume publishes a new version by pointing its
// ..data symlink at a new directory; config.yaml itself is a symlink that never changes.
func TestConfigMapSymlinkSwap(t *testing.T) {
	key := testkit.MustNewKey(t, "k1")
	jwks := newJWKSServer(t, key)
	dir := t.TempDir()
	version := func(name, rules string) {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		configFile(t, filepath.Join(dir, name, "config.yaml"), []*jwksServer{jwks}, rules)
	}
	version("..2026_11_30_v1", optionalItems)
	if err := os.Symlink("..2026_11_30_v1", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.yaml")
	if err := os.Symlink("..data/config.yaml", path); err != nil {
		t.Fatal(err)
	}
	r, _ := startReloading(t, path, nil)
	conn := dial(t, r.GRPCAddr(), nil)
	token := key.Sign(t, accessClaims(jwks.URL+"/pool", clientID))
	if got := outcomeOf(conn, token); got != "authenticated" {
		t.Fatalf("before the swap: %s", got)
	}

	version("..2026_11_30_v2", adminItems)
	if err := os.Symlink("..2026_11_30_v2", filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the swapped version applied", func() bool { return outcomeOf(conn, token) == "Forbidden" })
	if got := reloads(t, r, "ok"); got != 1 {
		t.Errorf("reloads ok = %v, want 1", got)
	}
}

// TestReloadNewIssuer: a reload adding an issuer whose keys cannot be had is refused (its tokens
// could not be checked); once they can, SIGHUP applies it, fetching only the new issuer's keys.
func TestReloadNewIssuer(t *testing.T) {
	key1, key2 := testkit.MustNewKey(t, "k1"), testkit.MustNewKey(t, "k2")
	jwks1, jwks2 := newJWKSServer(t, key1), newJWKSServer(t, key2)
	jwks2.setUp(false)
	path := configFile(t, filepath.Join(t.TempDir(), "config.yaml"), []*jwksServer{jwks1}, optionalItems)
	signals := make(chan os.Signal, 1)
	r, _ := startReloading(t, path, signals)
	conn := dial(t, r.GRPCAddr(), nil)
	token2 := key2.Sign(t, accessClaims(jwks2.URL+"/pool", clientID))
	fetches1 := jwks1.Hits.Load()

	configFile(t, path, []*jwksServer{jwks1, jwks2}, optionalItems)
	testkit.Eventually(t, "the reload refused", func() bool { return reloads(t, r, "error") == 1 })
	if got := outcomeOf(conn, token2); got != "anonymous" {
		t.Errorf("the new issuer's token before its keys: %s, want anonymous (issuer unknown)", got)
	}
	if !r.Ready() {
		t.Error("a refused reload made the service unready")
	}

	jwks2.setUp(true)
	signals <- syscall.SIGHUP
	testkit.Eventually(t, "the reload applied", func() bool { return reloads(t, r, "ok") == 1 })
	if got := outcomeOf(conn, token2); got != "authenticated" {
		t.Errorf("the new issuer's token: %s, want authenticated", got)
	}
	if got := jwks1.Hits.Load(); got != fetches1 {
		t.Errorf("the unchanged issuer's keys were fetched %d more times", got-fetches1)
	}
}

// TestReloadNeedsRestartForListeners: a new listen address is logged as needing a restart; the
// rest of the file applies and the old address keeps serving.
func TestReloadNeedsRestartForListeners(t *testing.T) {
	e := newReloadEnv(t)
	jwks, path, logs, conn, token := e.jwks, e.path, e.logs, e.conn, e.token

	content, err := os.ReadFile(configFile(t, path+".next", []*jwksServer{jwks}, adminItems))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, strings.Replace(string(content), "listen: 127.0.0.1:0", "listen: 127.0.0.1:1", 1))
	testkit.Eventually(t, "the new rule", func() bool { return outcomeOf(conn, token) == "Forbidden" })
	warned := logs.FilterMessageSnippet("needs a restart").FilterField(zap.String("key", "listen")).Len()
	if warned != 1 {
		t.Errorf("%d restart warnings for listen, want 1", warned)
	}
}

// TestReloadRereadsTLSFiles: new certificate files (a renewal written over the old ones) serve the
// next connections without a restart; the configuration file itself did not change.
func TestReloadRereadsTLSFiles(t *testing.T) {
	oldPKI, newPKI := newTestPKI(t), newTestPKI(t)
	jwks := newJWKSServer(t, testkit.MustNewKey(t, "k1"))
	path := configFile(t, filepath.Join(t.TempDir(), "config.yaml"), []*jwksServer{jwks}, optionalItems)
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(content)+fmt.Sprintf("tls:\n  cert_file: %s\n  key_file: %s\n", oldPKI.serverCert, oldPKI.serverKey))
	r, _ := startReloading(t, path, nil)

	healthy := func(pool *x509.CertPool) bool {
		conn := dial(t, r.GRPCAddr(), credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "localhost"}))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		return err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
	}
	if !healthy(oldPKI.pool) || healthy(newPKI.pool) {
		t.Fatal("before the renewal the old certificate, and only it, should be served")
	}
	for _, f := range [][2]string{{newPKI.serverKey, oldPKI.serverKey}, {newPKI.serverCert, oldPKI.serverCert}} {
		b, err := os.ReadFile(f[0])
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, f[1], string(b))
	}
	testkit.Eventually(t, "the renewed certificate served", func() bool { return healthy(newPKI.pool) })
	if healthy(oldPKI.pool) {
		t.Error("the old certificate is still served to new connections")
	}
}

// TestHalfWrittenConfigNeverLive: a file written in place in two halves, with a pause between, is
// never loaded half-written, though its first half (a rule cut before its groups_any) is valid
// YAML that would let any signed-in user through. All through the pause a token without the
// group stays forbidden; the whole file, once it holds still, is loaded.
func TestHalfWrittenConfigNeverLive(t *testing.T) {
	const (
		settle = time.Second
		// The writer's pause after the watcher has seen the first half: shorter than settle, so
		// the watcher's second look finds the file changed again.
		pause = 300 * time.Millisecond
	)
	key := testkit.MustNewKey(t, "k1")
	jwks := newJWKSServer(t, key)
	path := configFile(t, filepath.Join(t.TempDir(), "config.yaml"), []*jwksServer{jwks}, adminItems)
	r, logs := startReloadingWith(t, path, Reloading{Settle: settle})
	conn := dial(t, r.GRPCAddr(), nil)
	token := key.Sign(t, accessClaims(jwks.URL+"/pool", clientID))
	if got := outcomeOf(conn, token); got != "Forbidden" {
		t.Fatalf("before the write: %s, want Forbidden", got)
	}

	whole, err := os.ReadFile(configFile(t, path+".next", []*jwksServer{jwks},
		"    - path_prefix: /api/items\n      auth: required\n      groups_any: [admin]\n"))
	if err != nil {
		t.Fatal(err)
	}
	cut := strings.Index(string(whole), "      groups_any")
	if _, err := config.Parse(whole[:cut]); err != nil {
		t.Fatalf("the first half should be a valid configuration: %v", err)
	}

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(whole[:cut]); err != nil {
		t.Fatal(err)
	}
	// The pause: checks run until the watcher has seen the first half, and then for pause more.
	noticed := func() bool { return logs.FilterMessageSnippet("configuration changed").Len() > 0 }
	var pauseEnds time.Time
	checks := 0
	deadline := time.Now().Add(30 * time.Second)
	for pauseEnds.IsZero() || time.Now().Before(pauseEnds) {
		if got := outcomeOf(conn, token); got != "Forbidden" {
			t.Fatalf("during the pause, after %d checks, the half-written file answered %s, want Forbidden", checks, got)
		}
		checks++
		if pauseEnds.IsZero() && noticed() {
			pauseEnds = time.Now().Add(pause)
		}
		if time.Now().After(deadline) {
			t.Fatal("the watcher never noticed the first half")
		}
	}
	if _, err := f.Write(whole[cut:]); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	testkit.Eventually(t, "the whole file loaded", func() bool { return reloads(t, r, "ok") == 1 })
	if got := outcomeOf(conn, token); got != "Forbidden" {
		t.Errorf("after the whole file: %s, want Forbidden", got)
	}
	if got := reloads(t, r, "error"); got != 0 {
		t.Errorf("reloads error = %v, want 0: nothing but the whole file was loaded", got)
	}
	t.Logf("%d checks during the pause, all forbidden", checks)
}

// TestReloadOfAMissingFileIsRefused: a configuration file that goes away is refused, the log
// naming the file and why, and the last good configuration keeps serving.
// TestChangeBeforeTheWatchRunsIsLoaded: what the watch compares with is what was read when reload
// was enabled, so a change made before its goroutine first runs is still a change (it had become
// the baseline, and was never loaded).
func TestChangeBeforeTheWatchRunsIsLoaded(t *testing.T) {
	key := testkit.MustNewKey(t, "k1")
	jwks := newJWKSServer(t, key)
	path := configFile(t, filepath.Join(t.TempDir(), "config.yaml"), []*jwksServer{jwks}, optionalItems)
	r, logs := startReloadingAfter(t, path, Reloading{Settle: 20 * time.Millisecond}, func() {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	})
	testkit.Eventually(t, "the removal seen as a change", func() bool { return reloads(t, r, "error") == 1 })
	if refused := logs.FilterMessageSnippet("reload refused").All(); len(refused) != 1 {
		t.Errorf("want one refusal: %v", refused)
	}
}

func TestReloadOfAMissingFileIsRefused(t *testing.T) {
	e := newReloadEnv(t)
	if err := os.Remove(e.path); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the reload refused", func() bool { return reloads(t, e.r, "error") == 1 })
	refused := e.logs.FilterMessageSnippet("reload refused").All()
	if len(refused) != 1 || !strings.Contains(fmt.Sprint(refused[0].ContextMap()), e.path+": no such file") {
		t.Errorf("want one refusal naming %s as missing: %v", e.path, refused)
	}
	if got := outcomeOf(e.conn, e.token); got != "authenticated" {
		t.Errorf("the last good configuration should still answer authenticated, got %s", got)
	}
}
