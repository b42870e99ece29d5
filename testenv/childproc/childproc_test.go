package childproc_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/testenv/childproc"
)

func TestToolFind(t *testing.T) {
	dir := t.TempDir()
	present := filepath.Join(dir, "tool")
	if err := os.WriteFile(present, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name    string
		tool    childproc.Tool
		env     string // value of TOOL_BIN
		want    string
		wantErr string // a part of the error; "" wants none
	}{
		{name: "env wins", tool: childproc.Tool{Name: "tool", Env: "TOOL_BIN"}, env: present, want: present},
		{name: "env naming a missing file is an error", tool: childproc.Tool{Name: "tool", Env: "TOOL_BIN"}, env: missing, wantErr: "TOOL_BIN=" + missing},
		{name: "PATH", tool: childproc.Tool{Name: "tool", Env: "TOOL_BIN"}, want: present},
		{name: "not on PATH", tool: childproc.Tool{Name: "absent"}, wantErr: "absent not on PATH"},
		{name: "alias", tool: childproc.Tool{Name: "absent", Aliases: []string{"also-absent", "tool"}}, want: present},
		{name: "fallback", tool: childproc.Tool{Name: "absent", Fallback: present}, want: present},
		{name: "fallback missing", tool: childproc.Tool{Name: "absent", Fallback: missing}, wantErr: "absent not on PATH nor at " + missing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("TOOL_BIN", tt.env)
			t.Setenv("PATH", dir)
			got, err := tt.tool.Find()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Find() = %q, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Find() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// recordingTB notes what a test is asked to do instead of doing it.
type recordingTB struct {
	testing.TB
	skipped, fatal string
}

func (r *recordingTB) Helper()                        {}
func (r *recordingTB) Skip(a ...any)                  { r.skipped = fmt.Sprint(a...) }
func (r *recordingTB) Skipf(format string, a ...any)  { r.skipped = fmt.Sprintf(format, a...) }
func (r *recordingTB) Fatalf(format string, a ...any) { r.fatal = fmt.Sprintf(format, a...) }

func TestMissingToolSkipsOrFails(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	tool := childproc.Tool{Name: "absent", InstallHint: "apt-get install absent"}
	tests := []struct {
		name              string
		require           string // value of childproc.RequireEnv
		call              func(testing.TB)
		wantSkip, wantErr string // parts of the skip and the failure message; "" wants none
	}{
		{"Require skips locally", "", func(t testing.TB) { tool.Require(t) }, "absent not found: apt-get install absent", ""},
		{"Require fails in CI", "1", func(t testing.TB) { tool.Require(t) }, "", "apt-get install absent"},
		{"Unavailable skips locally", "", func(t testing.TB) { childproc.Unavailable(t, "no %s", "flask") }, "no flask", ""},
		{"Unavailable fails in CI", "1", func(t testing.TB) { childproc.Unavailable(t, "no %s", "flask") }, "", "no flask (" + childproc.RequireEnv + "=1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(childproc.RequireEnv, tt.require)
			r := &recordingTB{TB: t}
			tt.call(r)
			if (tt.wantSkip == "") != (r.skipped == "") || !strings.Contains(r.skipped, tt.wantSkip) ||
				(tt.wantErr == "") != (r.fatal == "") || !strings.Contains(r.fatal, tt.wantErr) {
				t.Errorf("skipped %q, failed %q; want skip %q, failure %q", r.skipped, r.fatal, tt.wantSkip, tt.wantErr)
			}
		})
	}
}

func TestFreeAddrs(t *testing.T) {
	addrs, err := childproc.FreeAddrs(3)
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) != 3 || len(slices.Compact(slices.Sorted(slices.Values(addrs)))) != 3 {
		t.Fatalf("FreeAddrs(3) = %v, want 3 distinct addresses", addrs)
	}
	for _, a := range addrs {
		l, err := net.Listen("tcp", a) // free again once FreeAddrs returned
		if err != nil {
			t.Fatalf("listen on %s: %v", a, err)
		}
		l.Close()
	}
	port, err := childproc.FreePort()
	if err != nil || port <= 0 {
		t.Fatalf("FreePort() = %d, %v", port, err)
	}
}

// logSays is a readiness check: the log has s.
func logSays(path, s string) func(context.Context) bool {
	return func(context.Context) bool {
		b, _ := os.ReadFile(path)
		return strings.Contains(string(b), s)
	}
}

// TestProc runs small shell scripts through start, readiness, stop and exit.
func TestProc(t *testing.T) {
	never := func(context.Context) bool { return false }
	tests := []struct {
		name        string
		script      string
		opts        childproc.Options
		ready       string        // a log line that means ready; "" never is
		timeout     time.Duration // default a minute
		wantReady   error         // wanted from WaitReady (errors.Is); nil: ready
		wantStop    string        // a part of Stop's error; "": none
		wantLog     string
		wantExitErr bool // Err() after Stop is not nil
	}{
		{name: "ready, then ends on SIGTERM", script: `echo listening; exec sleep 60`, ready: "listening",
			wantLog: "listening", wantExitErr: true},
		{name: "ready, then ends on SIGQUIT", script: `trap 'echo bye; exit 0' QUIT; echo listening; while :; do sleep 0.01; done`,
			opts: childproc.Options{StopSignal: syscall.SIGQUIT}, ready: "listening", wantLog: "bye"},
		{name: "exits while starting", script: `echo broken config >&2; exit 3`, ready: "listening",
			wantReady: childproc.ErrExitedEarly, wantStop: "exited before Stop: exit status 3", wantLog: "broken config", wantExitErr: true},
		{name: "never ready", script: `exec sleep 60`, timeout: 50 * time.Millisecond,
			wantReady: context.DeadlineExceeded, wantExitErr: true},
		{name: "ignores SIGTERM: killed after the grace", script: `trap '' TERM; echo listening; exec sleep 60`, ready: "listening",
			opts: childproc.Options{StopGrace: 50 * time.Millisecond}, wantStop: "ignored SIGTERM and was killed", wantExitErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.Name = "script"
			opts.LogPath = filepath.Join(t.TempDir(), "script.log")
			p, err := childproc.Start(exec.Command("sh", "-c", tt.script), opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.Stop() })
			ready := never
			if tt.ready != "" {
				ready = logSays(opts.LogPath, tt.ready)
			}
			timeout := tt.timeout
			if timeout == 0 {
				timeout = time.Minute
			}
			if err := p.WaitReady(t.Context(), timeout, ready); !errors.Is(err, tt.wantReady) {
				t.Fatalf("WaitReady() = %v, want %v", err, tt.wantReady)
			}
			err = p.Stop()
			if (tt.wantStop == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantStop)) {
				t.Errorf("Stop() = %v, want an error containing %q", err, tt.wantStop)
			}
			select {
			case <-p.Exited():
			default:
				t.Fatal("Stop returned before the process exited")
			}
			if err := p.Stop(); (tt.wantStop == "") != (err == nil) {
				t.Errorf("second Stop() = %v, want the first one's answer", err)
			}
			if (p.Err() != nil) != tt.wantExitErr {
				t.Errorf("Err() = %v, want an error: %v", p.Err(), tt.wantExitErr)
			}
			if log := p.Log(); !strings.Contains(log, tt.wantLog) {
				t.Errorf("log %q, want %q in it", log, tt.wantLog)
			}
		})
	}
}

func TestWaitExit(t *testing.T) {
	tests := []struct {
		script   string
		wantCode int
	}{
		{"exit 0", 0},
		{"exit 7", 7},
	}
	for _, tt := range tests {
		t.Run(tt.script, func(t *testing.T) {
			p, err := childproc.Start(exec.Command("sh", "-c", tt.script), childproc.Options{Name: "script"})
			if err != nil {
				t.Fatal(err)
			}
			if code, err := p.WaitExit(time.Minute); err != nil || code != tt.wantCode {
				t.Errorf("WaitExit() = %d, %v; want %d", code, err, tt.wantCode)
			}
		})
	}
	t.Run("killed by a signal", func(t *testing.T) {
		p, err := childproc.Start(exec.Command("sleep", "60"), childproc.Options{Name: "sleep"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.WaitExit(10 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "still running") {
			t.Errorf("WaitExit() of a running process = %v, want it still running", err)
		}
		if err := p.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if code, err := p.WaitExit(time.Minute); code != -1 || err != nil || p.Err() == nil {
			t.Errorf("WaitExit() = %d, %v (Err() %v); want -1 and Err() saying how it ended", code, err, p.Err())
		}
	})
}

// TestLines: each stream's lines reach its callback whole and in order, the last one even without
// a newline, and everything reaches the log.
func TestLines(t *testing.T) {
	var mu sync.Mutex
	var stdout, stderr []string
	logPath := filepath.Join(t.TempDir(), "lines.log")
	p, err := childproc.Start(exec.Command("sh", "-c", `echo one; echo two >&2; echo three; printf four`), childproc.Options{
		Name:         "lines",
		LogPath:      logPath,
		OnStdoutLine: func(l string) { mu.Lock(); stdout = append(stdout, l); mu.Unlock() },
		OnStderrLine: func(l string) { mu.Lock(); stderr = append(stderr, l); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.WaitExit(time.Minute); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"one\n", "three\n", "four"}; !slices.Equal(stdout, want) {
		t.Errorf("stdout lines %q, want %q", stdout, want)
	}
	if want := []string{"two\n"}; !slices.Equal(stderr, want) {
		t.Errorf("stderr lines %q, want %q", stderr, want)
	}
	log := childproc.Tail(logPath, 1<<20)
	for _, s := range []string{"one", "two", "three", "four"} {
		if !strings.Contains(log, s) {
			t.Errorf("log %q lacks %q", log, s)
		}
	}
}

// TestAppendLog: a restart with AppendLog keeps the earlier run's output; without, it is gone.
func TestAppendLog(t *testing.T) {
	for _, appendLog := range []bool{false, true} {
		t.Run(fmt.Sprint("append=", appendLog), func(t *testing.T) {
			logPath := filepath.Join(t.TempDir(), "run.log")
			for _, word := range []string{"first", "second"} {
				p, err := childproc.Start(exec.Command("echo", word), childproc.Options{Name: "echo", LogPath: logPath, AppendLog: appendLog})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := p.WaitExit(time.Minute); err != nil {
					t.Fatal(err)
				}
			}
			log := childproc.Tail(logPath, 1<<20)
			if strings.Contains(log, "first") != appendLog || !strings.Contains(log, "second") {
				t.Errorf("log %q after two runs with AppendLog %v", log, appendLog)
			}
		})
	}
}

func TestTail(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log")
	if err := os.WriteFile(path, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		max        int64
		want       string
	}{
		{"whole", path, 10, "0123456789"},
		{"end only, saying so", path, 4, "(first 6 bytes left out)\n6789"},
		{"missing", filepath.Join(dir, "none"), 4, "(log unreadable: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := childproc.Tail(tt.path, tt.max); !strings.HasPrefix(got, tt.want) {
				t.Errorf("Tail() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHTTPReady(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
		case "/created":
			w.WriteHeader(http.StatusCreated)
		default:
			http.Error(w, "starting", http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct {
		url  string
		want bool
	}{
		{srv.URL + "/ok", true},
		{srv.URL + "/created", true},
		{srv.URL + "/starting", false},
		{closed.URL + "/ok", false},
	}
	for _, tt := range tests {
		if got := childproc.HTTPReady(srv.Client(), tt.url)(t.Context()); got != tt.want {
			t.Errorf("HTTPReady(%s) = %v, want %v", tt.url, got, tt.want)
		}
	}
}

// TestStopAtEnd: the helper is stopped when its test ends, and a helper that died on its own
// during the test is reported.
func TestStopAtEnd(t *testing.T) {
	tests := []struct {
		script     string
		wantReport string // "": none
	}{
		{`exec sleep 60`, ""},
		{`exit 3`, "script: stop: script exited before Stop: exit status 3"},
	}
	for _, tt := range tests {
		var p *childproc.Proc
		var reports []string
		t.Run(tt.script, func(t *testing.T) {
			var err error
			if p, err = childproc.Start(exec.Command("sh", "-c", tt.script), childproc.Options{Name: "script"}); err != nil {
				t.Fatal(err)
			}
			childproc.StopAtEnd(t, "script", p, func(format string, args ...any) {
				reports = append(reports, fmt.Sprintf(format, args...))
			})
			if tt.wantReport != "" {
				_, _ = p.WaitExit(time.Minute)
			}
		})
		select {
		case <-p.Exited():
		default:
			t.Errorf("%s: still running after its test ended", tt.script)
		}
		if got := strings.Join(reports, "\n"); got != tt.wantReport {
			t.Errorf("%s: reported %q, want %q", tt.script, got, tt.wantReport)
		}
	}
}
