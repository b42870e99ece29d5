//go:build unix

package main

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/testenv/envoyproc"
)

// runMainEnv makes the test binary run the real program instead of the tests, so a test can
// signal a whole process group as a terminal's Ctrl-C does.
const runMainEnv = "TESTENV_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestUpEndsCleanlyOnCtrlC sends SIGINT to the process group of `testenv up`, as Ctrl-C in a
// terminal does: Envoy, in the same group, gets it too and may end first. up must still exit 0
// and say nothing of a failure, so that `make demo` ends without an error.
func TestUpEndsCleanlyOnCtrlC(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real Envoy: not with -short")
	}
	envoyproc.RequireEnvoy(t)
	cmd := exec.Command(os.Args[0], "up", "--port", "0")
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a group of its own, like a terminal job
	var stderr syncBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	up := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Ctrl-C stops everything") {
				close(up)
				break
			}
		}
		for sc.Scan() { // keep the pipe drained
		}
		exited <- cmd.Wait()
	}()
	select {
	case <-up:
	case err := <-exited:
		t.Fatalf("up exited (%v) before it was up; stderr:\n%s", err, stderr.String())
	case <-time.After(time.Minute):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatalf("up was not up within a minute; stderr:\n%s", stderr.String())
	}

	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("up ended with %v on Ctrl-C, want exit 0; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatalf("up did not stop within 30s of Ctrl-C; stderr:\n%s", stderr.String())
	}
	if s := stderr.String(); strings.Contains(s, "exited on its own") || strings.Contains(s, "testenv up: stop:") {
		t.Errorf("up reported a failure on Ctrl-C:\n%s", s)
	}
}
