package forwardauth

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// guard bounds every wait on a channel in these tests.
const guard = 10 * time.Second

func closedWithin(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestCheckContext(t *testing.T) {
	past := func(c *checkContext) { c.deadline = time.Now().Add(-time.Millisecond) }
	for _, tc := range []struct {
		name string
		// steps run in order on a context with an hour to go; "past" moves its deadline behind now
		steps   []string
		wantErr error
	}{
		{"running: no error", nil, nil},
		{"running, Done asked: no error", []string{"done"}, nil},
		{"past its deadline, Done never asked: the clock ends it", []string{"past"}, context.DeadlineExceeded},
		{"past its deadline, then Done asked", []string{"past", "done"}, context.DeadlineExceeded},
		{"Done asked, then past its deadline: Err closes Done", []string{"done", "past"}, context.DeadlineExceeded},
		{"cancelled", []string{"cancel"}, context.Canceled},
		{"cancelled, then Done asked", []string{"cancel", "done"}, context.Canceled},
		{"Done asked, then cancelled", []string{"done", "cancel"}, context.Canceled},
		{"cancelled, then past its deadline: still cancelled", []string{"cancel", "past"}, context.Canceled},
		{"past its deadline, then cancelled: still past it", []string{"past", "err", "cancel"}, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCheckContext(time.Hour)
			defer c.cancel()
			for _, step := range tc.steps {
				switch step {
				case "done":
					c.Done()
				case "past":
					past(c)
				case "cancel":
					c.cancel()
				case "err":
					c.Err()
				}
			}
			if err := c.Err(); !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Err() = %v, want %v", err, tc.wantErr)
			}
			if got, want := isClosed(c.Done()), tc.wantErr != nil; got != want {
				t.Fatalf("Done closed: %v, want %v", got, want)
			}
			if c.Value("any key") != nil {
				t.Fatal("Value: want nil")
			}
		})
	}
}

func TestCheckContextDeadline(t *testing.T) {
	before := time.Now()
	c := newCheckContext(250 * time.Millisecond)
	defer c.cancel()
	d, ok := c.Deadline()
	if !ok || d.Before(before.Add(250*time.Millisecond)) || d.After(time.Now().Add(250*time.Millisecond)) {
		t.Fatalf("Deadline() = %v, %v; want 250ms from its making", d, ok)
	}
}

// A context derived from a check's has its deadline and ends with it, cancelled or timed out.
func TestCheckContextChildren(t *testing.T) {
	for _, tc := range []struct {
		name    string
		within  time.Duration // the check context's deadline
		cancel  bool          // cancel the check context instead of waiting for its deadline
		wantErr error
	}{
		{"the check is cancelled", time.Hour, true, context.Canceled},
		{"the check's deadline passes", 20 * time.Millisecond, false, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCheckContext(tc.within)
			defer c.cancel()
			child, stop := context.WithTimeout(c, time.Hour)
			defer stop()
			if cd, _ := child.Deadline(); !cd.Equal(c.deadline) {
				t.Fatalf("a child's deadline is %v, want the parent's %v", cd, c.deadline)
			}
			if tc.cancel {
				c.cancel()
			}
			if !closedWithin(child.Done(), guard) {
				t.Fatalf("the child not done %v after its parent ended", guard)
			}
			if !errors.Is(child.Err(), tc.wantErr) {
				t.Fatalf("the child's Err() = %v, want %v", child.Err(), tc.wantErr)
			}
		})
	}
}

// A check that waits on Done is ended by its deadline, as context.WithTimeout's would be.
func TestCheckContextDoneClosesAtTheDeadline(t *testing.T) {
	c := newCheckContext(20 * time.Millisecond)
	defer c.cancel()
	if !closedWithin(c.Done(), guard) {
		t.Fatalf("Done not closed %v after a 20ms deadline", guard)
	}
	if !errors.Is(c.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err() = %v, want %v", c.Err(), context.DeadlineExceeded)
	}
	if time.Now().Before(c.deadline) {
		t.Fatal("Done closed before the deadline")
	}
}

// Done, Err and cancel may be called from any goroutine (run with -race), while the timer may end
// the context at the same moment; the context ends once, with the first reason.
func TestCheckContextConcurrent(t *testing.T) {
	for _, withCancel := range []bool{false, true} {
		for range 50 {
			c := newCheckContext(time.Millisecond)
			var wg sync.WaitGroup
			wg.Go(func() { <-c.Done() })
			wg.Go(func() {
				for c.Err() == nil {
					closedWithin(c.Done(), time.Millisecond)
				}
			})
			wg.Go(func() { _, _ = c.Deadline() })
			if withCancel {
				wg.Go(c.cancel)
			}
			wg.Wait()
			err := c.Err()
			if !withCancel && !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("no cancel: Err() = %v, want %v", err, context.DeadlineExceeded)
			}
			if err == nil || !isClosed(c.Done()) {
				t.Fatalf("ended: err %v, done %v", err, isClosed(c.Done()))
			}
			c.cancel() // after the end: no second close
			if c.Err() != err {
				t.Fatalf("cancel after the end changed Err() from %v to %v", err, c.Err())
			}
		}
	}
}
