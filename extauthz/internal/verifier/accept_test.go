package verifier

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/reason"
)

func TestVerifyAccepts(t *testing.T) {
	now := testNow.Unix()
	tests := []struct {
		name   string
		edit   func(*Config)
		claims map[string]any
		want   Claims
	}{
		{
			name:   "access token",
			claims: accessClaims(),
			want: Claims{Issuer: testIssuer, Subject: "5f1d7a2c-0e4b-4c39-9a8e-111111111111", Username: "alice",
				Groups: []string{"admin", "users"}, Scopes: []string{"aws.cognito.signin.user.admin", "openid"},
				ClientID: testClientID, TokenUse: TokenUseAccess, JTI: "9e2b1f6d-aaaa-bbbb-cccc-444444444444"},
		},
		{
			name:   "access token under the issuer-cognito-idp form",
			claims: with(accessClaims(), "iss", "https://issuer-cognito-idp.us-east-1.amazonaws.com/us-east-1_TestPool1"),
			want: Claims{Issuer: "https://issuer-cognito-idp.us-east-1.amazonaws.com/us-east-1_TestPool1", Username: "alice",
				ClientID: testClientID, TokenUse: TokenUseAccess},
		},
		{
			name:   "ID token",
			claims: idClaims(),
			want: Claims{Issuer: idIssuer, Username: "alice", Email: "alice@example.com", Groups: []string{"users"},
				ClientID: testClientID, TokenUse: TokenUseID},
		},
		{
			name:   "no groups, no scope",
			claims: with(with(accessClaims(), "cognito:groups", nil), "scope", nil),
			want:   Claims{Issuer: testIssuer, Username: "alice", ClientID: testClientID, TokenUse: TokenUseAccess},
		},
		{
			name:   "ID token at a pool taking any",
			edit:   func(c *Config) { c.Issuers[0].TokenUse = TokenUseAny },
			claims: with(idClaims(), "iss", testIssuer),
			want:   Claims{Issuer: testIssuer, Username: "alice", Email: "alice@example.com", ClientID: testClientID, TokenUse: TokenUseID},
		},
		{
			name:   "second of several client ids",
			edit:   func(c *Config) { c.Issuers[0].ClientIDs = []string{"first", testClientID} },
			claims: accessClaims(),
			want:   Claims{Issuer: testIssuer, Username: "alice", ClientID: testClientID, TokenUse: TokenUseAccess},
		},
		{
			name:   "exp in a second",
			claims: with(accessClaims(), "exp", now+1),
			want:   Claims{Issuer: testIssuer, Username: "alice", ClientID: testClientID, TokenUse: TokenUseAccess},
		},
		{
			name:   "exp half a second ahead",
			claims: with(accessClaims(), "exp", float64(now)+0.5),
			want:   Claims{Issuer: testIssuer, Username: "alice", ClientID: testClientID, TokenUse: TokenUseAccess},
		},
		{
			name:   "exp 59 s ago within a minute of skew",
			edit:   func(c *Config) { c.ClockSkew = time.Minute },
			claims: with(accessClaims(), "exp", now-59),
			want:   Claims{Issuer: testIssuer, Username: "alice", ClientID: testClientID, TokenUse: TokenUseAccess},
		},
		{
			name:   "nbf and iat a minute ahead within a minute of skew",
			edit:   func(c *Config) { c.ClockSkew = time.Minute },
			claims: with(with(accessClaims(), "nbf", now+60), "iat", now+60),
			want:   Claims{Issuer: testIssuer, Username: "alice", ClientID: testClientID, TokenUse: TokenUseAccess},
		},
		{
			name:   "nbf now",
			claims: with(accessClaims(), "nbf", now),
			want:   Claims{Issuer: testIssuer, Username: "alice", ClientID: testClientID, TokenUse: TokenUseAccess},
		},
		{
			name:   "exp far beyond any real date",
			claims: with(accessClaims(), "exp", 1e300),
			want:   Claims{Issuer: testIssuer, Username: "alice", ClientID: testClientID, TokenUse: TokenUseAccess},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.edit)
			token := mint(tt.claims)
			got, err := f.v.Verify(context.Background(), token)
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			w := tt.want
			if got.Issuer != w.Issuer || got.Username != w.Username || got.Email != w.Email ||
				got.ClientID != w.ClientID || got.TokenUse != w.TokenUse {
				t.Fatalf("claims iss %q user %q email %q client %q use %q; want %q %q %q %q %q", got.Issuer, got.Username,
					got.Email, got.ClientID, got.TokenUse, w.Issuer, w.Username, w.Email, w.ClientID, w.TokenUse)
			}
			if w.Subject != "" && got.Subject != w.Subject {
				t.Fatalf("sub %q, want %q", got.Subject, w.Subject)
			}
			if w.Groups != nil && !slices.Equal(got.Groups, w.Groups) || w.Scopes != nil && !slices.Equal(got.Scopes, w.Scopes) {
				t.Fatalf("groups %q scopes %q, want %q %q", got.Groups, got.Scopes, w.Groups, w.Scopes)
			}
			if w.JTI != "" && got.JTI != w.JTI {
				t.Fatalf("jti %q, want %q", got.JTI, w.JTI)
			}
			if got.PayloadSegment != strings.Split(token, ".")[1] {
				t.Fatal("PayloadSegment is not the token's payload segment")
			}
			m, err := got.Map()
			if err != nil || m["sub"] != got.Subject {
				t.Fatalf("Map: %v %v", m, err)
			}
		})
	}
}

func TestVerifyCache(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	token := mint(accessClaims())

	first, err := f.v.Verify(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	second, err := f.v.Verify(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if first != second || f.obs.hits.Load() != 1 || f.obs.misses.Load() != 1 {
		t.Fatalf("repeated token: same claims %v, hits %d misses %d; want a hit", first == second, f.obs.hits.Load(), f.obs.misses.Load())
	}

	t.Run("the slot lives with the entry", func(t *testing.T) {
		_, slot, _ := f.v.VerifySlot(ctx, token)
		answer := "answer"
		slot.Store(&answer)
		_, again, _ := f.v.VerifySlot(ctx, token)
		if got := again.Load(); got == nil || *got != "answer" {
			t.Fatalf("slot of a repeated token: %v, want the stored answer", got)
		}
		if again.RevocationMemo() == nil || again.RevocationMemo() != slot.RevocationMemo() {
			t.Fatal("a repeated token has another revocation memo, or none")
		}
		if first.PayloadSegment != strings.Split(token, ".")[1] {
			t.Fatal("the cached PayloadSegment is not the token's payload segment")
		}
	})

	t.Run("an entry never outlives exp", func(t *testing.T) {
		f.clock.Add(55 * time.Minute) // exp is testNow+55m
		_, err := f.v.Verify(ctx, token)
		if ReasonOf(err) != reason.Expired {
			t.Fatalf("after exp: %v, want expired", err)
		}
		f.clock.Add(-55 * time.Minute)
	})

	t.Run("a key-set change drops entries", func(t *testing.T) {
		if _, err := f.v.Verify(ctx, token); err != nil {
			t.Fatal(err)
		}
		hits := f.obs.hits.Load()
		// Rotate: the new set no longer holds the key that signed token.
		f.jwks.setKeys(jwk("kid-2", &rotatedKey.PublicKey, nil))
		f.clock.Add(2 * time.Minute)
		rotated := signRaw(`{"kid":"kid-2","alg":"RS256"}`, mustJSON(accessClaims()), rotatedKey)
		if _, err := f.v.Verify(ctx, rotated); err != nil {
			t.Fatalf("token under the new key: %v", err)
		}
		if _, err := f.v.Verify(ctx, token); ReasonOf(err) != reason.UnknownKid {
			t.Fatalf("cached token of a removed key: %v, want unknown_kid", err)
		}
		if f.obs.hits.Load() != hits {
			t.Fatal("a token verified under the old key set was served from the cache")
		}
		if _, again, _ := f.v.VerifySlot(ctx, rotated); again.Load() != nil {
			t.Fatal("a slot value appeared on a newly verified token")
		}
	})

	t.Run("disabled", func(t *testing.T) {
		f := newFixture(t, func(c *Config) { c.CacheMaxEntries = 0 })
		a, _ := f.v.Verify(ctx, token)
		b, _ := f.v.Verify(ctx, token)
		if a == nil || a == b || f.obs.hits.Load() != 0 {
			t.Fatal("cache_max_entries 0 still caches")
		}
		_, slot, _ := f.v.VerifySlot(ctx, token)
		if slot != nil {
			t.Fatal("uncached claims have a slot")
		}
		if slot.RevocationMemo() != nil {
			t.Fatal("uncached claims have a revocation memo")
		}
		answer := "answer"
		slot.Store(&answer) // a nil Slot keeps nothing, and does not panic
		if slot.Load() != nil {
			t.Fatal("a nil slot kept a value")
		}
	})

	t.Run("without the payload", func(t *testing.T) {
		f := newFixture(t, func(c *Config) { c.OmitPayload = true })
		c, err := f.v.Verify(ctx, token)
		if err != nil || c.PayloadSegment != "" || c.Subject == "" {
			t.Fatalf("OmitPayload: %v, payload segment %q, sub %q; want the claims without the payload", err, c.PayloadSegment, c.Subject)
		}
	})

	t.Run("bounded", func(t *testing.T) {
		f := newFixture(t, func(c *Config) { c.CacheMaxEntries = 2 })
		tokens := []string{mint(with(accessClaims(), "jti", "a")), mint(with(accessClaims(), "jti", "b")), mint(with(accessClaims(), "jti", "c"))}
		for _, tok := range tokens {
			if _, err := f.v.Verify(ctx, tok); err != nil {
				t.Fatal(err)
			}
		}
		for _, tok := range tokens {
			_, _ = f.v.Verify(ctx, tok)
		}
		if h := f.obs.hits.Load(); h > 2 {
			t.Fatalf("%d hits from a cache of 2 entries cycled by 3 tokens", h)
		}
	})
}

func TestUnknownIssuerCostsNoFetch(t *testing.T) {
	f := newFixture(t, nil)
	before := f.jwks.Hits.Load()
	for i := range 100 {
		token := signRaw(fmt.Sprintf(`{"kid":"k%d","alg":"RS256"}`, i), mustJSON(with(accessClaims(), "iss", fmt.Sprintf("https://evil.example/%d", i))), attackerKey)
		if _, err := f.v.Verify(context.Background(), token); ReasonOf(err) != reason.WrongIssuer {
			t.Fatalf("got %v, want wrong_issuer", err)
		}
	}
	if f.jwks.Hits.Load() != before {
		t.Fatal("tokens of an unknown issuer caused key fetches")
	}
}

func TestKidFloodIsOneFetchPerInterval(t *testing.T) {
	f := newFixture(t, nil)
	f.clock.Add(time.Minute) // MinRefetchInterval has passed since LoadMissing
	before := f.jwks.Hits.Load()
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			token := signRaw(fmt.Sprintf(`{"kid":"random-%d","alg":"RS256"}`, i), mustJSON(accessClaims()), attackerKey)
			if _, err := f.v.Verify(context.Background(), token); ReasonOf(err) != reason.UnknownKid {
				t.Errorf("got %v, want unknown_kid", err)
			}
		})
	}
	wg.Wait()
	if n := f.jwks.Hits.Load() - before; n != 1 {
		t.Fatalf("200 random kids caused %d fetches, want 1", n)
	}
	// And a genuine token still verifies afterwards.
	if _, err := f.v.Verify(context.Background(), mint(accessClaims())); err != nil {
		t.Fatal(err)
	}
}

func TestJWKSDownKeepsKnownKeys(t *testing.T) {
	f := newFixture(t, nil)
	f.jwks.Close()               // endpoint gone after start
	f.clock.Add(2 * time.Minute) // past MinRefetchInterval: an unknown kid may try a fetch
	if _, err := f.v.Verify(context.Background(), mint(accessClaims())); err != nil {
		t.Fatalf("known key with the endpoint down: %v", err)
	}
	token := signRaw(`{"kid":"new-kid","alg":"RS256"}`, mustJSON(accessClaims()), rotatedKey)
	if _, err := f.v.Verify(context.Background(), token); ReasonOf(err) != reason.JWKSUnavailable {
		t.Fatalf("unknown kid with the endpoint down: %v, want jwks_unavailable", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	good := IssuerConfig{UserPoolID: testPoolID, ClientIDs: []string{"c"}}
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"no issuers", Config{}, "issuers: at least one"},
		{"pool id and issuer", Config{Issuers: []IssuerConfig{{UserPoolID: testPoolID, Issuer: idIssuer, ClientIDs: []string{"c"}}}}, "issuers[0]: user_pool_id and issuer are mutually exclusive"},
		{"neither", Config{Issuers: []IssuerConfig{{ClientIDs: []string{"c"}}}}, "user_pool_id or issuer is required"},
		{"bad pool id", Config{Issuers: []IssuerConfig{{UserPoolID: "pool", ClientIDs: []string{"c"}}}}, `issuers[0].user_pool_id: "pool" is not a user pool id`},
		{"region mismatch", Config{Issuers: []IssuerConfig{{UserPoolID: testPoolID, Region: "eu-west-1", ClientIDs: []string{"c"}}}}, "region"},
		{"issuer not a URL", Config{Issuers: []IssuerConfig{{Issuer: "cognito", ClientIDs: []string{"c"}}}}, `issuers[0].issuer: "cognito" is not an http(s) URL`},
		{"bad jwks url", Config{Issuers: []IssuerConfig{{UserPoolID: testPoolID, JWKSURL: "file:///etc/passwd", ClientIDs: []string{"c"}}}}, "jwks_url"},
		{"no client ids", Config{Issuers: []IssuerConfig{{UserPoolID: testPoolID}}}, "client_ids"},
		{"empty client id", Config{Issuers: []IssuerConfig{{UserPoolID: testPoolID, ClientIDs: []string{""}}}}, `issuers[0].client_ids[0]: "" is not a client id`},
		{"bad token use", Config{Issuers: []IssuerConfig{{UserPoolID: testPoolID, ClientIDs: []string{"c"}, TokenUse: "refresh"}}}, "token_use"},
		{"same pool twice", Config{Issuers: []IssuerConfig{good, good}}, "configured twice"},
		{"negative skew", Config{Issuers: []IssuerConfig{good}, ClockSkew: -time.Second}, "clock_skew"},
		{"negative max_token_bytes", Config{Issuers: []IssuerConfig{good}, MaxTokenBytes: -1}, "max_token_bytes: must be positive, got -1"},
		{"negative fetch timeout", Config{Issuers: []IssuerConfig{good}, FetchTimeout: -time.Second}, "jwks.fetch_timeout: must be positive, got -1s"},
		{"client id with a comma", Config{Issuers: []IssuerConfig{{UserPoolID: testPoolID, ClientIDs: []string{"a,b"}}}}, `issuers[0].client_ids[0]: "a,b" is not a client id`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New[string](tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New: %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestRegionOf(t *testing.T) {
	tests := map[string]string{
		"us-east-1_AbCdEf123":  "us-east-1",
		"us-gov-west-1_Xyz":    "us-gov-west-1",
		"ap-southeast-2_a1B2":  "ap-southeast-2",
		"AbCdEf123":            "",
		"us-east-1_":           "",
		"us-east-1_bad-chars!": "",
		"":                     "",
	}
	for id, want := range tests {
		if got := RegionOf(id); got != want {
			t.Errorf("RegionOf(%q) = %q, want %q", id, got, want)
		}
	}
}
