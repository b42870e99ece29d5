package runner

import (
	"context"
	"fmt"
	"sync"
)

// refresher is a verifier's key refresh loop: it fetches every issuer's keys at once and retries
// those that fail every min_refetch_interval; readiness follows from its fetch reports, no
// polling.
type refresher interface{ Run(ctx context.Context) }

// keyRefresh runs the current snapshot's key refresh; a reload replaces the loop.
type keyRefresh struct {
	mu      sync.Mutex
	running bool
	stop    context.CancelFunc
	done    chan struct{}
}

// run starts v's loop, after stopping the previous one: a key cache two snapshots share is
// refreshed by one loop at a time.
func (k *keyRefresh) run(v refresher) {
	k.stopAndWait()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		v.Run(ctx)
	}()
	k.stop, k.done, k.running = stop, done, true
}

func (k *keyRefresh) stopAndWait() {
	if k.running {
		k.stop()
		<-k.done
		k.running = false
	}
}

// replace runs v's loop instead of the current one, if the refresh runs.
func (k *keyRefresh) replace(v refresher) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.running {
		k.run(v)
	}
}

// unit runs the refresh of the snapshot current at start.
func (k *keyRefresh) unit(current func() refresher) unit {
	return unit{
		start: func(context.Context) error {
			k.mu.Lock()
			defer k.mu.Unlock()
			k.run(current())
			return nil
		},
		stop: func(ctx context.Context) error {
			k.mu.Lock()
			defer k.mu.Unlock()
			if !k.running {
				return nil
			}
			k.stop()
			k.running = false
			select {
			case <-k.done:
				return nil
			case <-ctx.Done():
				return fmt.Errorf("key refresh still running: %w", ctx.Err())
			}
		},
	}
}
