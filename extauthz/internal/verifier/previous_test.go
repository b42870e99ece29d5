package verifier

import (
	"context"
	"testing"
	"time"
)

// TestPreviousLendsKeysOfUnchangedIssuers: a verifier built with Previous keeps the keys of every
// issuer configured as before and fetches only what changed (a new issuer, another key URL, other
// key settings).
func TestPreviousLendsKeysOfUnchangedIssuers(t *testing.T) {
	f := newFixture(t, nil)
	other := newJWKSServer(t, jwk(testKid, &testKey.PublicKey, nil))
	tests := []struct {
		name        string
		edit        func(*Config)
		wantFetches int64 // from f.jwks, by LoadMissing
		wantOther   int64
	}{
		{"the same issuers, other claims settings", func(c *Config) {
			c.Issuers[0].ClientIDs = []string{"another-client"}
			c.ClockSkew = time.Minute
		}, 0, 0},
		{"one issuer's key URL changed", func(c *Config) { c.Issuers[1].JWKSURL = other.URL }, 0, 1},
		{"a new issuer", func(c *Config) {
			c.Issuers = append(c.Issuers, IssuerConfig{Issuer: "https://issuer.example/new", JWKSURL: other.URL, ClientIDs: []string{testClientID}})
		}, 0, 1},
		{"other key settings for every issuer", func(c *Config) { c.FetchTimeout = 7 * time.Second }, 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := f.config()
			cfg.Previous = f.v
			tt.edit(&cfg)
			before, otherBefore := f.jwks.Hits.Load(), other.Hits.Load()
			v, err := New[string](cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.LoadMissing(context.Background()); err != nil {
				t.Fatal(err)
			}
			if !v.Ready() {
				t.Error("not ready after LoadMissing")
			}
			if got := f.jwks.Hits.Load() - before; got != tt.wantFetches {
				t.Errorf("%d fetches of the unchanged key URL, want %d", got, tt.wantFetches)
			}
			if got := other.Hits.Load() - otherBefore; got != tt.wantOther {
				t.Errorf("%d fetches of the new key URL, want %d", got, tt.wantOther)
			}
		})
	}
}
