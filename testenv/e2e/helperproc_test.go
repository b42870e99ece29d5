package e2e_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/testenv/envoyproc"
	"github.com/cognito-authz/cognito-authz/testenv/poll"
)

// toolUnavailable skips the test because a tool it runs beside the stack (an emulator, an
// interpreter) is missing, or fails it when COGNITO_AUTHZ_REQUIRE_ENVOY=1 (CI), where every test
// must run.
func toolUnavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(envoyproc.RequireEnv) == "1" {
		t.Fatalf("%s (%s=1)", msg, envoyproc.RequireEnv)
	}
	t.Skip(msg)
}

// startHelper starts cmd, a program the test runs beside the stack (an emulator, an example
// app), with its output in a log file, and waits until ready holds. The test fails if the program
// exits first or timeout passes. When the test ends the program gets SIGTERM (SIGKILL after 10s),
// and its log is printed if the test failed.
func startHelper(t *testing.T, name string, cmd *exec.Cmd, timeout time.Duration, ready func(context.Context) bool) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("--- %s log ---\n%s", name, tailOf(b, 16<<10))
		}
	})

	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	isReady, gone := false, false
	// A process that has exited will not answer later: stop asking.
	_ = poll.Until(ctx, timeout, func() bool {
		if isReady = ready(ctx); isReady {
			return true
		}
		select {
		case <-exited:
			gone = true
		default:
		}
		return gone
	})
	switch {
	case isReady:
	case gone:
		t.Fatalf("%s exited while starting", name)
	default:
		t.Fatalf("%s was not ready within %v", name, timeout)
	}
}

// answersOK reports whether GET url answers with a success (2xx) status.
func answersOK(ctx context.Context, client *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}

// loopbackClient is an HTTP client for helpers on loopback: no proxy from the environment is
// ever asked.
func loopbackClient(t *testing.T) *http.Client {
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// freePort returns a loopback port that was free a moment ago, for a program that takes a port
// number rather than a listener.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func tailOf(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
