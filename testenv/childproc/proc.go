package childproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/internal/poll"
)

// DefaultStopGrace is how long Stop waits after its first signal before it kills the process.
const DefaultStopGrace = 10 * time.Second

// LogTailBytes is how much of a log a failure message or a failed test prints.
const LogTailBytes = 16 << 10

// ErrExitedEarly is what WaitReady returns (wrapped, with how it ended) for a process that ended
// before it was ready.
var ErrExitedEarly = errors.New("exited while starting")

// Options configure Start.
type Options struct {
	// Name names the process in errors and logs, e.g. "envoy".
	Name string
	// LogPath, when set, receives the process's stdout and stderr (those the command does not
	// already send elsewhere); it is truncated unless AppendLog (a restart keeps what it has).
	LogPath   string
	AppendLog bool
	// OnStdoutLine and OnStderrLine, when set, are called with each line of that stream (with its
	// newline) once it is in the log, in order, from a goroutine of their own; Exited is closed
	// after the last call.
	OnStdoutLine, OnStderrLine func(line string)
	// StopSignal is what Stop sends first; default SIGTERM.
	StopSignal os.Signal
	// StopGrace bounds the wait after StopSignal before SIGKILL; default DefaultStopGrace.
	StopGrace time.Duration
}

// Proc is one running child process.
type Proc struct {
	opts   Options
	cmd    *exec.Cmd
	exited chan struct{} // closed once it has exited and its output is in the log
	err    error         // how it ended; set before exited is closed

	stopOnce sync.Once
	stopErr  error
}

// Start starts cmd with its output in opts.LogPath and ProcAttr (unless cmd sets SysProcAttr).
// Stop it when done.
func Start(cmd *exec.Cmd, opts Options) (*Proc, error) {
	if opts.StopSignal == nil {
		opts.StopSignal = syscall.SIGTERM
	}
	if opts.StopGrace <= 0 {
		opts.StopGrace = DefaultStopGrace
	}
	p := &Proc{opts: opts, cmd: cmd, exited: make(chan struct{})}
	var logFile *os.File
	var lines []*lineWriter
	if opts.LogPath != "" {
		flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
		if opts.AppendLog {
			flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
		}
		f, err := os.OpenFile(opts.LogPath, flags, 0o644)
		if err != nil {
			return nil, fmt.Errorf("%s log: %w", opts.Name, err)
		}
		logFile = f
		output := func(onLine func(string)) io.Writer {
			if onLine == nil {
				return f
			}
			w := &lineWriter{out: f, onLine: onLine}
			lines = append(lines, w)
			return w
		}
		if cmd.Stdout == nil {
			cmd.Stdout = output(opts.OnStdoutLine)
		}
		if cmd.Stderr == nil {
			cmd.Stderr = output(opts.OnStderrLine)
		}
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = ProcAttr()
	}
	if err := cmd.Start(); err != nil {
		if logFile != nil {
			logFile.Close()
		}
		return nil, fmt.Errorf("start %s: %w", opts.Name, err)
	}
	go func() {
		p.err = cmd.Wait() // also waits until the output is copied
		for _, w := range lines {
			w.flush()
		}
		if logFile != nil {
			logFile.Close()
		}
		close(p.exited)
	}()
	return p, nil
}

// PID is the process's id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Exited is closed when the process has ended.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Err is how the process ended (nil: exit status 0); it is set once Exited is closed.
func (p *Proc) Err() error { return p.err }

// LogPath is the file holding the process's output, or "".
func (p *Proc) LogPath() string { return p.opts.LogPath }

// Log returns the end of the log (LogTailBytes), for a failure message.
func (p *Proc) Log() string { return Tail(p.opts.LogPath, LogTailBytes) }

// WaitReady polls ready until it holds, the process exits (ErrExitedEarly), ctx ends or timeout
// passes. ready gets a context bounded by both.
func (p *Proc) WaitReady(ctx context.Context, timeout time.Duration, ready func(context.Context) bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	isReady, gone := false, false
	err := poll.Until(ctx, timeout, func() bool {
		if isReady = ready(ctx); isReady {
			return true
		}
		select {
		case <-p.exited: // a process that has exited will not become ready later
			gone = true
		default:
		}
		return gone
	})
	switch {
	case isReady:
		return nil
	case gone:
		return fmt.Errorf("%w (%s)", ErrExitedEarly, describeExit(p.err))
	default:
		return fmt.Errorf("not ready within %v: %w", timeout, err)
	}
}

// WaitExit waits up to within for the process to end and returns its exit code: -1 when a signal
// ended it (Err says which), -1 with an error when it could not be waited for.
func (p *Proc) WaitExit(within time.Duration) (exitCode int, err error) {
	select {
	case <-p.exited:
	case <-time.After(within):
		return -1, fmt.Errorf("%s still running after %v", p.opts.Name, within)
	}
	var exitErr *exec.ExitError
	switch {
	case p.err == nil:
		return 0, nil
	case errors.As(p.err, &exitErr):
		return exitErr.ExitCode(), nil
	default:
		return -1, p.err
	}
}

// Stop ends the process (StopSignal, then SIGKILL after StopGrace) and waits for it. It is safe to
// call more than once. A process that had already ended on its own is reported when it failed.
func (p *Proc) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), p.opts.StopGrace)
	defer cancel()
	return p.StopContext(ctx)
}

// StopContext is Stop with the grace period ending with ctx instead.
func (p *Proc) StopContext(ctx context.Context) error {
	p.stopOnce.Do(func() {
		select {
		case <-p.exited:
			// It ended on its own: that is worth reporting.
			if p.err != nil {
				p.stopErr = fmt.Errorf("%s exited before Stop: %w", p.opts.Name, p.err)
			}
			return
		default:
		}
		_ = p.cmd.Process.Signal(p.opts.StopSignal)
		select {
		case <-p.exited:
		case <-ctx.Done():
			_ = p.cmd.Process.Kill()
			<-p.exited
			p.stopErr = fmt.Errorf("%s ignored %s and was killed: %w", p.opts.Name, signalName(p.opts.StopSignal), ctx.Err())
		}
	})
	return p.stopErr
}

// StartTest starts cmd for a test with its output in a log in a temporary directory, and waits up
// to timeout until ready holds; the test fails if the process exits first or the time passes. When
// the test ends the process is stopped, and its log is printed if the test failed.
func StartTest(t testing.TB, cmd *exec.Cmd, opts Options, timeout time.Duration, ready func(context.Context) bool) *Proc {
	t.Helper()
	if opts.LogPath == "" {
		opts.LogPath = filepath.Join(t.TempDir(), opts.Name+".log")
	}
	p, err := Start(cmd, opts)
	if err != nil {
		t.Fatal(err)
	}
	StopAtEnd(t, opts.Name, p, t.Logf)
	if err := p.WaitReady(t.Context(), timeout, ready); err != nil {
		t.Fatalf("%s: %v", opts.Name, err)
	}
	return p
}

// Helper is a running helper, a Proc or something built around one (an Envoy, an emulator).
type Helper interface {
	Stop() error
	Log() string
}

// StopAtEnd stops h when the test ends, telling report (t.Logf, or t.Errorf for a helper that
// must outlive the test) when that fails, and prints h's log when the test failed.
func StopAtEnd(t testing.TB, name string, h Helper, report func(format string, args ...any)) {
	t.Cleanup(func() {
		if err := h.Stop(); err != nil {
			report("%s: stop: %v", name, err)
		}
		if t.Failed() {
			t.Logf("--- %s log ---\n%s", name, h.Log())
		}
	})
}

// Tail returns the last max bytes of the file at path (or why it cannot be read).
func Tail(path string, max int64) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(log unreadable: %v)", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(log unreadable: %v)", err)
	}
	prefix := ""
	if info.Size() > max {
		if _, err := f.Seek(info.Size()-max, io.SeekStart); err != nil {
			return fmt.Sprintf("(log unreadable: %v)", err)
		}
		prefix = fmt.Sprintf("(first %d bytes left out)\n", info.Size()-max)
	}
	b, _ := io.ReadAll(f)
	return prefix + string(b)
}

func describeExit(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

func signalName(sig os.Signal) string {
	switch sig {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGQUIT:
		return "SIGQUIT"
	case syscall.SIGINT:
		return "SIGINT"
	}
	return sig.String()
}

// lineWriter copies a stream to the log as it comes and hands each whole line to onLine.
type lineWriter struct {
	out     io.Writer
	onLine  func(string)
	mu      sync.Mutex
	partial []byte
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.out.Write(b); err != nil {
		return 0, err
	}
	w.partial = append(w.partial, b...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		line := string(w.partial[:i+1])
		w.partial = w.partial[i+1:]
		w.onLine(line)
	}
	return len(b), nil
}

// flush hands on a last line that had no newline.
func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.onLine(string(w.partial))
		w.partial = nil
	}
}

// HTTPReady is a readiness check for WaitReady: GET url answers a success (2xx) status.
func HTTPReady(client *http.Client, url string) func(context.Context) bool {
	return func(ctx context.Context) bool {
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
}
