package failover

import (
	"bytes"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/internal/poll"
	"github.com/cognito-authz/cognito-authz/testenv/envoyproc"
)

// stall is how long both replicas are frozen: a loaded node's pause, well inside the check's
// timeout (checkTimeout) but longer than the three attempts would last if each had a deadline of
// its own (50ms each, as Envoy made of a 0.05s retry_back_off.max_interval).
const stall = 300 * time.Millisecond

// TestStalledReplicasAreWaitedFor freezes every replica (SIGSTOP) while a request's check is on its
// way to them, and thaws them after stall: the check must be answered, not cut off. This is how
// TestKillOneReplicaUnderLoad lost requests on a loaded machine: Envoy gave each attempt 50ms
// (envoyproxy/envoy#38847), so a stall of the surviving replica outlasted all three attempts and
// the check failed long before its timeout. See envoyconf.TestCheckAttemptsHaveNoTimeoutOfTheirOwn.
func TestStalledReplicasAreWaitedFor(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two cognito-authz processes and Envoy")
	}
	s := startStack(t, envoyproc.RequireEnvoy(t), serviceBinary(t))
	for _, r := range s.replicas {
		if err := r.proc.Signal(syscall.SIGSTOP); err != nil {
			t.Fatalf("SIGSTOP %s: %v", r.name, err)
		}
	}
	// The kernel stops a process asynchronously: a replica still running would answer at once
	// and prove nothing.
	for _, r := range s.replicas {
		if err := poll.Until(t.Context(), 10*time.Second, func() bool { return processStopped(r.proc.PID()) }); err != nil {
			t.Fatalf("%s not stopped: %v", r.name, err)
		}
	}

	checksSent := func() (n int64) {
		hosts, err := authzHosts(t.Context(), s.envoy.AdminURL())
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hosts {
			n += h.RequestsTotal
		}
		return n
	}
	before := checksSent()
	answered := make(chan error, 1)
	go func() {
		answered <- newLoad(s.envoy.URL(), nil, 1, 0, 0).request(t.Context(), caller{})
	}()
	if err := poll.Until(t.Context(), 10*time.Second, func() bool { return checksSent() > before }); err != nil {
		t.Fatalf("Envoy sent no check to the replicas: %v", err)
	}
	// The stall itself, not a wait for anything: from its first attempt on, the check is held by
	// the frozen replicas this long.
	time.Sleep(stall)
	for _, r := range s.replicas {
		if err := r.proc.Signal(syscall.SIGCONT); err != nil {
			t.Fatalf("SIGCONT %s: %v", r.name, err)
		}
	}
	err := <-answered
	st, statsErr := stats(t.Context(), s.envoy.AdminURL())
	if statsErr != nil {
		t.Error(statsErr)
	}
	t.Logf("Envoy counters: %s", formatStats(st))
	if err != nil {
		t.Errorf("request held by replicas stalled for %v: %v", stall, err)
	}
}

// processStopped reports whether the process is in the stopped state (T in /proc/pid/stat).
func processStopped(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...: comm may hold spaces and parentheses, the state follows the last ')'.
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'T'
}
