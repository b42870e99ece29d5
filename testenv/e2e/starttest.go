package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/testenv/cognitolocal"
	"github.com/cognito-authz/cognito-authz/testenv/envoyproc"
	"github.com/cognito-authz/cognito-authz/testenv/npmcache"
)

// StartTest starts a stack for a test and stops it when the test ends, printing Envoy's and the
// emulator's logs when the test failed. Without Envoy (or, for IdPCognitoLocal, without Node.js
// and npm) the test is skipped, or fails when childproc.RequireEnv is 1 (CI); with -short it is
// skipped.
func StartTest(t testing.TB, opts Options) *Stack {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test through a real Envoy: not with -short")
	}
	if opts.EnvoyBinary == "" {
		opts.EnvoyBinary = envoyproc.RequireEnvoy(t)
	}
	if opts.IdP == IdPCognitoLocal {
		npmcache.EnsureTest(t, cognitolocal.InstallSpec())
	}
	if opts.EnvoyDir == "" {
		opts.EnvoyDir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*DefaultReadyTimeout+cognitolocal.DefaultStartTimeout)
	defer cancel()
	s, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("start the stack: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- envoy log (%s) ---\n%s", s.Envoy.LogPath(), s.Envoy.Log())
			if s.CognitoLocal != nil {
				t.Logf("--- cognito-local log (%s) ---\n%s", s.CognitoLocal.LogPath(), s.CognitoLocal.Log())
			}
		}
		stopCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := s.Stop(stopCtx); err != nil {
			t.Errorf("stop the stack: %v", err)
		}
	})
	return s
}
