package verifier

import (
	"strings"
	"testing"
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
