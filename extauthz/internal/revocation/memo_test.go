package revocation

import (
	"testing"
	"time"
)

// TestMemoAnswersAsTheCachesDo: a token checked with a Memo is answered from it while its live
// answer holds, without a hash or lookup of the token, and as the caches would answer otherwise:
// asked again once the answer expired, left the cache or belongs to a checker replaced by another
// cache; refused once its sign-in is found revoked.
func TestMemoAnswersAsTheCachesDo(t *testing.T) {
	const ttl = 30 * time.Second
	for _, tt := range []struct {
		name string
		// then changes something after the token was checked twice (once asked, once from the
		// cache) and returns the checker that checks it again.
		then      func(t *testing.T, f *fixture) *Checker
		want      Result
		wantFrom  Source
		wantCalls int64 // calls to Cognito in all
	}{
		{"nothing changed: the memo answers, the token is not hashed again", func(t *testing.T, f *fixture) *Checker {
			f.keys = newKeyer() // the token's key is another now: only the memo can find its answer
			return f.Checker
		}, Live, FromCache, 1},
		{"the answer expired", func(t *testing.T, f *fixture) *Checker {
			f.clock.advance(ttl)
			return f.Checker
		}, Live, FromCall, 2},
		{"the answer left the cache", func(t *testing.T, f *fixture) *Checker {
			f.checkWithin(t, f.access("another-token", "another-sign-in"), checkDeadline) // the cache holds one
			return f.Checker
		}, Live, FromCall, 3},
		{"its sign-in found revoked", func(t *testing.T, f *fixture) *Checker {
			f.cognito.answerWith(400, answerRevoked)
			f.checkWithin(t, f.access("refreshed-token", "sign-in"), checkDeadline)
			return f.Checker
		}, Revoked, FromFamily, 2},
		{"another sign-in found revoked", func(t *testing.T, f *fixture) *Checker {
			f.cognito.answerWith(400, answerRevoked)
			f.checkWithin(t, f.access("other-token", "other-sign-in"), checkDeadline)
			return f.Checker
		}, Live, FromCache, 2},
		{"a reload kept the cache", func(t *testing.T, f *fixture) *Checker {
			return f.reloaded(t, nil)
		}, Live, FromCache, 1},
		{"a reload with another cache_ttl", func(t *testing.T, f *fixture) *Checker {
			return f.reloaded(t, func(c *Config) { c.CacheTTL = 2 * ttl })
		}, Live, FromCall, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, 200, answerLive, func(c *Config, o *Options) {
				c.CacheTTL = ttl
				o.MaxCachedTokens = 1
			})
			tok := f.access(secretToken, "sign-in")
			tok.Memo = &Memo{}
			for i, want := range []Source{FromCall, FromCache} {
				if v := f.checkWithin(t, tok, checkDeadline); v.Result != Live || v.From != want {
					t.Fatalf("check %d: %+v, want live from %s", i, v, want)
				}
			}
			if tok.Memo.load() == nil {
				t.Fatal("a check from the cache left the memo empty")
			}
			c := tt.then(t, f)
			if v := c.Check(t.Context(), tok); v.Result != tt.want || v.From != tt.wantFrom {
				t.Errorf("checked again: %+v, want %s from %s", v, tt.want, tt.wantFrom)
			}
			if n := f.cognito.calls.Load(); n != tt.wantCalls {
				t.Errorf("%d calls, want %d", n, tt.wantCalls)
			}
		})
	}
}

// reloaded is a checker replacing f's, its configuration edited by edit (nil: unchanged).
func (f *fixture) reloaded(t *testing.T, edit func(*Config)) *Checker {
	t.Helper()
	cfg := f.cfg
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(cfg, Options{Now: f.clock.Now, Previous: f.Checker, MaxCachedTokens: 1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
