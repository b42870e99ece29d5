package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cognito-authz/cognito-authz/extauthz"
	"github.com/cognito-authz/cognito-authz/internal/testkit"
)

// TestMain lets a test run the real program, signals and exit code included: the test binary
// re-executes itself with runMainEnv set.
func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

const runMainEnv = "COGNITO_AUTHZ_TEST_RUN_MAIN"

type result struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

func TestVerify(t *testing.T) {
	pool := newTestIssuer(t, poolOptions{})
	down := newTestIssuer(t, poolOptions{Key: pool.SigningKey()})
	down.FailJWKS(http.StatusServiceUnavailable)
	unpublished, err := testkit.NewKey("unpublished")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	valid := pool.MustMint(t, aliceAccess())
	expired, otherApp, otherKey := aliceAccess(), aliceAccess(), aliceAccess()
	expired.IssuedAt, expired.TTL = now.Add(-2*time.Hour), time.Hour
	otherApp.ClientID = "other-app"
	otherKey.Key = unpublished
	alice := sub("alice")

	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantCode   int
		wantValid  bool
		wantReason string
		wantStderr string // for exit 2: what the error names
	}{
		{name: "valid", args: append(issuerFlags(pool), valid), wantCode: 0, wantValid: true},
		{name: "valid from stdin", args: append(issuerFlags(pool), "-"), stdin: "Bearer " + valid + "\n", wantCode: 0, wantValid: true},
		{name: "expired", args: append(issuerFlags(pool), pool.MustMint(t, expired)), wantCode: 1, wantReason: "expired"},
		{name: "garbage", args: append(issuerFlags(pool), "garbage"), wantCode: 1, wantReason: "malformed"},
		{name: "empty stdin", args: append(issuerFlags(pool), "-"), wantCode: 1, wantReason: "missing"},
		{name: "another app's token", args: append(issuerFlags(pool), pool.MustMint(t, otherApp)), wantCode: 1, wantReason: "wrong_client"},
		{name: "a key the issuer never published", args: append(issuerFlags(pool), pool.MustMint(t, otherKey)), wantCode: 1, wantReason: "unknown_kid"},
		{name: "access token where ID tokens are wanted", args: append(issuerFlags(pool), "--token-use", "id", valid), wantCode: 1, wantReason: "wrong_token_use"},
		{name: "key endpoint down", args: append(issuerFlags(down), down.MustMint(t, aliceAccess())), wantCode: 1, wantReason: "jwks_unavailable"},
		// Claims are judged before any key is needed: with the keys out of reach (offline), a token
		// that is wrong anyway says why, rather than jwks_unavailable.
		{name: "key endpoint down, token expired", args: append(issuerFlags(down), down.MustMint(t, expired)), wantCode: 1, wantReason: "expired"},
		{name: "key endpoint down, another app's token", args: append(issuerFlags(down), down.MustMint(t, otherApp)), wantCode: 1, wantReason: "wrong_client"},
		{name: "key endpoint down, another issuer's token", args: append(issuerFlags(down), valid), wantCode: 1, wantReason: "wrong_issuer"},
		{
			name:     "no client id",
			args:     []string{"--issuer", pool.IssuerURL(), "--jwks-url", pool.JWKSURL(), valid},
			wantCode: 2, wantStderr: "issuers[0].client_ids: required",
		},
		{name: "broken config file", args: []string{"--config", "testdata/unknown_key.yaml", valid}, wantCode: 2, wantStderr: "issuers[0].clientids: unknown key"},
		{name: "no token", args: issuerFlags(pool), wantCode: 2, wantStderr: "want exactly one TOKEN"},
		{name: "two tokens", args: append(issuerFlags(pool), valid, valid), wantCode: 2, wantStderr: "want exactly one TOKEN"},
		{name: "unknown flag", args: []string{"--user-pool", "us-east-1_X", valid}, wantCode: 2, wantStderr: "flag provided but not defined: -user-pool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.stdin, append([]string{"verify"}, tt.args...)...)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tt.wantCode, r.stdout, r.stderr)
			}
			if tt.wantCode == 2 {
				if r.stdout != "" {
					t.Errorf("a usage or config error printed to stdout: %q", r.stdout)
				}
				if !strings.Contains(r.stderr, tt.wantStderr) {
					t.Errorf("stderr %q does not name %q", r.stderr, tt.wantStderr)
				}
				return
			}
			var out map[string]any
			if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || strings.Count(r.stdout, "\n") != 1 {
				t.Fatalf("stdout is not one JSON object on one line: %q (%v)", r.stdout, err)
			}
			if out["valid"] != tt.wantValid {
				t.Errorf("valid = %v, want %v: %s", out["valid"], tt.wantValid, r.stdout)
			}
			if tt.wantValid {
				claims, _ := out["claims"].(map[string]any)
				if out["issuer"] != pool.IssuerURL() || out["token_use"] != "access" || claims["sub"] != alice || claims["username"] != "alice" {
					t.Errorf("valid output %s", r.stdout)
				}
				if _, hasReason := out["reason"]; hasReason {
					t.Errorf("valid output has a reason: %s", r.stdout)
				}
				return
			}
			if out["reason"] != tt.wantReason {
				t.Errorf("reason = %v, want %s: %s", out["reason"], tt.wantReason, r.stdout)
			}
			if msg, _ := out["message"].(string); msg == "" {
				t.Errorf("no message: %s", r.stdout)
			}
			if _, hasClaims := out["claims"]; hasClaims {
				t.Errorf("invalid output carries claims: %s", r.stdout)
			}
			// Never a token, nor its signature, in what we print.
			for _, arg := range tt.args {
				if parts := strings.Split(arg, "."); len(parts) == 3 && (strings.Contains(r.stdout, parts[2]) || strings.Contains(r.stderr, parts[2])) {
					t.Errorf("output contains the token's signature")
				}
			}
		})
	}
}

func TestCheckConfig(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr []string
	}{
		{name: "good file", args: []string{"--config", "testdata/good.yaml"}},
		{name: "the forward-auth request is the original", args: []string{"--config", "testdata/http_request_is_original.yaml"}, wantStdout: "http_request_is_original: true\n"},
		{name: "the forward-auth endpoint's key without the endpoint", args: []string{"--config", "testdata/http_request_is_original_without_http_listen.yaml"}, wantCode: 2, wantStderr: []string{"http_request_is_original: needs http_listen"}},
		{
			name: "a required rule leaving methods to the default is a warning", args: []string{"--config", "testdata/method_gap.yaml"},
			wantStderr: []string{"warning: policy.rules[0].methods: PUT, PATCH, DELETE, OPTIONS of /api/admin are left to policy.default (optional)"},
		},
		{name: "flags alone", args: []string{"--user-pool-id", "us-east-1_X", "--client-id", "abc"}, wantStdout: "jwks_url: https://cognito-idp.us-east-1.amazonaws.com/us-east-1_X/.well-known/jwks.json\n"},
		{name: "an issuer URL", args: []string{"--issuer", "http://127.0.0.1:8001/local_pool", "--client-id", "abc"}, wantStdout: "jwks_url: http://127.0.0.1:8001/local_pool/.well-known/jwks.json\n"},
		{name: "a jwks_url given", args: []string{"--issuer", "http://127.0.0.1:8001/local_pool", "--jwks-url", "http://127.0.0.1:9/keys", "--client-id", "abc"}, wantStdout: "jwks_url: http://127.0.0.1:9/keys\n"},
		{name: "flags over a file", args: []string{"--config", "testdata/missing_client_ids.yaml", "--client-id", "abc", "--listen", "127.0.0.1:7001"}},
		{name: "unknown key", args: []string{"--config", "testdata/unknown_key.yaml"}, wantCode: 2, wantStderr: []string{"issuers[0].clientids: unknown key (line 4)"}},
		{name: "missing client ids", args: []string{"--config", "testdata/missing_client_ids.yaml"}, wantCode: 2, wantStderr: []string{"issuers[0].client_ids: required"}},
		{name: "bad duration", args: []string{"--config", "testdata/bad_duration.yaml"}, wantCode: 2, wantStderr: []string{`jwks.fetch_timeout: invalid duration "soon"`}},
		{name: "bad yaml", args: []string{"--config", "testdata/bad_yaml.yaml"}, wantCode: 2, wantStderr: []string{"bad YAML"}},
		{name: "missing file", args: []string{"--config", "testdata/no_such_file.yaml"}, wantCode: 2, wantStderr: []string{"no_such_file.yaml: no such file"}},
		{
			name:     "every problem at once",
			args:     []string{"--issuer", "not a url", "--listen", "9001"},
			wantCode: 2, wantStderr: []string{"listen: \"9001\" is not host:port", "issuers[0].issuer:", "issuers[0].client_ids: required"},
		},
		{name: "bad log level", args: []string{"--user-pool-id", "us-east-1_X", "--client-id", "abc", "--log-level", "loud"}, wantCode: 2, wantStderr: []string{"-log-level"}},
		{name: "stray argument", args: []string{"--config", "testdata/good.yaml", "extra"}, wantCode: 2, wantStderr: []string{`unexpected argument "extra"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, "", append([]string{"check-config"}, tt.args...)...)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tt.wantCode, r.stdout, r.stderr)
			}
			for _, want := range tt.wantStderr {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr %q does not name %q", r.stderr, want)
				}
			}
			if !strings.Contains(r.stdout, tt.wantStdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.wantStdout, r.stdout)
			}
			if tt.wantCode != 0 {
				if r.stdout != "" {
					t.Errorf("a broken configuration printed to stdout: %q", r.stdout)
				}
				return
			}
			// What is printed is the effective configuration, and loads back as it is.
			printed, err := extauthz.ParseConfig([]byte(r.stdout))
			if err != nil {
				t.Fatalf("printed configuration does not load: %v\n%s", err, r.stdout)
			}
			fs := newFlagSet("check-config", "", io.Discard)
			o := extauthz.BindFlags(fs)
			o.BindServeFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			want, err := o.Resolve()
			if err != nil {
				t.Fatal(err)
			}
			want.Log = printed.Log // not part of the file
			if want, err = want.Effective(); err != nil {
				t.Fatal(err)
			}
			for i, is := range printed.Issuers {
				if is.JWKSURL == "" {
					t.Errorf("issuers[%d].jwks_url printed empty, want the URL the service will fetch", i)
				}
			}
			if !reflect.DeepEqual(printed, want) {
				t.Errorf("printed\n%+v\nwant\n%+v", printed, want)
			}
		})
	}
}

func TestCommands(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "version", args: []string{"version"}, wantStdout: "cognito-authz dev\n"},
		{name: "version with an argument", args: []string{"version", "x"}, wantCode: 2, wantStderr: "takes no arguments"},
		{name: "help", args: []string{"help"}, wantStdout: "cognito-authz verify  [flags] TOKEN|-"},
		{name: "--help lists the commands", args: []string{"--help"}, wantStdout: "cognito-authz check-config [flags]"},
		{name: "-h lists the commands", args: []string{"-h"}, wantStdout: "cognito-authz healthcheck [flags]"},
		{name: "help for a command", args: []string{"help", "verify"}, wantStderr: "usage: cognito-authz verify [flags] TOKEN|-"},
		{name: "unknown command", args: []string{"serv"}, wantCode: 2, wantStderr: `unknown command "serv"`},
		{name: "serve help", args: []string{"serve", "-h"}, wantStderr: "-admin-listen"},
		{name: "verify help", args: []string{"verify", "--help"}, wantStderr: "TOKEN|-"},
		{name: "serve without configuration", args: nil, wantCode: 2, wantStderr: "issuers: at least one issuer is required"},
		{name: "serve is the default", args: []string{"--user-pool-id", "us-east-1_X"}, wantCode: 2, wantStderr: "issuers[0].client_ids: required"},
		{name: "serve with a broken file", args: []string{"serve", "--config", "testdata/unknown_key.yaml"}, wantCode: 2, wantStderr: "issuers[0].clientids: unknown key"},
		{name: "serve with a stray argument", args: []string{"serve", "x"}, wantCode: 2, wantStderr: `unexpected argument "x"`},
		{name: "healthcheck with a stray argument", args: []string{"healthcheck", "x"}, wantCode: 2, wantStderr: `unexpected argument "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, "", tt.args...)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tt.wantCode, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, tt.wantStdout) {
				t.Errorf("stdout %q lacks %q", r.stdout, tt.wantStdout)
			}
			if !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("stderr %q lacks %q", r.stderr, tt.wantStderr)
			}
		})
	}
}

func TestHealthcheck(t *testing.T) {
	up := newTestIssuer(t, poolOptions{})
	down := newTestIssuer(t, poolOptions{Key: up.SigningKey()})
	down.FailJWKS(http.StatusServiceUnavailable)
	ready := startService(t, up)
	testkit.Eventually(t, "the service ready", ready.Ready)
	notReady := startService(t, down)

	closed := startService(t, up)
	closedAddr := closed.GRPCAddr().String()
	if err := closed.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
	}{
		{name: "serving", args: []string{"--addr", ready.GRPCAddr().String()}, wantStdout: "SERVING\n"},
		{name: "serving, by service name", args: []string{"--addr", ready.GRPCAddr().String(), "--service", extauthz.AuthorizationService}, wantStdout: "SERVING\n"},
		{name: "keys not loaded", args: []string{"--addr", notReady.GRPCAddr().String()}, wantCode: 1, wantStdout: "NOT_SERVING\n"},
		{name: "nothing listening", args: []string{"--addr", closedAddr, "--timeout", "5s"}, wantCode: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, "", append([]string{"healthcheck"}, tt.args...)...)
			if r.code != tt.wantCode || r.stdout != tt.wantStdout {
				t.Errorf("exit %d stdout %q, want %d %q (stderr %q)", r.code, r.stdout, tt.wantCode, tt.wantStdout, r.stderr)
			}
		})
	}
}

// startService runs the service in-process against pool, on loopback ports the kernel picks.
func startService(t *testing.T, pool *pool) *extauthz.Service {
	t.Helper()
	cfg := extauthz.DefaultConfig()
	cfg.Listen, cfg.AdminListen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Issuers = []extauthz.Issuer{{Issuer: pool.IssuerURL(), JWKSURL: pool.JWKSURL(), ClientIDs: []string{testClientID}, TokenUse: "access"}}
	r, err := extauthz.NewService(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.Shutdown(ctx)
	})
	return r
}

// TestServeSIGTERM runs the real program: JSON logs by default, a debug line per decision with
// --log-level debug and never the token, and SIGTERM a graceful exit 0.
func TestServeSIGTERM(t *testing.T) {
	pool := newTestIssuer(t, poolOptions{})
	args := append(issuerFlags(pool), "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--log-level", "debug")
	p := startProgram(t, args)
	cmd, logs := p.cmd, p.logs

	serving := logs.waitFor("serving")
	logs.waitFor("ready: keys loaded for every issuer")

	conn, err := grpc.NewClient("passthrough:///"+serving["grpc"].(string), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	token := pool.MustMint(t, aliceAccess())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = authv3.NewAuthorizationClient(conn).Check(ctx, &authv3.CheckRequest{
		Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
			Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/", Headers: map[string]string{"authorization": "Bearer " + token}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	decision := logs.waitFor("check")
	if decision["result"] != "authenticated" || decision["sub"] != sub("alice") || decision["jti"] != "jti-1" || decision["level"] != "debug" {
		t.Errorf("decision line %v", decision)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	logs.waitFor("shut down")
	select {
	case <-p.exited:
		if p.waitErr != nil {
			t.Errorf("exit after SIGTERM: %v, want 0", p.waitErr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	signature := token[strings.LastIndex(token, ".")+1:]
	for _, line := range logs.all() {
		if strings.Contains(line, signature) || strings.Contains(line, token[:strings.Index(token, ".")]) {
			t.Errorf("log line carries the token: %s", line)
		}
	}
}

// program is this test binary re-executed as the real cognito-authz (runMainEnv), its stderr read
// as JSON log lines.
type program struct {
	cmd     *exec.Cmd
	logs    *logReader
	exited  chan struct{} // closed once the process has exited and its log is drained
	waitErr error         // its exit, once exited is closed
}

// startProgram runs cognito-authz with args; when the test ends a process still running gets
// SIGTERM, then SIGKILL after 30 s.
func startProgram(t *testing.T, args []string) *program {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &program{cmd: cmd, logs: newLogReader(t, stderr), exited: make(chan struct{})}
	go func() {
		p.logs.drain()
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
			return
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// logReader collects the JSON log lines of a child process.
type logReader struct {
	t     *testing.T
	lines chan string
	seen  []string
	r     io.Reader
}

func newLogReader(t *testing.T, r io.Reader) *logReader {
	return &logReader{t: t, lines: make(chan string, 1024), r: r}
}

// drain reads until EOF; run it in its own goroutine.
func (l *logReader) drain() {
	s := bufio.NewScanner(l.r)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		l.lines <- s.Text()
	}
	close(l.lines)
}

// waitFor returns the first unseen line whose msg is msg; every line must be JSON.
func (l *logReader) waitFor(msg string) map[string]any {
	l.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-l.lines:
			if !ok {
				l.t.Fatalf("log ended before %q:\n%s", msg, strings.Join(l.seen, "\n"))
			}
			l.seen = append(l.seen, line)
			var entry map[string]any
			if err := json.Unmarshal([]byte(line), &entry); err != nil {
				l.t.Fatalf("log line is not JSON: %q", line)
			}
			if entry["msg"] == msg {
				return entry
			}
		case <-deadline:
			l.t.Fatalf("no %q in the log:\n%s", msg, strings.Join(l.seen, "\n"))
		}
	}
}

// all returns every line, once the process has exited.
func (l *logReader) all() []string {
	for line := range l.lines {
		l.seen = append(l.seen, line)
	}
	return l.seen
}

// TestServeReloads runs the real program with a file that has no issuer (the flags give it): SIGHUP
// reloads without ending the process, a changed file is reloaded on its own, and the flags are laid
// over the new file as at start. The HTTP endpoint (--http-listen) answers with the new rule.
func TestServeReloads(t *testing.T) {
	pool := newTestIssuer(t, poolOptions{})
	path := filepath.Join(t.TempDir(), "cognito-authz.yaml")
	writeConfig := func(rule string) {
		t.Helper()
		if err := os.WriteFile(path+".tmp", []byte("policy:\n  rules:\n    - "+rule+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig("{path_prefix: /api/items, auth: optional}")
	args := append(issuerFlags(pool), "--config", path,
		"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0")
	p := startProgram(t, args)
	cmd, logs := p.cmd, p.logs
	serving := logs.waitFor("serving")
	logs.waitFor("ready: keys loaded for every issuer")
	token := pool.MustMint(t, tokenSpec{Username: "bob", Groups: []string{}})
	status := func() int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+serving["http"].(string)+"/api/items", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("X-Forwarded-Uri", "/api/items") // as a proxy names the request it asks about
		req.Header.Set("X-Forwarded-Method", http.MethodGet)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(); got != http.StatusOK {
		t.Fatalf("before any reload: %d, want 200", got)
	}

	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if got := logs.waitFor("configuration reloaded"); got["trigger"] != "signal" {
		t.Errorf("reload after SIGHUP: %v", got)
	}
	writeConfig("{path_prefix: /api/items, auth: required, groups_any: [admin]}")
	if got := logs.waitFor("configuration reloaded"); got["trigger"] != "file changed" {
		t.Errorf("reload after the file changed: %v", got)
	}
	if got := status(); got != http.StatusForbidden {
		t.Errorf("after the new rule: %d, want 403", got)
	}
	select {
	case <-p.exited:
		t.Fatal("the process ended")
	default:
	}
}
