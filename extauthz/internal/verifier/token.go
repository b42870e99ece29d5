package verifier

import (
	"bytes"
	"encoding/base64"
	"encoding/json"

	"errors"
	fastjson "github.com/goccy/go-json"
	"strings"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/reason"
)

// header is the JOSE header fields we act on. jku, x5u, jwk and x5c are deliberately absent: keys
// come only from the configured JWKS, whatever the token names.
type header struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Crit json.RawMessage `json:"crit"`
}

var headerFields = []string{"alg", "kid", "crit"}

// payload is the claims Cognito tokens carry that verification or the identity headers use.
type payload struct {
	Iss             string   `json:"iss"`
	Sub             string   `json:"sub"`
	TokenUse        string   `json:"token_use"`
	ClientID        string   `json:"client_id"`
	Aud             string   `json:"aud"`
	Username        string   `json:"username"`
	CognitoUsername string   `json:"cognito:username"`
	Email           string   `json:"email"`
	Groups          []string `json:"cognito:groups"`
	Scope           string   `json:"scope"`
	Jti             string   `json:"jti"`
	OriginJti       string   `json:"origin_jti"`
	Exp             *float64 `json:"exp"`
	Nbf             *float64 `json:"nbf"`
	Iat             *float64 `json:"iat"`
}

var payloadFields = []string{
	"iss", "sub", "token_use", "client_id", "aud", "username", "cognito:username", "email",
	"cognito:groups", "scope", "jti", "origin_jti", "exp", "nbf", "iat",
}

// parsedToken is a token split and decoded, not yet verified.
type parsedToken struct {
	header         header
	claims         payload
	payloadSegment string
	payloadJSON    []byte // decoded, for claimTexts
	signingInput   string // header.payload, as signed
	signature      []byte
}

var b64 = base64.RawURLEncoding.Strict()

// parse splits a compact JWS and decodes its parts. It accepts only exactly three non-empty
// base64url segments without padding or whitespace and canonical encodings (Strict: no stray
// trailing bits, so one signature has one spelling). The strict raw-URL decoder rejects every
// byte outside the base64url alphabet except CR and LF, which Go's decoders skip: those are
// refused here first.
func parse(token string) (*parsedToken, *Error) {
	first := strings.IndexByte(token, '.')
	if first < 0 {
		return nil, fail(reason.Malformed, "token does not have three segments")
	}
	second := strings.IndexByte(token[first+1:], '.')
	if second < 0 {
		return nil, fail(reason.Malformed, "token does not have three segments")
	}
	second += first + 1
	if strings.IndexByte(token[second+1:], '.') >= 0 {
		return nil, fail(reason.Malformed, "token has more than three segments")
	}
	if strings.ContainsAny(token, "\r\n") {
		return nil, fail(reason.Malformed, "token contains a line break")
	}
	headerSeg, payloadSeg, sigSeg := token[:first], token[first+1:second], token[second+1:]
	if headerSeg == "" || payloadSeg == "" || sigSeg == "" {
		return nil, fail(reason.Malformed, "token has an empty segment")
	}

	t := &parsedToken{payloadSegment: payloadSeg, signingInput: token[:second]}
	headerJSON, err := b64.DecodeString(headerSeg)
	if err != nil {
		return nil, fail(reason.Malformed, "header is not base64url: %v", err)
	}
	if e := decodeObject("header", headerJSON, &t.header, headerFields); e != nil {
		return nil, e
	}
	payloadJSON, err := b64.DecodeString(payloadSeg)
	if err != nil {
		return nil, fail(reason.Malformed, "payload is not base64url: %v", err)
	}
	if e := decodeObject("payload", payloadJSON, &t.claims, payloadFields); e != nil {
		return nil, e
	}
	t.payloadJSON = payloadJSON
	if t.signature, err = b64.DecodeString(sigSeg); err != nil {
		return nil, fail(reason.Malformed, "signature is not base64url: %v", err)
	}
	return t, nil
}

// decodeObject decodes a JSON object into out and rejects what encoding/json would silently
// resolve: duplicate member names, names that differ from a field only in case, and null where a
// field expects a value.
func decodeObject(part string, data []byte, out any, fields []string) *Error {
	data = bytes.TrimLeft(data, " \t\r\n")
	if len(data) == 0 || data[0] != '{' {
		return fail(reason.Malformed, "%s is not a JSON object", part)
	}
	// encoding/json's scanner is the arbiter of what is JSON; goccy/go-json then decodes about
	// five times faster than encoding/json, which matters on the uncached path. Its errors name
	// Go fields, so a failure is decoded again by encoding/json for a message in the token's terms.
	if !json.Valid(data) {
		return fail(reason.Malformed, "%s is not valid JSON", part)
	}
	if err := fastjson.Unmarshal(data, out); err != nil {
		var typeErr *json.UnmarshalTypeError
		if err := json.Unmarshal(data, out); errors.As(err, &typeErr) && typeErr.Field != "" {
			return fail(reason.Malformed, "%s member %q must be %s, not %s", part, typeErr.Field, describeType(typeErr.Type.String()), typeErr.Value)
		}
		return fail(reason.Malformed, "%s does not decode into the expected member types", part)
	}
	var buf [24]objectMember
	members := scanObjectMembers(data, buf[:])
	var names []string
	for _, m := range members {
		if bytes.IndexByte(m.name, '\\') >= 0 {
			// Escaped names are rare (Cognito writes none): compare decoded forms so that
			// "\u0065xp" cannot stand in for "exp".
			names = make([]string, len(members))
			for i, m := range members {
				name, err := memberName(m.name)
				if err != nil {
					return fail(reason.Malformed, "%s has an invalid member name", part)
				}
				names[i] = name
			}
			break
		}
	}
	nameOf := func(i int) []byte {
		if names != nil {
			return []byte(names[i])
		}
		return members[i].name
	}
	for i, m := range members {
		name := nameOf(i)
		for _, f := range fields {
			if !asciiEqualFold(name, f) {
				continue
			}
			if string(name) != f {
				return fail(reason.Malformed, "%s member %q differs from %q only in case", part, truncate(string(name)), f)
			}
			if m.valueStart == 'n' {
				return fail(reason.Malformed, "%s member %q is null", part, f)
			}
		}
		for j := range i {
			if other := nameOf(j); len(other) == len(name) && bytes.EqualFold(other, name) {
				return fail(reason.Malformed, "%s has member %q more than once", part, truncate(string(name)))
			}
		}
	}
	return nil
}

// asciiEqualFold reports whether b and s are equal ignoring ASCII case, without allocating.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z' {
			return false
		}
	}
	return true
}

func describeType(goType string) string {
	switch goType {
	case "string":
		return "a string"
	case "[]string":
		return "an array of strings"
	case "float64", "*float64":
		return "a number"
	case "json.RawMessage":
		return "a JSON value"
	}
	return goType
}

// truncate bounds attacker-chosen text before it goes into a message.
func truncate(s string) string {
	const limit = 64
	if len(s) > limit {
		return s[:limit] + "…"
	}
	return s
}
