package revocation

import (
	"math"
	"sync"
	"time"
)

// limiter is a token bucket: rate calls a second on average, at most burst at once. A call may
// book a token that is not there yet, and waits for it, when it would come by a time the caller
// names; otherwise it is refused at once. Booking ahead keeps a burst of new tokens (a restart,
// a morning) waiting briefly in line rather than failing, and never past their deadline.
type limiter struct {
	rate  float64 // tokens a second
	burst float64

	mu     sync.Mutex
	tokens float64 // may be negative: tokens booked ahead
	last   time.Time
}

// newLimiter returns a bucket of rate tokens a second holding one second's worth (at least one),
// full.
func newLimiter(rate float64) *limiter {
	burst := max(1, math.Floor(rate))
	return &limiter{rate: rate, burst: burst, tokens: burst}
}

// reserve books one token at now and returns when it may be used: now, or later when the bucket
// is empty. It books nothing and returns false when that would be after latest.
func (l *limiter) reserve(now, latest time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last.IsZero() {
		l.last = now
	}
	if elapsed := now.Sub(l.last); elapsed > 0 {
		l.tokens = min(l.burst, l.tokens+elapsed.Seconds()*l.rate)
		l.last = now
	}
	if l.tokens >= 1 {
		l.tokens--
		return now, true
	}
	at := now.Add(time.Duration((1 - l.tokens) / l.rate * float64(time.Second)))
	if at.After(latest) {
		return time.Time{}, false
	}
	l.tokens--
	return at, true
}
