// Package cognitolocal runs cognito-local (github.com/jagregory/cognito-local), an npm Cognito
// user-pool emulator nobody here wrote, as the local stack's identity provider: installed pinned
// from the npm registry, started on a free loopback port behind a Front that makes it answer more
// as Cognito does, seeded through its Cognito JSON API with the demo's pool, and with the codes it
// "sends" collected into an outbox.
//
// What cognito-local 3.23.3 does differently from Cognito, found by trying it (TestSeededPool
// pins the ones the demo relies on):
//   - Codes are not sent: each is logged in a box on its console, and stored in the user's record
//     in its data file (.cognito/db/<pool id>.json, ConfirmationCode for sign-up and password
//     reset, MFACode for SMS MFA). The log of one call can lag until the next request; the data
//     file is written before the call is answered, so the Front reads the codes from there.
//   - ResendConfirmationCode is not implemented (the Front answers it), and the pool's password
//     policy is not enforced (the Front enforces it).
//   - No API sets a user's MFA (no AdminSetUserMFAPreference, SetUserMFAPreference or
//     AdminSetUserSettings). With MfaConfiguration OPTIONAL, as here, a user is asked for an SMS
//     code when its record has an SMS MFAOptions entry, so Start writes that entry for the admin
//     into the emulator's data file and restarts it. Users who sign up have no MFA, as in a real
//     OPTIONAL pool until they opt in.
//   - The SMS_MFA challenge comes without a Session, yet RespondToAuthChallenge requires one (any
//     string will do). A wrong code leaves the right one valid; codes never expire.
//   - InitiateAuth with USER_PASSWORD_AUTH answers ChallengeName PASSWORD_VERIFIER beside the
//     tokens; a wrong password is InvalidPasswordException (Cognito, and the Front:
//     NotAuthorizedException); USER_SRP_AUTH is unsupported.
//   - REFRESH_TOKEN_AUTH answers new access and ID tokens and no refresh token, as Cognito does.
//   - Tokens: access tokens carry no `version` or `origin_jti`, ID tokens no `origin_jti`; every
//     pool signs with one fixed key, kid "CognitoLocal", published in the package; `iss` is
//     TokenConfig.IssuerDomain + "/" + pool id, which Start sets to the Front's URL (the emulator's
//     address, URL) so the issuer names where its keys are. Pool ids are local_XXXXXXXX: the
//     region is "local".
package cognitolocal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/testenv/childproc"
	"github.com/cognito-authz/cognito-authz/testenv/cognitoapi"
	"github.com/cognito-authz/cognito-authz/testenv/npmcache"
)

// The pinned emulator: 3.23.x is the last line that runs on Node 20.
const (
	Package = "cognito-local"
	Version = "3.23.3"
)

// startScript is the emulator's entry point in its installation.
const startScript = "node_modules/cognito-local/lib/bin/start.js"

// InstallSpec is the emulator's installation in the npm cache.
func InstallSpec() npmcache.Spec {
	return npmcache.Spec{
		Key: Package + "@" + Version,
		// --prefix: without a package.json here npm would look for one in the directories above.
		Args: []string{"install", "--prefix", ".", "--no-save", "--no-audit", "--no-fund", "--omit=dev", "--ignore-scripts",
			Package + "@" + Version},
		Want: startScript,
	}
}

// DefaultStartTimeout bounds each start of the emulator until it answers /health.
const DefaultStartTimeout = time.Minute

// Options configure Start.
type Options struct {
	// Dir holds the emulator's data and log; default a new temporary directory that Stop removes.
	Dir string
	// OnCode, when set, is called with every code the emulator delivers, in order, while the call
	// that sent it is being answered: it must not block (queue, then print).
	OnCode func(Message)
	// AccessTokenTTL is the lifetime of the seeded client's access and ID tokens (whole seconds);
	// default cognito-local's 24h. A test of refreshing shortens it.
	AccessTokenTTL time.Duration
	// Logf, when set, is told about a first-run install, and about a data file the Front could not
	// read.
	Logf func(format string, args ...any)
}

// Emulator is one running, seeded cognito-local. Stop it when done.
type Emulator struct {
	// Pool is the seeded user pool.
	Pool Pool
	// Outbox collects the codes the emulator has delivered.
	Outbox *Outbox

	url       string // the Front's
	nodeURL   string // the emulator's own
	port      int    // the emulator's
	dir       string
	removeDir bool
	startJS   string
	logPath   string
	client    *http.Client
	api       *cognitoapi.Client
	proc      *childproc.Proc
	front     *http.Server
	// seededTokens are the seeded users' sign-ins made while seeding (SeededTokens).
	seededTokens map[string]Tokens
}

// Start installs the emulator when needed (npmcache.ErrUnavailable when it cannot be had), starts
// it on a free loopback port behind a Front on another, and seeds it through the Front with the
// demo's pool (see Pool). ctx bounds the start only. On error nothing is left running.
func Start(ctx context.Context, opts Options) (e *Emulator, err error) {
	installDir, err := npmcache.Ensure(ctx, InstallSpec(), opts.Logf)
	if err != nil {
		return nil, err
	}
	port, err := childproc.FreePort()
	if err != nil {
		return nil, err
	}
	frontLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	e = &Emulator{
		Outbox:  NewOutbox(opts.OnCode),
		url:     "http://" + frontLis.Addr().String(),
		nodeURL: "http://127.0.0.1:" + strconv.Itoa(port),
		port:    port,
		dir:     opts.Dir,
		startJS: filepath.Join(installDir, startScript),
		// Only loopback is reachable; a proxy from the environment must never be asked.
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}},
	}
	e.api = &cognitoapi.Client{URL: e.url + "/", HTTP: e.client}
	if e.dir == "" {
		if e.dir, err = os.MkdirTemp("", "cognitolocal-"); err != nil {
			return nil, err
		}
		e.removeDir = true
	}
	front, err := NewFront(FrontOptions{Upstream: e.nodeURL, DataDir: e.DataDir(), PasswordPolicy: DemoPasswordPolicy,
		Outbox: e.Outbox, Logf: opts.Logf})
	if err != nil {
		frontLis.Close()
		return nil, err
	}
	e.front = &http.Server{Handler: front, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = e.front.Serve(frontLis) }()
	defer func() {
		if err != nil {
			err = fmt.Errorf("cognito-local: %w%s", err, e.logTail())
			_ = e.Stop()
			e = nil
		}
	}()
	e.logPath = filepath.Join(e.dir, "cognito-local.log")
	if err := e.writeConfig(); err != nil {
		return e, err
	}
	if err := e.start(ctx); err != nil {
		return e, err
	}
	if err := e.seed(ctx, opts.AccessTokenTTL); err != nil {
		return e, err
	}
	return e, nil
}

// StartTest starts a seeded emulator for a test and stops it when the test ends, printing its log
// when the test failed. Without Node.js and npm, or the registry, the test is skipped, or fails
// when childproc.RequireEnv is 1 (CI).
func StartTest(t testing.TB, opts Options) *Emulator {
	t.Helper()
	npmcache.EnsureTest(t, InstallSpec())
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	e, err := Start(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	childproc.StopAtEnd(t, "cognito-local", e, t.Logf)
	return e
}

// URL is where the emulator is reached, through its Front, e.g. http://127.0.0.1:40123: its
// Cognito JSON API is POST /, a pool's keys are at /<pool id>/.well-known/jwks.json.
func (e *Emulator) URL() string { return e.url }

// DataDir is the emulator's data directory: clients.json and <pool id>.json.
func (e *Emulator) DataDir() string { return filepath.Join(e.dir, ".cognito", "db") }

// LogPath is the emulator's console output.
func (e *Emulator) LogPath() string { return e.logPath }

// writeConfig writes .cognito/config.json, which cognito-local reads from its working directory.
func (e *Emulator) writeConfig() error {
	conf, err := json.Marshal(map[string]any{
		// Tokens name the emulator itself as their issuer's host, so iss says where the keys are.
		"TokenConfig": map[string]any{"IssuerDomain": e.url},
	})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(e.dir, ".cognito"), 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(e.dir, ".cognito", "config.json"), conf, 0o644)
}

// start runs node on the emulator in e.dir and waits until it answers /health.
func (e *Emulator) start(ctx context.Context) error {
	cmd := exec.Command("node", e.startJS)
	cmd.Dir = e.dir
	// COLUMNS: boxen would wrap a code's box at 80 columns, splitting a long user name.
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(e.port), "HOST=127.0.0.1", "HOME="+e.dir, "COLUMNS=400")
	var err error
	e.proc, err = childproc.Start(cmd, childproc.Options{
		Name:    "node",
		LogPath: e.logPath,
		// A restart (see seed) keeps the first run's output.
		AppendLog: true,
	})
	if err != nil {
		return err
	}
	if err := e.proc.WaitReady(ctx, DefaultStartTimeout, childproc.HTTPReady(e.client, e.nodeURL+"/health")); err != nil {
		if errors.Is(err, childproc.ErrExitedEarly) {
			return err
		}
		return fmt.Errorf("did not answer /health: %w", err)
	}
	return nil
}

// stopProcess ends the node process (SIGTERM, then SIGKILL after 10s) and waits for it.
func (e *Emulator) stopProcess() {
	if e.proc != nil {
		_ = e.proc.Stop()
	}
}

// Stop ends the emulator and its Front and removes its directory when Start made it. It is safe to
// call more than once.
func (e *Emulator) Stop() error {
	if e.front != nil {
		_ = e.front.Close()
	}
	e.stopProcess()
	e.client.CloseIdleConnections()
	if e.removeDir {
		return os.RemoveAll(e.dir)
	}
	return nil
}

// Log returns the end of the emulator's console output, for a failure message.
func (e *Emulator) Log() string { return childproc.Tail(e.logPath, childproc.LogTailBytes) }

func (e *Emulator) logTail() string {
	if e.logPath == "" {
		return ""
	}
	return "\n--- cognito-local log (" + e.logPath + ") ---\n" + e.Log()
}

// Call invokes one Cognito Identity Provider API action, as the AWS SDK and Amplify do on the
// wire, decoding the answer into out when not nil. A refused call is a *cognitoapi.Error.
func (e *Emulator) Call(ctx context.Context, action string, in, out any) error {
	return e.api.Call(ctx, action, in, out)
}
