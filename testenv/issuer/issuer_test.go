package issuer_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/cognito-authz/cognito-authz/testenv/issuer"
)

// clockTime is the fixed time of the injected clock.
var clockTime = time.Unix(1_780_000_000, 0)

func fixedClock() time.Time { return clockTime }

// Key generation costs tens of milliseconds; the tests share a few keys.
var (
	keysOnce sync.Once
	keys     []*issuer.Key
	keysErr  error
)

func testKey(t *testing.T, i int) *issuer.Key {
	t.Helper()
	keysOnce.Do(func() {
		for range 3 {
			k, err := issuer.NewKey("")
			if err != nil {
				keysErr = err
				return
			}
			keys = append(keys, k)
		}
	})
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	return keys[i]
}

func newIssuer(t *testing.T) *issuer.Issuer {
	t.Helper()
	return issuer.NewTestServer(t, issuer.Options{
		PoolID:    "local_pool",
		ClientIDs: []string{"demo-client", "other-client"},
		Key:       testKey(t, 0),
		Now:       fixedClock,
	})
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// decoded is a token split into its parts, with object keys kept in order.
type decoded struct {
	headerNames []string
	header      map[string]any
	claimNames  []string
	claims      map[string]any
}

func decode(t *testing.T, token string) decoded {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments, want 3", len(parts))
	}
	var d decoded
	d.headerNames, d.header = decodeSegment(t, parts[0])
	d.claimNames, d.claims = decodeSegment(t, parts[1])
	return d
}

func decodeSegment(t *testing.T, seg string) ([]string, map[string]any) {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("segment is not unpadded base64url: %v", err)
	}
	values := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&values); err != nil {
		t.Fatalf("segment is not a JSON object: %v", err)
	}
	return objectKeys(t, raw), values
}

// objectKeys lists the top-level keys of a JSON object in the order they appear.
func objectKeys(t *testing.T, raw []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // {
		t.Fatal(err)
	}
	var names []string
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, key.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return names
}

func withoutGroups(names []string) []string {
	return slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == "cognito:groups" })
}

func TestMintClaimSets(t *testing.T) {
	is := newIssuer(t)
	if _, err := is.SetGroups("alice", "admin", "editors"); err != nil {
		t.Fatal(err)
	}
	iat := json.Number("1780000000")
	exp := json.Number("1780003600")
	tests := []struct {
		name   string
		spec   issuer.TokenSpec
		claims []string
		want   map[string]any // claims with fixed values
	}{
		{
			name:   "access token of a user in groups",
			spec:   issuer.TokenSpec{Username: "alice"},
			claims: issuer.AccessClaims,
			want: map[string]any{
				"cognito:groups": []any{"admin", "editors"}, "iss": is.IssuerURL(), "version": json.Number("2"),
				"client_id": "demo-client", "token_use": "access", "scope": "aws.cognito.signin.user.admin",
				"auth_time": iat, "iat": iat, "exp": exp, "username": "alice",
			},
		},
		{
			name:   "ID token of a user in groups",
			spec:   issuer.TokenSpec{Use: issuer.ID, Username: "alice"},
			claims: issuer.IDClaims,
			want: map[string]any{
				"cognito:groups": []any{"admin", "editors"}, "email_verified": true, "iss": is.IssuerURL(),
				"cognito:username": "alice", "aud": "demo-client", "token_use": "id",
				"auth_time": iat, "iat": iat, "exp": exp, "email": "alice@example.com",
			},
		},
		{
			name:   "access token of a user in no group has no cognito:groups",
			spec:   issuer.TokenSpec{Username: "bob", ClientID: "other-client", Scopes: []string{"openid", "profile"}},
			claims: withoutGroups(issuer.AccessClaims),
			want: map[string]any{
				"client_id": "other-client", "scope": "openid profile", "username": "bob", "token_use": "access",
			},
		},
		{
			name:   "ID token of a user in no group has no cognito:groups",
			spec:   issuer.TokenSpec{Use: issuer.ID, Username: "carol@corp.example"},
			claims: withoutGroups(issuer.IDClaims),
			want:   map[string]any{"cognito:username": "carol@corp.example", "email": "carol@corp.example"},
		},
		{
			name:   "groups given for one token only",
			spec:   issuer.TokenSpec{Username: "bob", Groups: []string{"viewers"}},
			claims: issuer.AccessClaims,
			want:   map[string]any{"cognito:groups": []any{"viewers"}},
		},
		{
			name:   "empty groups drop the claim",
			spec:   issuer.TokenSpec{Username: "alice", Groups: []string{}},
			claims: withoutGroups(issuer.AccessClaims),
		},
		{
			name:   "issued at and TTL",
			spec:   issuer.TokenSpec{Username: "alice", IssuedAt: clockTime.Add(-2 * time.Hour), TTL: 5 * time.Minute},
			claims: issuer.AccessClaims,
			want:   map[string]any{"iat": json.Number("1779992800"), "auth_time": json.Number("1779992800"), "exp": json.Number("1779993100")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token, err := is.Mint(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			d := decode(t, token)
			if !slices.Equal(d.claimNames, tt.claims) {
				t.Errorf("claims\n got %v\nwant %v", d.claimNames, tt.claims)
			}
			if !slices.Equal(d.headerNames, []string{"kid", "alg"}) || d.header["alg"] != "RS256" || d.header["kid"] != testKey(t, 0).ID {
				t.Errorf("header = %v, want kid %s and alg RS256", d.header, testKey(t, 0).ID)
			}
			for name, want := range tt.want {
				if got := d.claims[name]; !equalJSON(got, want) {
					t.Errorf("%s = %#v, want %#v", name, got, want)
				}
			}
			for _, name := range []string{"sub", "jti", "origin_jti", "event_id"} {
				if s, _ := d.claims[name].(string); !uuidPattern.MatchString(s) {
					t.Errorf("%s = %v, want a version 4 UUID", name, d.claims[name])
				}
			}
			user, err := is.User(tt.spec.Username)
			if err != nil {
				t.Fatal(err)
			}
			if d.claims["sub"] != user.Sub {
				t.Errorf("sub = %v, want the user's %s", d.claims["sub"], user.Sub)
			}
		})
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestMintGivesFreshIDsAndStableSubs(t *testing.T) {
	is := newIssuer(t)
	a := decode(t, is.MustMint(t, issuer.TokenSpec{Username: "alice"}))
	b := decode(t, is.MustMint(t, issuer.TokenSpec{Username: "alice"}))
	for _, name := range []string{"jti", "origin_jti", "event_id"} {
		if a.claims[name] == b.claims[name] {
			t.Errorf("%s repeated across tokens: %v", name, a.claims[name])
		}
	}
	if a.claims["sub"] != b.claims["sub"] {
		t.Errorf("sub changed between tokens of one user: %v, %v", a.claims["sub"], b.claims["sub"])
	}

	// A restarted issuer of the same pool keeps subs; another pool does not share them.
	samePool, err := issuer.New(issuer.Options{BaseURL: "http://elsewhere", PoolID: "local_pool", ClientIDs: []string{"c"}, Key: testKey(t, 1)})
	if err != nil {
		t.Fatal(err)
	}
	otherPool, err := issuer.New(issuer.Options{BaseURL: "http://elsewhere", PoolID: "other_pool", ClientIDs: []string{"c"}, Key: testKey(t, 1)})
	if err != nil {
		t.Fatal(err)
	}
	same, _ := samePool.User("alice")
	other, _ := otherPool.User("alice")
	bob, _ := is.User("bob")
	if same.Sub != a.claims["sub"] {
		t.Errorf("same pool, same user: sub %s, want %v", same.Sub, a.claims["sub"])
	}
	if other.Sub == same.Sub || bob.Sub == same.Sub {
		t.Errorf("subs collide: alice@other_pool %s, bob %s, alice %s", other.Sub, bob.Sub, same.Sub)
	}
}

// fetchKeySet reads the served JWKS with an independent JOSE implementation.
func fetchKeySet(t *testing.T, is *issuer.Issuer) jwk.Set {
	t.Helper()
	set, err := jwk.Fetch(context.Background(), is.JWKSURL())
	if err != nil {
		t.Fatalf("fetch %s: %v", is.JWKSURL(), err)
	}
	return set
}

func verifies(t *testing.T, set jwk.Set, token string) bool {
	t.Helper()
	_, err := jws.Verify([]byte(token), jws.WithKeySet(set))
	return err == nil
}

func TestJWKSShape(t *testing.T) {
	is := newIssuer(t)
	resp, err := http.Get(is.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET jwks: %d %q, want 200 application/json", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != 1 {
		t.Fatalf("%d keys, want 1", len(doc.Keys))
	}
	key := doc.Keys[0]
	want := map[string]any{"alg": "RS256", "e": "AQAB", "kid": testKey(t, 0).ID, "kty": "RSA", "use": "sig"}
	for name, v := range want {
		if key[name] != v {
			t.Errorf("%s = %v, want %v", name, key[name], v)
		}
	}
	if len(key) != 6 {
		t.Errorf("key has fields %v, want exactly alg, e, kid, kty, n, use", key)
	}
	n, err := base64.RawURLEncoding.DecodeString(key["n"].(string))
	if err != nil {
		t.Fatalf("n is not unpadded base64url: %v", err)
	}
	if bits := new(big.Int).SetBytes(n).BitLen(); bits != 2048 {
		t.Errorf("modulus has %d bits, want 2048", bits)
	}
	if !verifies(t, fetchKeySet(t, is), is.MustMint(t, issuer.TokenSpec{Username: "alice"})) {
		t.Error("a minted token does not verify against the served JWKS")
	}
}

func TestMintOverrides(t *testing.T) {
	is := newIssuer(t)
	set := fetchKeySet(t, is)
	other := testKey(t, 2)
	tests := []struct {
		name     string
		spec     issuer.TokenSpec
		verifies bool
		check    func(t *testing.T, d decoded)
	}{
		{
			name:     "expired",
			spec:     issuer.TokenSpec{Username: "alice", IssuedAt: clockTime.Add(-2 * time.Hour)},
			verifies: true,
			check: func(t *testing.T, d decoded) {
				exp, _ := d.claims["exp"].(json.Number).Int64()
				if exp >= clockTime.Unix() {
					t.Errorf("exp %d is not before now %d", exp, clockTime.Unix())
				}
			},
		},
		{
			name: "signed by a key outside the JWKS",
			spec: issuer.TokenSpec{Username: "alice", Key: other},
			check: func(t *testing.T, d decoded) {
				if d.header["kid"] != other.ID {
					t.Errorf("kid = %v, want the other key's %s", d.header["kid"], other.ID)
				}
			},
		},
		{
			name: "other key posing as the JWKS key",
			spec: issuer.TokenSpec{Username: "alice", Key: other, SetHeader: map[string]any{"kid": testKey(t, 0).ID}},
		},
		{
			name:     "claims added, replaced and removed",
			spec:     issuer.TokenSpec{Username: "alice", Set: map[string]any{"token_use": "id", "custom:tenant": "t1", "exp": json.RawMessage("1780003600.5")}, Remove: []string{"client_id", "jti"}},
			verifies: true,
			check: func(t *testing.T, d decoded) {
				want := []string{"sub", "iss", "version", "origin_jti", "event_id", "token_use", "scope", "auth_time", "exp", "iat", "username", "custom:tenant"}
				if !slices.Equal(d.claimNames, want) {
					t.Errorf("claims %v, want %v", d.claimNames, want)
				}
				if d.claims["token_use"] != "id" || d.claims["custom:tenant"] != "t1" || d.claims["exp"] != json.Number("1780003600.5") {
					t.Errorf("overrides not applied: %v", d.claims)
				}
			},
		},
		{
			name: "header alg replaced, kid removed",
			spec: issuer.TokenSpec{Username: "alice", SetHeader: map[string]any{"alg": "HS256", "jku": "http://evil.example/jwks"}, RemoveHeader: []string{"kid"}},
			check: func(t *testing.T, d decoded) {
				if !slices.Equal(d.headerNames, []string{"alg", "jku"}) || d.header["alg"] != "HS256" {
					t.Errorf("header = %v", d.header)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := is.MustMint(t, tt.spec)
			if got := verifies(t, set, token); got != tt.verifies {
				t.Errorf("signature verifies = %v, want %v", got, tt.verifies)
			}
			if tt.check != nil {
				tt.check(t, decode(t, token))
			}
		})
	}
}

func TestMintRejectsBadSpecs(t *testing.T) {
	is := newIssuer(t)
	tests := []struct {
		name string
		spec issuer.TokenSpec
		want string
	}{
		{"no username", issuer.TokenSpec{}, "username is empty"},
		{"unknown token use", issuer.TokenSpec{Username: "a", Use: "refresh"}, `token use "refresh"`},
		{"control character in username", issuer.TokenSpec{Username: "a\nb"}, "control character"},
		{"empty group", issuer.TokenSpec{Username: "a", Groups: []string{""}}, "group is empty"},
		{"scope with a space", issuer.TokenSpec{Username: "a", Scopes: []string{"a b"}}, "contains a space"},
		{"negative TTL", issuer.TokenSpec{Username: "a", TTL: -time.Second}, "negative"},
		{"unmarshalable claim", issuer.TokenSpec{Username: "a", Set: map[string]any{"x": func() {}}}, "claims: x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := is.Mint(tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Mint error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts issuer.Options
		want string
	}{
		{"no client", issuer.Options{BaseURL: "http://x"}, "client id is required"},
		{"relative base URL", issuer.Options{BaseURL: "issuer:8080", ClientIDs: []string{"c"}}, "absolute http(s) URL"},
		{"pool id with a slash", issuer.Options{BaseURL: "http://x", PoolID: "a/b", ClientIDs: []string{"c"}}, "pool id"},
		{"empty client id", issuer.Options{BaseURL: "http://x", ClientIDs: []string{""}}, "client id is empty"},
		{"negative TTL", issuer.Options{BaseURL: "http://x", ClientIDs: []string{"c"}, TTL: -1}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := issuer.New(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	is := newIssuer(t)
	first := is.SigningKey()
	before := is.MustMint(t, issuer.TokenSpec{Username: "alice"})

	second, err := is.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	after := is.MustMint(t, issuer.TokenSpec{Username: "alice"})
	if second.ID == first.ID || is.SigningKey() != second {
		t.Fatalf("Rotate: signing key %s, want a new one (old %s)", is.SigningKey().ID, first.ID)
	}
	if kid := decode(t, after).header["kid"]; kid != second.ID {
		t.Errorf("token after rotation has kid %v, want %s", kid, second.ID)
	}
	set := fetchKeySet(t, is)
	if set.Len() != 2 {
		t.Fatalf("JWKS after rotation has %d keys, want the old and the new", set.Len())
	}
	if !verifies(t, set, before) || !verifies(t, set, after) {
		t.Error("tokens from before and after rotation should both verify")
	}

	if err := is.RemoveKey(first.ID); err != nil {
		t.Fatal(err)
	}
	set = fetchKeySet(t, is)
	if verifies(t, set, before) || !verifies(t, set, after) {
		t.Error("after removing the old key only the new token should verify")
	}

	if err := is.AddKey(second); err == nil {
		t.Error("adding a key id twice succeeded")
	}
	if err := is.UseKey("no-such-kid"); err == nil {
		t.Error("UseKey of an unknown kid succeeded")
	}
	if err := is.RemoveKey("no-such-kid"); err == nil {
		t.Error("RemoveKey of an unknown kid succeeded")
	}
}

func TestJWKSFailureToggle(t *testing.T) {
	is := newIssuer(t)
	get := func() int {
		t.Helper()
		resp, err := http.Get(is.JWKSURL())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	steps := []struct {
		fail int
		want int
	}{
		{0, http.StatusOK},
		{http.StatusServiceUnavailable, http.StatusServiceUnavailable},
		{http.StatusInternalServerError, http.StatusInternalServerError},
		{0, http.StatusOK},
	}
	for i, s := range steps {
		is.FailJWKS(s.fail)
		if got := get(); got != s.want {
			t.Errorf("step %d: FailJWKS(%d): status %d, want %d", i, s.fail, got, s.want)
		}
	}
	if n := is.JWKSRequests(); n != int64(len(steps)) {
		t.Errorf("JWKSRequests = %d, want %d", n, len(steps))
	}
}
