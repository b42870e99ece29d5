package testkit

import (
	"context"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/internal/poll"
)

// WaitTimeout is how long Eventually waits: generous, since a shared machine can be slow, and
// only a failing test ever waits it out.
const WaitTimeout = 15 * time.Second

// Eventually waits until cond holds, failing the test with what it waited for at WaitTimeout.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if err := poll.Until(context.Background(), WaitTimeout, cond); err != nil {
		t.Fatalf("timed out waiting for %s", what)
	}
}
