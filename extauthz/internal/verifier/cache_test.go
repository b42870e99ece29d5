package verifier

import (
	"context"
	"math"
	"strings"
	"testing"
	"unsafe"
)

// TestTokenTailTellsTokensApart: an entry's tail matches its own token and no token that ends
// differently, shorter or longer ones included.
func TestTokenTailTellsTokensApart(t *testing.T) {
	long := strings.Repeat("a", 40) + strings.Repeat("b", tailBytes)
	for _, tt := range []struct {
		name, cached, token string
		want                bool
	}{
		{"same long token", long, long, true},
		{"same short token", "abc", "abc", true},
		{"another end", long, long[:len(long)-1] + "c", false},
		{"a short token and a longer one ending alike", "abc", "xabc", false},
		{"a longer token and a short one", "xabc", "abc", false},
		{"empty", "", "a", false},
	} {
		tail := tailOf(tt.cached)
		if got := tail.ends(tt.token); got != tt.want {
			t.Errorf("%s: ends = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestCachedClaimsOwnTheirText: a cached token's claims hold their text in one block of exactly
// its size, so the entry keeps neither the token nor the decoder's copy of the whole payload.
func TestCachedClaimsOwnTheirText(t *testing.T) {
	for _, omitPayload := range []bool{false, true} {
		f := newFixture(t, func(c *Config) { c.OmitPayload = omitPayload })
		claims, err := f.v.Verify(context.Background(), mint(accessClaims()))
		if err != nil {
			t.Fatal(err)
		}
		first, end, total := uintptr(math.MaxUint), uintptr(0), uintptr(0)
		claims.eachText(func(s *string) {
			if *s == "" {
				return
			}
			start := uintptr(unsafe.Pointer(unsafe.StringData(*s)))
			first, end, total = min(first, start), max(end, start+uintptr(len(*s))), total+uintptr(len(*s))
		})
		if total == 0 || end-first != total {
			t.Errorf("OmitPayload %v: the claims' %d bytes of text span %d bytes", omitPayload, total, end-first)
		}
	}
}
