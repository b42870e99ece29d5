package verifier

import (
	"context"
	"strings"
	"testing"
)

// FuzzVerify feeds arbitrary strings to the whole verifier. Nothing may panic, every rejection
// carries a reason, and the only token that may verify is the genuine one: no mutation of it,
// however clever, verifies.
func FuzzVerify(f *testing.F) {
	keys()
	genuine := mint(accessClaims())
	parts := strings.Split(genuine, ".")
	for _, seed := range []string{
		genuine,
		mint(idClaims()),
		parts[0] + "." + parts[1] + ".",
		parts[0] + "." + parts[1],
		genuine + "." + parts[2],
		withHeader(`{"alg":"none","kid":"kid-1"}`, accessClaims()),
		withHeader(`{"alg":"RS256","kid":"kid-1","crit":["x"]}`, accessClaims()),
		signRaw(stdHeader, `{"exp":1,"exp":2}`, testKey),
		signRaw(stdHeader, `{"sub":{"a":[1,{"b":"\u0022"}]},"iss":"`+testIssuer+`"}`, testKey),
		"",
		"...",
		"e30.e30.e30",
	} {
		f.Add(seed)
	}
	fx := newFixture(f, func(c *Config) { c.CacheMaxEntries = 0 })
	f.Fuzz(func(t *testing.T, token string) {
		claims, err := fx.v.Verify(context.Background(), token)
		if err == nil {
			if token != genuine && token != mint(idClaims()) {
				t.Fatalf("a token other than the genuine ones verified: sub %q", claims.Subject)
			}
			return
		}
		var verr *Error
		if e, ok := err.(*Error); ok {
			verr = e
		}
		if verr == nil || verr.Reason == "" || verr.Message == "" {
			t.Fatalf("rejection without a reason: %v", err)
		}
	})
}

// FuzzScanObjectMembers checks the duplicate-name scanner against encoding/json's view of valid
// objects: it must never panic, and it must find every member name encoding/json sees.
func FuzzScanObjectMembers(f *testing.F) {
	for _, seed := range []string{`{}`, `{"a":1}`, `{"a":{"b":[1,"}"]},"c":"\\\""}`, `{"a":1,"a":2}`, `{"\u0061":1}`, ` { "x" : [ { } ] } `} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var p payload
		if decodeObject("payload", data, &p, payloadFields) != nil {
			return
		}
		// Accepted: so no two names may be equal ignoring case after decoding.
		members := scanObjectMembers(data, nil)
		seen := map[string]bool{}
		for _, m := range members {
			name, err := memberName(m.name)
			if err != nil {
				t.Fatalf("accepted object with an undecodable name %q", m.name)
			}
			key := strings.ToLower(name)
			if seen[key] {
				t.Fatalf("accepted object with duplicate name %q: %s", name, data)
			}
			seen[key] = true
		}
	})
}
