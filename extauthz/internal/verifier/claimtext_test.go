package verifier

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/reason"
)

func TestClaimText(t *testing.T) {
	tests := []struct {
		name, raw, want string
		malformed       bool
	}{
		{name: "string as it is", raw: `"acme"`, want: "acme"},
		{name: "string with spaces and commas as it is", raw: `"Acme, Inc. 100%"`, want: "Acme, Inc. 100%"},
		{name: "escaped string decoded", raw: `"caf\u00e9"`, want: "café"},
		{name: "integer as its JSON text", raw: `42`, want: "42"},
		{name: "fraction and exponent as written", raw: `-1.5e3`, want: "-1.5e3"},
		{name: "true", raw: `true`, want: "true"},
		{name: "false", raw: `false`, want: "false"},
		{name: "null is no value", raw: `null`, want: ""},
		{name: "empty string is no value", raw: `""`, want: ""},
		{name: "empty array is no value", raw: `[]`, want: ""},
		{name: "array of strings comma-joined", raw: `["t1", "t2"]`, want: "t1,t2"},
		{name: "array strings percent-encoded like groups", raw: `["a,b", "50%", "c d"]`, want: "a%2Cb,50%25,c%20d"},
		{name: "mixed array as compact JSON", raw: `[ "a", 1 ]`, want: `["a",1]`},
		{name: "object as compact JSON", raw: `{ "plan" : "gold", "seats": [1, 2] }`, want: `{"plan":"gold","seats":[1,2]}`},
		{name: "object keeps escapes as JSON text", raw: `{"a":"x\ny"}`, want: `{"a":"x\ny"}`},
		{name: "string with a line feed", raw: `"a\nb"`, malformed: true},
		{name: "string with NUL", raw: `"a\u0000b"`, malformed: true},
		{name: "string with DEL", raw: `"a\u007fb"`, malformed: true},
		{name: "string with invalid UTF-8", raw: "\"a\xffb\"", malformed: true},
		{name: "array string with a control character", raw: `["ok", "a\rb"]`, malformed: true},
		{name: "array string with invalid UTF-8", raw: "[\"a\xff\"]", malformed: true},
		{name: "object with invalid UTF-8", raw: "{\"a\":\"\xff\"}", malformed: true},
		{name: "tab allowed", raw: `"a\tb"`, want: "a\tb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, e := ClaimText(json.RawMessage(tt.raw))
			if tt.malformed {
				if e == nil || e.Reason != reason.Malformed {
					t.Fatalf("ClaimText(%s) = %q, %v; want malformed", tt.raw, got, e)
				}
				return
			}
			if e != nil || got != tt.want {
				t.Fatalf("ClaimText(%s) = %q, %v; want %q", tt.raw, got, e, tt.want)
			}
		})
	}
}

// TestVerifyHeaderClaims: the chosen claims come back as text in order, checked before any key
// work like every claim that becomes a header, and bounded by MaxClaimBytes.
func TestVerifyHeaderClaims(t *testing.T) {
	names := []string{"custom:tenant_id", "custom:roles", "custom:plan", "custom:absent"}
	tests := []struct {
		name   string
		claims map[string]any
		max    int
		want   []string
		reason reason.Code
	}{
		{
			name: "string, array and object; a missing claim is empty",
			claims: with(with(with(idClaims(), "custom:tenant_id", "acme"), "custom:roles", []string{"reader", "writer"}),
				"custom:plan", map[string]any{"tier": "gold"}),
			want: []string{"acme", "reader,writer", `{"tier":"gold"}`, ""},
		},
		{
			name:   "a value at the cap passes",
			claims: with(idClaims(), "custom:tenant_id", strings.Repeat("t", 16)),
			max:    16,
			want:   []string{strings.Repeat("t", 16), "", "", ""},
		},
		{
			name:   "a value over the cap is claim_too_large",
			claims: with(idClaims(), "custom:tenant_id", strings.Repeat("t", 17)),
			max:    16,
			reason: reason.ClaimTooLarge,
		},
		{
			name:   "the cap counts the encoded text",
			claims: with(idClaims(), "custom:roles", []string{"a b c d e f"}), // 11 bytes, 26 encoded
			max:    16,
			reason: reason.ClaimTooLarge,
		},
		{
			name:   "a control character is malformed",
			claims: with(idClaims(), "custom:tenant_id", "acme\r\nx-user-sub: victim"),
			reason: reason.Malformed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) { c.HeaderClaims, c.MaxClaimBytes = names, tt.max })
			got, err := f.v.Verify(context.Background(), mint(tt.claims))
			if tt.reason != "" {
				if ReasonOf(err) != tt.reason {
					t.Fatalf("err %v, want reason %s", err, tt.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if !slices.Equal(got.HeaderClaims, tt.want) {
				t.Fatalf("HeaderClaims %q, want %q", got.HeaderClaims, tt.want)
			}
		})
	}
	t.Run("none configured: nothing decoded", func(t *testing.T) {
		f := newFixture(t, nil)
		got, err := f.v.Verify(context.Background(), mint(with(idClaims(), "custom:tenant_id", "acme\n")))
		if err != nil || got.HeaderClaims != nil {
			t.Fatalf("got %v, %v; want accepted, no HeaderClaims", got, err)
		}
	})
}

// BenchmarkVerifyUncachedClaims is BenchmarkVerifyUncached with no chosen claim and with three (a
// string, an array and an object), in one run: the cost of turning them into text, paid once per
// token.
func BenchmarkVerifyUncachedClaims(b *testing.B) {
	for _, bc := range []struct {
		name   string
		claims []string
	}{{"none", nil}, {"three", []string{"custom:tenant_id", "roles", "plan"}}} {
		b.Run(bc.name, func(b *testing.B) {
			f := newFixture(b, func(c *Config) { c.CacheMaxEntries, c.HeaderClaims = 1, bc.claims })
			tokens := make([]string, 64)
			for i := range tokens {
				tokens[i] = mint(with(with(with(with(accessClaims(), "jti", fmt.Sprintf("jti-%d", i)), "custom:tenant_id", "acme"),
					"roles", []string{"billing admin", "reader"}), "plan", map[string]any{"tier": "gold"}))
			}
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := f.v.Verify(ctx, tokens[i%len(tokens)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// TestClaimTextsFindsEachValue: each chosen claim's value is cut out of the payload whole, whatever
// it holds (commas, braces and quotes in strings, nesting), and an escaped name is its decoded one.
func TestClaimTextsFindsEachValue(t *testing.T) {
	payload := []byte(`{"a": {"x": "1,}]\"", "y": [1, {"z": ","}]} , "custom\u003atenant_id":"acme","b":[ "p,q" ],"c":7}`)
	got, e := claimTexts(payload, []string{"a", "custom:tenant_id", "b", "c", "d"}, DefaultMaxClaimBytes)
	want := []string{`{"x":"1,}]\"","y":[1,{"z":","}]}`, "acme", "p%2Cq", "7", ""}
	if e != nil || !slices.Equal(got, want) {
		t.Fatalf("claimTexts = %q, %v; want %q", got, e, want)
	}
}
