package webapp_test

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/cognito-authz/cognito-authz/testenv/issuer"
)

// wrongCode is a code of the same shape that is not code.
func wrongCode(code string) string {
	b := []byte(code)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

// claims reads a token's payload, unverified: only to compare with what the app was told.
func claims(t *testing.T, token string) map[string]any {
	t.Helper()
	c, err := issuer.UnverifiedClaims(token)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// badSignature is token with its signature's first byte changed: well formed, unexpired, and not
// signed by the pool.
func badSignature(token string) string {
	i := strings.LastIndexByte(token, '.') + 1
	sig := []byte(token)
	if sig[i] == 'A' {
		sig[i] = 'B'
	} else {
		sig[i] = 'A'
	}
	return string(sig)
}

// expiredCopy is token with exp set to its iat, signed again with the emulator's own key: a token
// the pool could have issued, expired the moment it was issued, whatever the clock says.
func expiredCopy(t *testing.T, token, keyFile string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var payload map[string]any
	if err := dec.Decode(&payload); err != nil {
		t.Fatal(err)
	}
	payload["exp"] = payload["iat"]
	body, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	signingInput := parts[0] + "." + base64.RawURLEncoding.EncodeToString(body)
	digest := sha256.Sum256([]byte(signingInput))
	sig, err := rsa.SignPKCS1v15(nil, emulatorKey(t, keyFile), crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// emulatorKey reads cognito-local's private key: a JSON object whose "jwk" is the RSA key.
func emulatorKey(t *testing.T, keyFile string) *rsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	var file struct{ JWK json.RawMessage }
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatalf("%s: %v", keyFile, err)
	}
	key, err := jwk.ParseKey(file.JWK)
	if err != nil {
		t.Fatalf("%s: %v", keyFile, err)
	}
	var priv rsa.PrivateKey
	if err := key.Raw(&priv); err != nil {
		t.Fatalf("%s: %v", keyFile, err)
	}
	return &priv
}
