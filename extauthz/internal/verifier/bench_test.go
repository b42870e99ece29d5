package verifier

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
)

// The benchmark names are tracked across changes: keep them.

// BenchmarkVerifyUncached verifies a token the cache has not seen: a pool of distinct tokens
// cycles through a one-entry cache, so every call parses, checks claims and verifies RSA.
func BenchmarkVerifyUncached(b *testing.B) {
	f := newFixture(b, func(c *Config) { c.CacheMaxEntries = 1 })
	tokens := make([]string, 64)
	for i := range tokens {
		tokens[i] = mint(with(accessClaims(), "jti", fmt.Sprintf("jti-%d", i)))
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
	if f.obs.hits.Load() != 0 {
		b.Fatal("uncached benchmark hit the cache")
	}
}

// BenchmarkVerifyCached verifies the same token again: a cache lookup.
func BenchmarkVerifyCached(b *testing.B) {
	f := newFixture(b, nil)
	token := mint(accessClaims())
	ctx := context.Background()
	if _, err := f.v.Verify(ctx, token); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.v.Verify(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRSAVerifyBaseline is the floor under BenchmarkVerifyUncached: hashing the same signing
// input and one bare rsa.VerifyPKCS1v15 with the same 2048-bit key.
func BenchmarkRSAVerifyBaseline(b *testing.B) {
	keys()
	token := mint(accessClaims())
	dot := strings.LastIndexByte(token, '.')
	input := []byte(token[:dot])
	sig, err := b64.DecodeString(token[dot+1:])
	if err != nil {
		b.Fatal(err)
	}
	pub := &testKey.PublicKey
	b.ReportAllocs()
	for b.Loop() {
		digest := sha256.Sum256(input)
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCachedParallel is the cached path under contention from every core.
func BenchmarkVerifyCachedParallel(b *testing.B) {
	f := newFixture(b, nil)
	tokens := make([]string, 256)
	for i := range tokens {
		tokens[i] = mint(with(accessClaims(), "jti", fmt.Sprintf("jti-%d", i)))
		if _, err := f.v.Verify(context.Background(), tokens[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := f.v.Verify(context.Background(), tokens[i%len(tokens)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}
