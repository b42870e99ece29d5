package runner

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// unit is one part of the running service with a lifecycle of its own (a listener, the key
// refresh, the reload watch): start returns once it runs, or why it cannot (a port taken); stop
// returns once it has stopped, or with an error once ctx ends first.
type unit struct {
	start, stop func(ctx context.Context) error
}

// group starts units in order and stops them in the reverse order, so that a unit stops only
// after every unit started after it: the admin listener, started first, answers /readyz until
// everything else has stopped. A unit that stops by itself (a server whose Serve failed) reports
// on failed.
type group struct {
	units   []unit
	started int
	failed  chan error
}

func newGroup() *group { return &group{failed: make(chan error, 8)} } // room for every unit to fail once

func (g *group) add(u unit) { g.units = append(g.units, u) }

// start starts every unit in order; when one fails, the ones started before it are stopped again.
func (g *group) start(ctx context.Context) error {
	for _, u := range g.units {
		if err := u.start(ctx); err != nil {
			_ = g.stop(context.WithoutCancel(ctx))
			return err
		}
		g.started++
	}
	return nil
}

// stop stops the started units, last started first, each within ctx, and joins their errors.
func (g *group) stop(ctx context.Context) error {
	var errs []error
	for ; g.started > 0; g.started-- {
		if err := g.units[g.started-1].stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// together is one unit of several: they start in order (a failure stops the ones started before
// it) and stop all at once, each within the one ctx, so that a slow stop of one (a listener
// draining its checks) does not spend the others' time.
func together(units ...unit) unit {
	started := 0
	return unit{
		start: func(ctx context.Context) error {
			for ; started < len(units); started++ {
				if err := units[started].start(ctx); err != nil {
					stopAll(context.WithoutCancel(ctx), units[:started])
					started = 0
					return err
				}
			}
			return nil
		},
		stop: func(ctx context.Context) error {
			err := stopAll(ctx, units[:started])
			started = 0
			return err
		},
	}
}

// stopAll stops units concurrently and joins their errors.
func stopAll(ctx context.Context, units []unit) error {
	errs := make([]error, len(units))
	var wg sync.WaitGroup
	for i, u := range units {
		wg.Go(func() { errs[i] = u.stop(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// background is a unit that runs f on a goroutine of its own until stopped; name says what is
// still running when stopping outlasts ctx.
func background(name string, f func(ctx context.Context)) unit {
	var stop context.CancelFunc
	done := make(chan struct{})
	return unit{
		start: func(context.Context) error {
			var ctx context.Context
			ctx, stop = context.WithCancel(context.Background())
			go func() {
				defer close(done)
				f(ctx)
			}()
			return nil
		},
		stop: func(ctx context.Context) error {
			stop()
			select {
			case <-done:
				return nil
			case <-ctx.Done():
				return fmt.Errorf("%s still running: %w", name, ctx.Err())
			}
		},
	}
}
