package issuer

import (
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"

	"github.com/cognito-authz/cognito-authz/internal/testkit"
)

// KeyBits is the size of generated keys: what Cognito uses, and the least the verifier accepts.
const KeyBits = testkit.KeyBits

// Key is one RSA signing key and its key id; JWK and JWKS are what the endpoint serves. They are
// testkit's, the one home of test keys and their signing.
type (
	Key  = testkit.Key
	JWK  = testkit.JWK
	JWKS = testkit.JWKS
)

// NewKey generates an RSA-2048 key. An empty kid is derived from the public key (see KeyID).
func NewKey(kid string) (*Key, error) {
	k, err := testkit.NewKey(kid)
	if err != nil {
		return nil, err
	}
	return WrapKey(kid, k.Private)
}

// WrapKey makes a Key of an existing private key. An empty kid is derived from the public key.
func WrapKey(kid string, priv *rsa.PrivateKey) (*Key, error) {
	if priv == nil {
		return nil, errors.New("issuer: key is nil")
	}
	if kid == "" {
		kid = KeyID(&priv.PublicKey)
	}
	return &Key{ID: kid, Private: priv}, nil
}

// KeyID derives a stable key id from a public key, shaped like Cognito's (standard base64 of 32
// bytes): the SHA-256 of the modulus.
func KeyID(pub *rsa.PublicKey) string {
	sum := sha256.Sum256(pub.N.Bytes())
	return base64.StdEncoding.EncodeToString(sum[:])
}
