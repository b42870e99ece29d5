package forwardauth

import (
	"context"
	"sync"
	"time"
)

// checkContext is the context of one HTTP check: a deadline, and no timer until something waits
// on Done. Only a check that waits (a Cognito call, a key fetch) needs Done; one answered from the
// cache asks Err alone, so it never starts the timer context.WithTimeout starts for every check.
// It is not reused: a context derived from it may ask Err after the check has ended. A child made
// with context.WithCancel, WithTimeout or AfterFunc costs a goroutine (this is not one of the
// package's own contexts), which ends with the check.
type checkContext struct {
	deadline time.Time

	mu    sync.Mutex
	done  chan struct{} // made by the first Done
	timer *time.Timer   // closes done at the deadline, once done is made
	err   error         // set once: DeadlineExceeded or Canceled
}

// newCheckContext returns a context whose deadline is d from now; cancel ends it.
func newCheckContext(d time.Duration) *checkContext {
	return &checkContext{deadline: time.Now().Add(d)}
}

// cancel ends the context, as a context.CancelFunc would.
func (c *checkContext) cancel() { c.end(context.Canceled) }

func (c *checkContext) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *checkContext) Value(any) any { return nil }

func (c *checkContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.err == nil {
			if wait := time.Until(c.deadline); wait > 0 {
				c.timer = time.AfterFunc(wait, func() { c.end(context.DeadlineExceeded) })
			} else {
				c.err = context.DeadlineExceeded
			}
		}
		if c.err != nil {
			close(c.done)
		}
	}
	return c.done
}

func (c *checkContext) Err() error {
	c.mu.Lock()
	err := c.err
	c.mu.Unlock()
	if err == nil && !time.Now().Before(c.deadline) {
		// Done may not have been asked for, so no timer ended the context: the clock says so.
		c.end(context.DeadlineExceeded)
		return c.Err()
	}
	return err
}

// end ends the context with err, unless it has ended already.
func (c *checkContext) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = err
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.done != nil {
		close(c.done)
	}
}
