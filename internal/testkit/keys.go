package testkit

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"sync"
	"testing"
)

// KeyBits is the size of generated keys: what Cognito uses, and the least the verifier accepts.
const KeyBits = 2048

// Key is one RSA signing key and the key id it is published under.
type Key struct {
	ID      string
	Private *rsa.PrivateKey
}

// NewKey generates a KeyBits RSA key published as kid.
func NewKey(kid string) (*Key, error) { return newKey(kid, KeyBits) }

func newKey(kid string, bits int) (*Key, error) {
	priv, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, fmt.Errorf("testkit: generate key: %w", err)
	}
	return &Key{ID: kid, Private: priv}, nil
}

// MustNewKey is NewKey for tests: a fresh key, for a test that must not share one.
func MustNewKey(t testing.TB, kid string) *Key {
	t.Helper()
	k, err := NewKey(kid)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Generating an RSA key is the slow part of most tests, so a test binary makes each shared key once.
var shared struct {
	sync.Mutex
	keys map[string]*Key
}

// SharedKey is the KeyBits key named name (its kid), generated once per test binary.
func SharedKey(name string) *Key { return sharedKey(name, KeyBits) }

// SharedWeakKey is a 1024-bit key named name, generated once per test binary: a key the verifier
// must refuse for its size.
func SharedWeakKey(name string) *Key { return sharedKey(name, 1024) }

func sharedKey(name string, bits int) *Key {
	id := fmt.Sprintf("%s/%d", name, bits)
	shared.Lock()
	defer shared.Unlock()
	if k, ok := shared.keys[id]; ok {
		return k
	}
	k, err := newKey(name, bits)
	if err != nil {
		panic(err) // the system's randomness failed: no test can run
	}
	if shared.keys == nil {
		shared.keys = map[string]*Key{}
	}
	shared.keys[id] = k
	return k
}

// JWK is one public key as a JWKS serves it, fields in Cognito's order.
type JWK struct {
	Alg string `json:"alg"`
	E   string `json:"e"`
	Kid string `json:"kid"`
	Kty string `json:"kty"`
	N   string `json:"n"`
	Use string `json:"use"`
}

// JWKS is a JSON Web Key Set document.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// PublicJWK is k's public half as a JWK.
func (k *Key) PublicJWK() JWK {
	pub := k.Private.PublicKey
	return JWK{
		Alg: "RS256",
		E:   b64(big.NewInt(int64(pub.E)).Bytes()),
		Kid: k.ID,
		Kty: "RSA",
		N:   b64(pub.N.Bytes()),
		Use: "sig",
	}
}

// RSAJWK is pub as a JWK object under kid, a map so that a test can bend any member: kty, kid,
// use "sig", alg "RS256", n and e.
func RSAJWK(kid string, pub *rsa.PublicKey) map[string]any {
	return map[string]any{
		"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes()),
	}
}

// JWKSBody is the JSON document {"keys": [keys...]}; each key may be anything JSON encodes (a
// JWK, a map, raw JSON).
func JWKSBody(keys ...any) []byte {
	if keys == nil {
		keys = []any{}
	}
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		panic(fmt.Sprintf("testkit: JWKS body: %v", err))
	}
	return b
}

// Header is the JOSE header Sign writes: RS256, kid, typ JWT.
func (k *Key) Header() map[string]string {
	return map[string]string{"alg": "RS256", "kid": k.ID, "typ": "JWT"}
}

// Sign returns the compact RS256 JWS of claims under k.Header.
func (k *Key) Sign(t testing.TB, claims any) string {
	t.Helper()
	header, err := json.Marshal(k.Header())
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return k.SignRaw(header, payload)
}

// SignRaw returns the compact JWS of header and payload as given, signed RS256 with k, for JSON
// that json.Marshal would not write (member order, invalid UTF-8, a bent header).
func (k *Key) SignRaw(header, payload []byte) string {
	input := b64(header) + "." + b64(payload)
	sig, err := k.SignInput(input)
	if err != nil {
		panic(fmt.Sprintf("testkit: sign: %v", err)) // only a broken key fails
	}
	return input + "." + b64(sig)
}

// SignInput is the RS256 signature of a JWS signing input (base64url header "." base64url payload).
func (k *Key) SignInput(signingInput string) ([]byte, error) {
	digest := sha256.Sum256([]byte(signingInput))
	return rsa.SignPKCS1v15(rand.Reader, k.Private, crypto.SHA256, digest[:])
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// With returns a copy of m with the given members set, as name, value pairs; a nil value deletes
// the member. It bends a claim set, a header or a JWK for one test case.
func With(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m)+len(kv)/2)
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}
