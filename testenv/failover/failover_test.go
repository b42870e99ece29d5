package failover

import (
	"context"
	"net/http/httptest"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/extauthz"
	"github.com/cognito-authz/cognito-authz/testenv/backend"
	"github.com/cognito-authz/cognito-authz/testenv/envoyproc"
	"github.com/cognito-authz/cognito-authz/testenv/issuer"
)

// The load: a few workers (the machine has two cores, shared), requests through Envoy to the
// optional route, three with a user's token to one without. A replica is ended after killAt
// requests; once Envoy's health checks have taken it out, afterOut more go to the survivor.
const (
	workers     = 4
	killAt      = 1000
	afterOut    = 1000
	maxRequests = 200_000          // a bound in case Envoy never takes the replica out
	loadBound   = 90 * time.Second // the same, in time

	// healthInterval shortens Envoy's active health checks (5s in the committed configs) so a
	// replica's departure shows within the test; it does not make the failover itself any easier:
	// until the health checks notice, retries carry the load.
	healthInterval = "1s"
	// checkTimeout replaces the committed 0.25s bound on a check. This test is about replicas
	// going away, not latency, and on a shared two-core machine (worse under -race, where this
	// process is the app and the load) everything now and then stalls at once: for 300ms often,
	// with 0.25s failing a couple of checks whether a replica was ended or not; for over 2s under
	// heavy load (no request at all served for 2.6s, Envoy's own 1s timer firing at 1.25s), with
	// 1s failing the checks in flight, once 8 of them before any replica was ended. Retries after
	// a reset or a refused connection happen within milliseconds either way, and a check that
	// hangs still fails the test, only later.
	checkTimeout = "5s"
)

// TestKillOneReplicaUnderLoad runs two cognito-authz replicas, each its own process, behind one
// Envoy with the committed configs' retry, health-check and outlier settings (envoyconf), ends one
// under steady load and requires every request to succeed: 200 on the optional route, and a token
// request reaching the app as its user (x-auth-status: authenticated), an anonymous one as
// anonymous.
//
//   - SIGKILL: the replica dies mid-check, as a crashed pod or an OOM kill does. Checks in flight on
//     its connection are reset and retried on the other replica (retry_on reset); new ones that
//     pick it find the port closed and are retried there too (connect-failure).
//   - SIGTERM: the graceful path (Kubernetes deleting a pod): the replica reports NOT_SERVING,
//     stops accepting, finishes the checks it has and exits 0. Streams Envoy opens on it as it
//     drains are refused and retried (refused-stream, connect-failure).
//
// In both, Envoy keeps sending the departed replica its share of checks until outlier detection
// ejects it (five failures in a row) or its health checks mark it down (two failed checks); the
// retries are what keep every request whole meanwhile. Without the retry policy every check sent
// to the departed replica before then fails.
func TestKillOneReplicaUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two cognito-authz processes and Envoy")
	}
	if runtime.GOOS == "windows" {
		t.Skip("needs POSIX signals")
	}
	envoyBin := envoyproc.RequireEnvoy(t)
	serviceBin := serviceBinary(t)
	tests := []struct {
		name     string
		signal   syscall.Signal
		graceful bool // exits 0 by itself
	}{
		{"SIGKILL", syscall.SIGKILL, false},
		{"SIGTERM", syscall.SIGTERM, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startStack(t, envoyBin, serviceBin)
			victim, survivor := s.replicas[0], s.replicas[1]

			l := newLoad(s.envoy.URL(), s.callers, workers, killAt, maxRequests)
			ctx, cancel := context.WithTimeout(t.Context(), loadBound)
			loadDone := make(chan struct{})
			go func() {
				defer close(loadDone)
				l.run(ctx, workers)
			}()
			// Runs before Envoy and the replicas are stopped (cleanups run last first).
			t.Cleanup(func() { cancel(); <-loadDone })

			select {
			case <-l.reachedKill:
			case <-loadDone:
				t.Fatalf("the load ended after %d requests, before request %d", l.completed.Load(), killAt)
			}
			// Both replicas must be in the rotation and have answered checks, or ending one proves
			// nothing. (On a starved machine Envoy may have ejected one for a moment; the load goes
			// on while it comes back.)
			before := waitHosts(t, s.envoy.AdminURL(), 10*time.Second, "both replicas in rotation and answering checks", func(h map[string]hostState) bool {
				v, s := h[victim.grpcAddr], h[survivor.grpcAddr]
				return !v.out() && !s.out() && v.RequestsTotal > 0 && s.RequestsTotal > 0
			})
			if err := victim.proc.Signal(tt.signal); err != nil {
				t.Fatalf("signal %s: %v", victim.name, err)
			}
			issuedAtKill := l.issued.Load()

			// Keep the load going until the health checks have marked the replica down, then some.
			after := waitHosts(t, s.envoy.AdminURL(), 30*time.Second, victim.name+" marked down by health checks", func(h map[string]hostState) bool {
				return h[victim.grpcAddr].FailedActiveHealthCheck
			})
			l.stopAfter(afterOut)
			<-loadDone
			if ctx.Err() != nil {
				t.Errorf("the load was cut off by its %v bound after %d requests", loadBound, l.completed.Load())
			}

			code, err := victim.proc.WaitExit(exitBound)
			switch {
			case err != nil:
				t.Errorf("%s: %v", victim.name, err)
			case tt.graceful && code != 0:
				t.Errorf("%s exited %d after SIGTERM, want 0", victim.name, code)
			case tt.graceful && !victim.logContains(`"shut down"`):
				t.Errorf("%s did not log a clean shutdown", victim.name)
			}
			select {
			case <-survivor.proc.Exited():
				t.Errorf("%s, the survivor, exited: %v", survivor.name, survivor.proc.Err())
			default:
			}

			st, err := stats(t.Context(), s.envoy.AdminURL())
			if err != nil {
				t.Error(err)
			}
			t.Logf("%s: %d requests (%d with a token, %d anonymous), %d failed; %s at request %d",
				tt.name, l.completed.Load(), l.tokenRequests.Load(), l.anonymousRequests.Load(), l.failed.Load(), tt.signal, issuedAtKill)
			t.Logf("%s: Envoy before: %s %v, %s %v; after: %s %v", tt.name,
				victim.name, before[victim.grpcAddr], survivor.name, before[survivor.grpcAddr], victim.name, after[victim.grpcAddr])
			t.Logf("%s: Envoy counters: %s", tt.name, formatStats(st))
			if n := l.failed.Load(); n != 0 {
				t.Errorf("%d of %d requests failed; the first:\n%s", n, l.completed.Load(), strings.Join(l.failures, "\n"))
				logEnvoyAuthzState(t, s.envoy.AdminURL())
			}
		})
	}
}

// exitBound is how long a replica may take to exit after SIGTERM: extauthz.ShutdownTimeout bounds its
// drain; the rest is room for a loaded machine.
const exitBound = extauthz.ShutdownTimeout + 5*time.Second

// stack is the issuer, the demo app, two replicas and Envoy, all on loopback.
type stack struct {
	replicas []*replica
	envoy    *envoyproc.Envoy
	callers  []caller
}

func startStack(t *testing.T, envoyBin, serviceBin string) *stack {
	t.Helper()
	is := issuer.NewTestServer(t, issuer.Options{ClientIDs: []string{"failover-app"}})
	app := httptest.NewServer(backend.New(backend.Options{}))
	t.Cleanup(app.Close)

	config := writeReplicaConfig(t, is.IssuerURL(), is.JWKSURL(), is.ClientIDs())
	s := &stack{replicas: []*replica{
		startReplica(t, serviceBin, config, "replica-a"),
		startReplica(t, serviceBin, config, "replica-b"),
	}}
	for _, r := range s.replicas {
		r.waitServing(t, 30*time.Second)
	}
	s.envoy = envoyproc.StartTest(t, envoyproc.Config{
		Binary:              envoyBin,
		Backend:             app.Listener.Addr().String(),
		AuthzReplicas:       []string{s.replicas[0].grpcAddr, s.replicas[1].grpcAddr},
		AuthzTimeout:        checkTimeout,
		AuthzHealthInterval: healthInterval,
	})
	waitHosts(t, s.envoy.AdminURL(), 30*time.Second, "both replicas healthy", func(h map[string]hostState) bool {
		return len(h) == 2 && !h[s.replicas[0].grpcAddr].out() && !h[s.replicas[1].grpcAddr].out()
	})

	for _, name := range []string{"alice", "bob", "carol"} {
		token, err := is.Mint(issuer.TokenSpec{Username: name})
		if err != nil {
			t.Fatal(err)
		}
		u, err := is.User(name)
		if err != nil {
			t.Fatal(err)
		}
		s.callers = append(s.callers, caller{token: token, sub: u.Sub})
	}
	s.callers = append(s.callers, caller{}) // anonymous
	return s
}
