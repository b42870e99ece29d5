package revocation

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// benchTokens are distinct tokens of the length of a Cognito access token with a few groups
// (about 1 KB), so that parallel checks spread over the cache's shards as real traffic does.
func benchTokens(n int) []Token {
	toks := make([]Token, n)
	for i := range toks {
		raw := strings.Repeat("x", 1100) + fmt.Sprintf("-%06d", i)
		toks[i] = Token{Raw: raw, Use: UseAccess, OriginJTI: fmt.Sprint("sign-in-", i), ExpiresAt: time.Now().Add(time.Hour), HasUser: true}
	}
	return toks
}

// BenchmarkCheck: the warm path (tokens answered live, checked again within the TTL) against the
// cheapest check there is (ID tokens: a family lookup, no key, no cache), in the same run, with
// no observer (the caller's metrics are its own cost).
func BenchmarkCheck(b *testing.B) {
	cognito := newCognito(b, 200, answerLive)
	c, err := New(Config{Mode: ModeOnline, Endpoint: cognito.URL + "/", MaxRPS: 10000}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	warm := benchTokens(1024)
	ids := make([]Token, len(warm))
	for i, tok := range warm {
		if v := c.Check(ctx, tok); v.Result != Live {
			b.Fatalf("warming: %+v", v)
		}
		ids[i] = tok
		ids[i].Use = UseID
	}
	for _, bb := range []struct {
		name string
		toks []Token
		want Result
	}{
		{"warm cache", warm, Live},
		{"ID token, baseline", ids, NotCheckable},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if v := c.Check(ctx, bb.toks[i%len(bb.toks)]); v.Result != bb.want {
					b.Fatalf("%+v", v)
				}
				i++
			}
		})
		b.Run(bb.name+", parallel", func(b *testing.B) {
			b.ReportAllocs()
			var next atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(1)) * 97
				for pb.Next() {
					if v := c.Check(ctx, bb.toks[i%len(bb.toks)]); v.Result != bb.want {
						b.Errorf("%+v", v)
						return
					}
					i++
				}
			})
		})
	}
	if n := cognito.calls.Load(); n != int64(len(warm)) {
		b.Fatalf("%d calls, want the %d warming calls", n, len(warm))
	}
}
