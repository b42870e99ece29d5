package jwks

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/cognito-authz/cognito-authz/internal/testkit"
)

func TestParseSetFiltersKeys(t *testing.T) {
	a, b, c, weak := keys(t)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good := rsaJWK(a, "a")

	tests := []struct {
		name     string
		elems    []any
		wantKids []string
		wantWhy  string // substring of the skip reason, when one key is skipped
	}{
		{name: "usable bare RSA key", elems: []any{good}, wantKids: []string{"a"}},
		{name: "use sig and alg RS256", elems: []any{with(good, "use", "sig", "alg", "RS256")}, wantKids: []string{"a"}},
		{name: "jwx-encoded public key", elems: []any{jwxJWK(t, &a.PublicKey, "a")}, wantKids: []string{"a"}},
		{name: "kty EC", elems: []any{jwxJWK(t, &ec.PublicKey, "ec")}, wantWhy: `kty is "EC"`},
		{name: "symmetric key", elems: []any{jwxJWK(t, []byte("0123456789abcdef0123456789abcdef"), "oct")}, wantWhy: "private key material"},
		{name: "use enc", elems: []any{with(good, "use", "enc")}, wantWhy: `use is "enc"`},
		{name: "alg RS384", elems: []any{with(good, "alg", "RS384")}, wantWhy: `alg is "RS384"`},
		{name: "alg none", elems: []any{with(good, "alg", "none")}, wantWhy: `alg is "none"`},
		{name: "1024-bit modulus", elems: []any{rsaJWK(weak, "weak")}, wantWhy: "1024 bits"},
		{name: "missing n", elems: []any{with(good, "n", nil)}, wantWhy: "n is missing"},
		{name: "n not base64url", elems: []any{with(good, "n", "!!not base64!!")}, wantWhy: "invalid JWK"},
		{name: "exponent 1", elems: []any{with(good, "e", b64([]byte{1}))}, wantWhy: "exponent"},
		{name: "exponent even", elems: []any{with(good, "e", b64([]byte{1, 0, 0}))}, wantWhy: "exponent"},
		{name: "exponent past 2^31", elems: []any{with(good, "e", b64([]byte{1, 0, 0, 0, 1}))}, wantWhy: "exponent"},
		{name: "missing kid", elems: []any{with(good, "kid", nil)}, wantWhy: "no kid"},
		{name: "empty kid", elems: []any{with(good, "kid", "")}, wantWhy: "no kid"},
		{name: "numeric kid", elems: []any{with(good, "kid", 7)}, wantWhy: "kid is not a string"},
		{name: "private key", elems: []any{jwxJWK(t, a, "a")}, wantWhy: "private key material"},
		{name: "public key with d member", elems: []any{with(good, "d", "AQAB")}, wantWhy: "private key material"},
		{name: "not an object", elems: []any{"a"}, wantWhy: "not a JSON object"},
		{name: "missing kty", elems: []any{with(good, "kty", nil)}, wantWhy: "invalid JWK"},
		{
			name:     "duplicate kid drops both copies",
			elems:    []any{rsaJWK(a, "dup"), rsaJWK(b, "dup"), rsaJWK(c, "c")},
			wantKids: []string{"c"}, wantWhy: "duplicate kid",
		},
		{
			name:     "kid three times drops all three",
			elems:    []any{rsaJWK(a, "dup"), rsaJWK(b, "dup"), rsaJWK(c, "dup")},
			wantKids: []string{}, wantWhy: "duplicate kid",
		},
		{
			// RFC 7517 4.5 allows one kid on keys of different types; only usable keys can clash.
			name:     "kid shared with an unusable key keeps the usable one",
			elems:    []any{jwxJWK(t, &ec.PublicKey, "a"), good},
			wantKids: []string{"a"}, wantWhy: `kty is "EC"`,
		},
		{
			name:     "bad key beside good ones",
			elems:    []any{rsaJWK(a, "a"), with(rsaJWK(b, "b"), "use", "enc"), rsaJWK(c, "c")},
			wantKids: []string{"a", "c"}, wantWhy: `use is "enc"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, skips, err := parseSet(testkit.JWKSBody(tt.elems...))
			if err != nil {
				t.Fatalf("parseSet: %v", err)
			}
			kids := []string{}
			for kid, k := range got {
				kids = append(kids, kid)
				if k == nil || k.N == nil {
					t.Errorf("kid %q has no key", kid)
				}
			}
			sort.Strings(kids)
			want := tt.wantKids
			if want == nil {
				want = []string{}
			}
			if !reflect.DeepEqual(kids, want) {
				t.Errorf("kids = %v, want %v", kids, want)
			}
			if tt.wantWhy == "" {
				if len(skips) != 0 {
					t.Errorf("skipped %v, want none", skips)
				}
				return
			}
			found := false
			for _, s := range skips {
				found = found || strings.Contains(s.Reason, tt.wantWhy)
			}
			if !found {
				t.Errorf("skips = %v, want one containing %q", skips, tt.wantWhy)
			}
		})
	}
}

func TestParseSetKeepsKeyMaterial(t *testing.T) {
	a, _, _, _ := keys(t)
	got, _, err := parseSet(testkit.JWKSBody(rsaJWK(a, "a")))
	if err != nil {
		t.Fatal(err)
	}
	if k := got["a"]; k == nil || !k.Equal(&a.PublicKey) {
		t.Fatalf("parsed key differs from the generated one")
	}
}

func TestParseSetRejectsNonJWKS(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"not JSON", "<html>503 Service Unavailable</html>"},
		{"empty body", ""},
		{"top-level array", `[{"kty":"RSA"}]`},
		{"no keys member", `{"jwks":[]}`},
		{"keys null", `{"keys":null}`},
		{"keys an object", `{"keys":{"kid":"a"}}`},
		{"truncated", `{"keys":[{"kty":"RSA",`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := parseSet([]byte(tt.body))
			if err == nil {
				t.Fatalf("parseSet(%q) = %d keys, want an error", tt.body, len(got))
			}
		})
	}
}

func TestParseSetEmptyKeysIsNoError(t *testing.T) {
	// An empty set is a valid document; the cache, not the parser, refuses to publish it.
	got, _, err := parseSet([]byte(`{"keys":[]}`))
	if err != nil || len(got) != 0 {
		t.Fatalf("parseSet = %v, %v; want no keys and no error", got, err)
	}
}

func TestValidExponent(t *testing.T) {
	tests := []struct {
		e    []byte
		want bool
	}{
		{[]byte{1, 0, 1}, true},
		{[]byte{0, 0, 1, 0, 1}, true}, // leading zeros are tolerated
		{[]byte{3}, true},
		{[]byte{0x7f, 0xff, 0xff, 0xff}, true},
		{[]byte{0x80, 0, 0, 1}, false},
		{[]byte{1}, false},
		{[]byte{2}, false},
		{[]byte{}, false},
		{[]byte{1, 0, 0, 0, 1}, false},
	}
	for _, tt := range tests {
		if got := validExponent(tt.e); got != tt.want {
			t.Errorf("validExponent(%x) = %v, want %v", tt.e, got, tt.want)
		}
	}
}
