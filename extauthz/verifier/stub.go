package verifier

import "context"

// Verifier verifies tokens of the configured issuers. It is safe for concurrent use.
type Verifier struct{}

// New checks cfg and returns a Verifier. It fetches nothing: call Hydrate, then Run.
func New(cfg Config) (*Verifier, error) { panic("not implemented") }

// Verify returns the claims of a valid token, or an *Error with the reason it is not.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) { panic("todo") }

// Hydrate loads every issuer's keys once; it returns the first error but tries every issuer.
func (v *Verifier) Hydrate(ctx context.Context) error { panic("todo") }

// Ready reports whether every issuer's keys are loaded.
func (v *Verifier) Ready() bool { panic("todo") }

// Run refreshes every issuer's keys in the background until ctx ends.
func (v *Verifier) Run(ctx context.Context) { panic("todo") }

// Map decodes the payload into a claim map, for `verify` output and logs.
func (c *Claims) Map() (map[string]any, error) { panic("todo") }
