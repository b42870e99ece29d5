package jwks

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// minModulusBits is the smallest RSA modulus accepted (docs/reference.md#verification).
const minModulusBits = 2048

// skipped is one JWK that was left out of the key set, with why. Kid may be empty (no usable kid).
type skipped struct {
	Kid    string
	Reason string
}

// parseSet turns a JWKS document into its usable keys. Each element of "keys" is judged on its own,
// so one bad key does not cost the good ones. A document that is not a JWKS at all is an error; a
// JWKS with no usable key returns an empty map, which the caller treats as a failed fetch.
func parseSet(body []byte) (map[string]*rsa.PublicKey, []skipped, error) {
	var doc struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, nil, fmt.Errorf("not a JWKS document: %w", err)
	}
	if doc.Keys == nil {
		return nil, nil, errors.New(`not a JWKS document: no "keys" array`)
	}

	var skips []skipped
	keys := make(map[string]*rsa.PublicKey, len(*doc.Keys))
	duplicates := map[string]bool{}
	for _, raw := range *doc.Keys {
		kid, key, why := parseKey(raw)
		if why != "" {
			skips = append(skips, skipped{Kid: kid, Reason: why})
			continue
		}
		if _, seen := keys[kid]; seen || duplicates[kid] {
			// Two usable keys under one kid: a token naming it is ambiguous, so neither is trusted.
			duplicates[kid] = true
			delete(keys, kid)
			skips = append(skips, skipped{Kid: kid, Reason: "duplicate kid"})
			continue
		}
		keys[kid] = key
	}
	return keys, skips, nil
}

// parseKey returns the usable RSA verification key in one JWK, or the reason it is not one. The kid
// is returned whenever the element has a string kid, for logs.
func parseKey(raw json.RawMessage) (kid string, key *rsa.PublicKey, why string) {
	// Look at the members before jwx does: private members mean someone published a secret, and
	// a kid of the wrong type should be named as such rather than as a parse error.
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return "", nil, "not a JSON object"
	}
	if k, ok := members["kid"]; ok {
		if err := json.Unmarshal(k, &kid); err != nil {
			return "", nil, "kid is not a string"
		}
	}
	for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
		if _, ok := members[private]; ok {
			return kid, nil, "holds private key material"
		}
	}
	if kid == "" {
		return "", nil, "no kid"
	}

	parsed, err := jwk.ParseKey(raw)
	if err != nil {
		// jwx's message names the member it choked on, not its value.
		return kid, nil, "invalid JWK: " + err.Error()
	}
	if kty := parsed.KeyType().String(); kty != "RSA" {
		return kid, nil, fmt.Sprintf("kty is %q, not RSA", kty)
	}
	if use := parsed.KeyUsage(); use != "" && use != "sig" {
		return kid, nil, fmt.Sprintf("use is %q, not sig", use)
	}
	if alg := parsed.Algorithm().String(); alg != "" && alg != "RS256" {
		return kid, nil, fmt.Sprintf("alg is %q, not RS256", alg)
	}
	pub, ok := parsed.(jwk.RSAPublicKey)
	if !ok {
		return kid, nil, "not an RSA public key"
	}
	// jwx converts e through int64 without a range check, so judge the encoded bytes first.
	if !validExponent(pub.E()) {
		return kid, nil, "exponent out of range"
	}
	var rk rsa.PublicKey
	if err := pub.Raw(&rk); err != nil {
		return kid, nil, "invalid RSA key: " + err.Error()
	}
	if bits := rk.N.BitLen(); bits < minModulusBits {
		return kid, nil, fmt.Sprintf("modulus is %d bits, under %d", bits, minModulusBits)
	}
	return kid, &rk, ""
}

// validExponent accepts an odd public exponent from 3 to 2^31-1, the range crypto/rsa verifies with.
func validExponent(e []byte) bool {
	for len(e) > 0 && e[0] == 0 {
		e = e[1:]
	}
	if len(e) == 0 || len(e) > 4 {
		return false
	}
	var v uint64
	for _, b := range e {
		v = v<<8 | uint64(b)
	}
	return v >= 3 && v <= 1<<31-1 && v%2 == 1
}

// sameKeys reports whether a and b hold the same kids with the same modulus and exponent.
func sameKeys(a, b map[string]*rsa.PublicKey) bool {
	if len(a) != len(b) {
		return false
	}
	for kid, ka := range a {
		kb, ok := b[kid]
		if !ok || ka.E != kb.E || ka.N.Cmp(kb.N) != 0 {
			return false
		}
	}
	return true
}
