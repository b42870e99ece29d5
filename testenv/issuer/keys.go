package issuer

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
)

// KeyBits is the size of generated keys: what Cognito uses, and the least the verifier accepts.
const KeyBits = 2048

// Key is one RSA signing key and its key id.
type Key struct {
	ID      string
	Private *rsa.PrivateKey
}

// NewKey generates an RSA-2048 key. An empty kid is derived from the public key (see KeyID).
func NewKey(kid string) (*Key, error) {
	priv, err := rsa.GenerateKey(rand.Reader, KeyBits)
	if err != nil {
		return nil, fmt.Errorf("issuer: generate key: %w", err)
	}
	return WrapKey(kid, priv)
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
		E:   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		Kid: k.ID,
		Kty: "RSA",
		N:   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		Use: "sig",
	}
}

// sign returns the RS256 signature of signingInput.
func (k *Key) sign(signingInput string) ([]byte, error) {
	digest := sha256.Sum256([]byte(signingInput))
	return rsa.SignPKCS1v15(rand.Reader, k.Private, crypto.SHA256, digest[:])
}
