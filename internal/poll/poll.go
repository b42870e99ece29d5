// Package poll waits for a condition nothing signals: a service that became ready, a counter that
// reached a value. It is the one poll loop of the repository (the product's tests reach it through
// internal/testkit; testenv and cmd/testenv use it directly), so each waits with a deadline and
// none sleeps blindly.
package poll

import (
	"context"
	"time"
)

// Interval is how often Until asks again: short against the seconds a stack takes to start, long
// enough not to busy a shared machine.
const Interval = 10 * time.Millisecond

// Until calls cond until it holds and returns nil, or returns ctx.Err() (context.DeadlineExceeded
// once timeout has passed) when ctx ends first. cond is called at once, so a condition that
// already holds returns nil even from a context that has ended.
func Until(ctx context.Context, timeout time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(Interval)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}
