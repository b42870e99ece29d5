package childproc

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// RequireEnv set to 1 turns a missing tool from a skipped test into a failed one (CI sets it, so
// that every test runs there). It is named for Envoy, the first such tool.
const RequireEnv = "COGNITO_AUTHZ_REQUIRE_ENVOY"

// Tool is a program that tests or the local stack run beside the service.
type Tool struct {
	Name string // its name on PATH, e.g. "envoy"
	// Aliases are other names it has on PATH, tried in order after Name, e.g. "chromium-browser".
	Aliases []string
	// Env, when set, names an environment variable holding the binary to use instead.
	Env string
	// Fallback, when set, is tried after PATH, e.g. Debian's /usr/sbin/nginx (not on a non-root PATH).
	Fallback string
	// InstallHint says how to get the tool.
	InstallHint string
}

// Find returns $Env when set (it must exist), else Name or one of Aliases on PATH, else Fallback
// when it exists.
func (tool Tool) Find() (string, error) {
	if tool.Env != "" {
		if p := os.Getenv(tool.Env); p != "" {
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("%s=%s: %w", tool.Env, p, err)
			}
			return p, nil
		}
	}
	p, err := exec.LookPath(tool.Name)
	if err == nil {
		return p, nil
	}
	for _, alias := range tool.Aliases {
		if p, err := exec.LookPath(alias); err == nil {
			return p, nil
		}
	}
	if tool.Fallback == "" {
		return "", fmt.Errorf("%s not on PATH: %w", tool.Name, err)
	}
	if _, err := os.Stat(tool.Fallback); err != nil {
		return "", fmt.Errorf("%s not on PATH nor at %s", tool.Name, tool.Fallback)
	}
	return tool.Fallback, nil
}

// Require returns the tool's binary, or skips the test when there is none; with RequireEnv=1 a
// missing tool fails the test instead.
func (tool Tool) Require(t testing.TB) string {
	t.Helper()
	bin, err := tool.Find()
	if err == nil {
		return bin
	}
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s not found (%s=1): %v; %s", tool.Name, RequireEnv, err, tool.InstallHint)
		return ""
	}
	t.Skipf("%s not found: %s", tool.Name, tool.InstallHint)
	return ""
}

// Unavailable skips the test because something it needs beside the code under test (a tool, a
// library of an interpreter, a package registry) is missing, or fails it when RequireEnv=1.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s (%s=1)", msg, RequireEnv)
		return
	}
	t.Skip(msg)
}

// FreeAddrs returns n distinct loopback addresses (host:port) that were free a moment ago, for a
// program that must be told its ports rather than handed listeners.
func FreeAddrs(n int) ([]string, error) {
	var addrs []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		addrs = append(addrs, l.Addr().String())
		defer l.Close() // held until all are chosen, so none is picked twice
	}
	return addrs, nil
}

// FreePort returns a loopback port that was free a moment ago (see FreeAddrs).
func FreePort() (int, error) {
	addrs, err := FreeAddrs(1)
	if err != nil {
		return 0, err
	}
	_, port, err := net.SplitHostPort(addrs[0])
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(port)
}
