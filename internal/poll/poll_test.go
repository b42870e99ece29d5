package poll_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/internal/poll"
)

func TestUntil(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name      string
		ctx       context.Context
		timeout   time.Duration
		holdsFrom int // the call from which cond holds; 0: never
		wantErr   error
		wantCalls int // 0: not checked (how often a tick beats the end of ctx is the scheduler's call)
	}{
		{name: "holds at once", ctx: context.Background(), timeout: time.Minute, holdsFrom: 1, wantCalls: 1},
		{name: "holds on the third call", ctx: context.Background(), timeout: time.Minute, holdsFrom: 3, wantCalls: 3},
		{name: "holds at once from an ended context", ctx: cancelled, timeout: time.Minute, holdsFrom: 1, wantCalls: 1},
		{name: "never holds: timeout", ctx: context.Background(), timeout: time.Millisecond, wantErr: context.DeadlineExceeded},
		{name: "never holds: cancelled", ctx: cancelled, timeout: time.Minute, wantErr: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			err := poll.Until(tt.ctx, tt.timeout, func() bool {
				calls++
				return tt.holdsFrom > 0 && calls >= tt.holdsFrom
			})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Until() = %v, want %v", err, tt.wantErr)
			}
			if tt.wantCalls != 0 && calls != tt.wantCalls {
				t.Errorf("cond called %d times, want %d", calls, tt.wantCalls)
			}
		})
	}
}
