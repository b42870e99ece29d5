package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// testKey is an RSA signing key published under kid.
type testKey struct {
	kid string
	key *rsa.PrivateKey
}

func newTestKey(t *testing.T, kid string) testKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{kid: kid, key: k}
}

// sign makes a compact RS256 JWS of claims.
func (k testKey) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	enc := base64.RawURLEncoding
	header, err := json.Marshal(map[string]string{"alg": "RS256", "kid": k.kid, "typ": "JWT"})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + enc.EncodeToString(sig)
}

// testIssuer serves one key set on loopback; up=false makes it answer 503.
type testIssuer struct {
	*httptest.Server
	up atomic.Bool
}

func newTestIssuer(t *testing.T, keys ...testKey) *testIssuer {
	t.Helper()
	enc := base64.RawURLEncoding
	set := map[string][]map[string]string{"keys": {}}
	for _, k := range keys {
		set["keys"] = append(set["keys"], map[string]string{
			"kty": "RSA", "use": "sig", "alg": "RS256", "kid": k.kid,
			"n": enc.EncodeToString(k.key.N.Bytes()),
			"e": enc.EncodeToString(big.NewInt(int64(k.key.E)).Bytes()),
		})
	}
	body, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	is := &testIssuer{}
	is.up.Store(true)
	is.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !is.up.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(is.Close)
	return is
}

func (is *testIssuer) issuer() string { return is.URL + "/pool" }

// flags are the issuer flags that describe this issuer to any subcommand.
func (is *testIssuer) flags() []string {
	return []string{"--issuer", is.issuer(), "--jwks-url", is.URL + "/jwks.json", "--client-id", testClientID}
}

const testClientID = "client-1"

// accessClaims are a valid access token's claims, expiring an hour after now.
func accessClaims(issuer string, now time.Time) map[string]any {
	return map[string]any{
		"sub": "user-1", "iss": issuer, "client_id": testClientID, "token_use": "access",
		"scope": "openid profile", "username": "alice", "cognito:groups": []string{"admin"},
		"jti": "jti-1", "iat": now.Unix(), "auth_time": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

func with(claims map[string]any, key string, value any) map[string]any {
	out := make(map[string]any, len(claims)+1)
	for k, v := range claims {
		out[k] = v
	}
	out[key] = value
	return out
}
