package verifier

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/reason"
)

const stdHeader = `{"kid":"kid-1","alg":"RS256"}`

func withHeader(headerJSON string, claims map[string]any) string {
	keys()
	return signRaw(headerJSON, mustJSON(claims), testKey)
}

// replaceSegment swaps segment i of a token for raw text.
func replaceSegment(token string, i int, segment string) string {
	parts := strings.Split(token, ".")
	parts[i] = segment
	return strings.Join(parts, ".")
}

func hs256(headerJSON, payloadJSON string, secret []byte) string {
	input := b64u([]byte(headerJSON)) + "." + b64u([]byte(payloadJSON))
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(input))
	return input + "." + b64u(mac.Sum(nil))
}

func TestVerifyRejects(t *testing.T) {
	keys()
	valid := mint(accessClaims())
	payloadJSON := mustJSON(accessClaims())
	pubDER, _ := x509.MarshalPKIXPublicKey(&testKey.PublicKey)
	now := testNow.Unix()

	// A server standing in for an attacker's key URL: it must never be asked for anything.
	var attackerHits atomic.Int64
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attackerHits.Add(1)
		fmt.Fprint(w, mustJSON(map[string]any{"keys": []any{jwk("evil", &attackerKey.PublicKey, nil)}}))
	}))
	defer attacker.Close()
	evilJWK := mustJSON(jwk(testKid, &attackerKey.PublicKey, nil))

	tests := []struct {
		name  string
		token string
		want  reason.Code
		skew  time.Duration
	}{
		// Shape.
		{"empty", "", reason.Missing, 0},
		{"over max_token_bytes", valid + strings.Repeat("A", DefaultMaxTokenBytes), reason.TooLarge, 0},
		{"one segment", "abc", reason.Malformed, 0},
		{"two segments", strings.Join(strings.Split(valid, ".")[:2], "."), reason.Malformed, 0},
		{"four segments", valid + ".AAAA", reason.Malformed, 0},
		{"five segments (JWE shape)", valid + ".AAAA.BBBB", reason.Malformed, 0},
		{"empty signature segment", replaceSegment(valid, 2, ""), reason.Malformed, 0},
		{"empty header segment", replaceSegment(valid, 0, ""), reason.Malformed, 0},
		{"padded header", replaceSegment(valid, 0, b64u([]byte(stdHeader))+"=="), reason.Malformed, 0},
		{"padded signature", valid + "==", reason.Malformed, 0},
		{"newline inside", valid[:20] + "\n" + valid[20:], reason.Malformed, 0},
		{"leading space", " " + valid, reason.Malformed, 0},
		{"trailing space", valid + " ", reason.Malformed, 0},
		{"standard base64 alphabet", strings.Replace(valid, "-", "+", 1) + "/", reason.Malformed, 0},
		{"non-canonical base64 tail", nonCanonical(valid), reason.Malformed, 0},
		{"header not JSON", replaceSegment(valid, 0, b64u([]byte("kid=1"))), reason.Malformed, 0},
		{"header a JSON array", replaceSegment(valid, 0, b64u([]byte(`["RS256"]`))), reason.Malformed, 0},
		{"payload not JSON", signRaw(stdHeader, "{not json", testKey), reason.Malformed, 0},
		{"payload a JSON string", signRaw(stdHeader, `"sub"`, testKey), reason.Malformed, 0},
		{"payload trailing garbage", signRaw(stdHeader, payloadJSON+"x", testKey), reason.Malformed, 0},
		// Algorithm.
		{"alg none, no signature", b64u([]byte(`{"alg":"none","kid":"kid-1"}`)) + "." + b64u([]byte(payloadJSON)) + ".", reason.Malformed, 0},
		{"alg none with a signature", replaceSegment(valid, 0, b64u([]byte(`{"alg":"none","kid":"kid-1"}`))), reason.UnsupportedAlg, 0},
		{"HS256 keyed with the RSA public key", hs256(`{"alg":"HS256","kid":"kid-1"}`, payloadJSON, pubDER), reason.UnsupportedAlg, 0},
		{"RS384", withHeader(`{"kid":"kid-1","alg":"RS384"}`, accessClaims()), reason.UnsupportedAlg, 0},
		{"PS256", withHeader(`{"kid":"kid-1","alg":"PS256"}`, accessClaims()), reason.UnsupportedAlg, 0},
		{"ES256", withHeader(`{"kid":"kid-1","alg":"ES256"}`, accessClaims()), reason.UnsupportedAlg, 0},
		{"alg in lower case", withHeader(`{"kid":"kid-1","alg":"rs256"}`, accessClaims()), reason.UnsupportedAlg, 0},
		{"alg missing", withHeader(`{"kid":"kid-1"}`, accessClaims()), reason.UnsupportedAlg, 0},
		{"alg a number", withHeader(`{"kid":"kid-1","alg":256}`, accessClaims()), reason.Malformed, 0},
		{"alg twice, none last", withHeader(`{"kid":"kid-1","alg":"RS256","alg":"none"}`, accessClaims()), reason.Malformed, 0},
		{"ALG beside alg", withHeader(`{"kid":"kid-1","alg":"RS256","ALG":"none"}`, accessClaims()), reason.Malformed, 0},
		// Key id and key-bearing headers.
		{"kid missing", withHeader(`{"alg":"RS256"}`, accessClaims()), reason.Malformed, 0},
		{"kid empty", withHeader(`{"alg":"RS256","kid":""}`, accessClaims()), reason.Malformed, 0},
		{"kid a number", withHeader(`{"alg":"RS256","kid":1}`, accessClaims()), reason.Malformed, 0},
		{"kid unknown", withHeader(`{"alg":"RS256","kid":"kid-404"}`, accessClaims()), reason.UnknownKid, 0},
		{"kid of an enc key", withHeader(`{"alg":"RS256","kid":"enc-key"}`, accessClaims()), reason.UnknownKid, 0},
		{"kid of a 1024-bit key", signRaw(`{"alg":"RS256","kid":"small-key"}`, payloadJSON, smallKeyV), reason.UnknownKid, 0},
		{"jku to the attacker's JWKS", signRaw(fmt.Sprintf(`{"alg":"RS256","kid":"evil","jku":%q}`, attacker.URL), payloadJSON, attackerKey), reason.UnknownKid, 0},
		{"x5u to the attacker", signRaw(fmt.Sprintf(`{"alg":"RS256","kid":"evil","x5u":%q}`, attacker.URL), payloadJSON, attackerKey), reason.UnknownKid, 0},
		{"embedded jwk of the attacker, our kid", signRaw(`{"alg":"RS256","kid":"kid-1","jwk":`+evilJWK+`}`, payloadJSON, attackerKey), reason.BadSignature, 0},
		{"embedded x5c, our kid", signRaw(`{"alg":"RS256","kid":"kid-1","x5c":["MIIB"]}`, payloadJSON, attackerKey), reason.BadSignature, 0},
		{"crit exp", withHeader(`{"alg":"RS256","kid":"kid-1","crit":["exp"],"exp":1}`, accessClaims()), reason.Malformed, 0},
		{"crit empty", withHeader(`{"alg":"RS256","kid":"kid-1","crit":[]}`, accessClaims()), reason.Malformed, 0},
		{"crit b64 false", withHeader(`{"alg":"RS256","kid":"kid-1","b64":false,"crit":["b64"]}`, accessClaims()), reason.Malformed, 0},
		// Signature.
		{"payload tampered", replaceSegment(valid, 1, b64u([]byte(mustJSON(with(accessClaims(), "sub", "mallory"))))), reason.BadSignature, 0},
		{"header tampered", replaceSegment(valid, 0, b64u([]byte(`{"kid":"kid-1","alg":"RS256","typ":"JWT"}`))), reason.BadSignature, 0},
		{"signature bit flipped", editSignature(valid, func(s []byte) []byte { s[10] ^= 1; return s }), reason.BadSignature, 0},
		{"signature truncated", editSignature(valid, func(s []byte) []byte { return s[:len(s)-3] }), reason.BadSignature, 0},
		{"signature with a zero byte prepended", editSignature(valid, func(s []byte) []byte { return append([]byte{0}, s...) }), reason.BadSignature, 0},
		{"signed by another key under our kid", signRaw(stdHeader, payloadJSON, attackerKey), reason.BadSignature, 0},
		{"signature of another token", replaceSegment(valid, 2, strings.Split(mint(with(accessClaims(), "jti", "other")), ".")[2]), reason.BadSignature, 0},
		// Ambiguous JSON.
		{"exp twice", signRaw(stdHeader, strings.Replace(payloadJSON, `{`, fmt.Sprintf(`{"exp":%d,`, now-100), 1), testKey), reason.Malformed, 0},
		{"EXP beside exp", signRaw(stdHeader, strings.Replace(payloadJSON, `{`, `{"EXP":99999999999,`, 1), testKey), reason.Malformed, 0},
		{"Sub instead of sub", signRaw(stdHeader, strings.Replace(payloadJSON, `"sub":`, `"Sub":`, 1), testKey), reason.Malformed, 0},
		{"escaped duplicate of iss", signRaw(stdHeader, strings.Replace(payloadJSON, `{`, `{"\u0069ss":"https://evil.example",`, 1), testKey), reason.Malformed, 0},
		{"escaped duplicate after the plain one", signRaw(stdHeader, strings.Replace(payloadJSON, `}`, `,"\u0073ub":"mallory"}`, 1), testKey), reason.Malformed, 0},
		// Claim types.
		{"sub a number", mint(with(accessClaims(), "sub", 42)), reason.Malformed, 0},
		{"sub null", mint(with(accessClaims(), "sub", jsonNull{})), reason.Malformed, 0},
		{"sub missing", mint(with(accessClaims(), "sub", nil)), reason.Malformed, 0},
		{"cognito:groups a string", mint(with(accessClaims(), "cognito:groups", "admin")), reason.Malformed, 0},
		{"cognito:groups holding a number", mint(with(accessClaims(), "cognito:groups", []any{"admin", 7})), reason.Malformed, 0},
		{"cognito:groups holding null", mint(with(accessClaims(), "cognito:groups", []any{"admin", nil})), reason.Malformed, 0},
		{"scope an array", mint(with(accessClaims(), "scope", []string{"openid"})), reason.Malformed, 0},
		{"username an object", mint(with(accessClaims(), "username", map[string]any{"a": 1})), reason.Malformed, 0},
		{"exp a string", mint(with(accessClaims(), "exp", fmt.Sprint(now+3600))), reason.Malformed, 0},
		{"exp missing", mint(with(accessClaims(), "exp", nil)), reason.Malformed, 0},
		{"exp null", mint(with(accessClaims(), "exp", jsonNull{})), reason.Malformed, 0},
		{"nbf overflowing float64", signRaw(stdHeader, strings.Replace(payloadJSON, `{`, `{"nbf":1e400,`, 1), testKey), reason.Malformed, 0},
		{"iat a bool", mint(with(accessClaims(), "iat", true)), reason.Malformed, 0},
		{"token_use a number", mint(with(accessClaims(), "token_use", 1)), reason.Malformed, 0},
		// Claims that cannot be identity header values: invalid UTF-8 (written raw into the JSON,
		// which json.Marshal would have replaced) and control characters.
		{"sub with invalid UTF-8", signRaw(stdHeader, strings.Replace(payloadJSON, `"sub":"`, "\"sub\":\"\xff", 1), testKey), reason.Malformed, 0},
		{"username with invalid UTF-8", signRaw(stdHeader, strings.Replace(payloadJSON, `"username":"`, "\"username\":\"\xc3\x28", 1), testKey), reason.Malformed, 0},
		{"group with invalid UTF-8", signRaw(stdHeader, strings.Replace(payloadJSON, `"cognito:groups":["`, "\"cognito:groups\":[\"\xed\xa0\x80", 1), testKey), reason.Malformed, 0},
		{"scope with invalid UTF-8", signRaw(stdHeader, strings.Replace(payloadJSON, `"scope":"`, "\"scope\":\"\xfe", 1), testKey), reason.Malformed, 0},
		{"username with CR LF", mint(with(accessClaims(), "username", "mallory\r\nx-user-groups: admin")), reason.Malformed, 0},
		{"group with NUL", mint(with(accessClaims(), "cognito:groups", []string{"users", "ad\x00min"})), reason.Malformed, 0},
		{"client_id with DEL", mint(with(accessClaims(), "client_id", testClientID+"\x7f")), reason.WrongClient, 0},
		// Issuer.
		{"iss missing", mint(with(accessClaims(), "iss", nil)), reason.WrongIssuer, 0},
		{"iss with a trailing slash", mint(with(accessClaims(), "iss", testIssuer+"/")), reason.WrongIssuer, 0},
		{"iss over http", mint(with(accessClaims(), "iss", strings.Replace(testIssuer, "https", "http", 1))), reason.WrongIssuer, 0},
		{"iss of another region", mint(with(accessClaims(), "iss", "https://cognito-idp.eu-west-1.amazonaws.com/us-east-1_TestPool1")), reason.WrongIssuer, 0},
		{"iss of another pool", mint(with(accessClaims(), "iss", "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_OtherPool")), reason.WrongIssuer, 0},
		{"iss in upper case", mint(with(accessClaims(), "iss", strings.ToUpper(testIssuer))), reason.WrongIssuer, 0},
		{"iss an array", mint(with(accessClaims(), "iss", []string{testIssuer})), reason.Malformed, 0},
		// Token use crossed with client id and audience.
		{"token_use missing", mint(with(accessClaims(), "token_use", nil)), reason.WrongTokenUse, 0},
		{"token_use refresh", mint(with(accessClaims(), "token_use", "refresh")), reason.WrongTokenUse, 0},
		{"id token at the access-only pool", mint(with(with(idClaims(), "iss", testIssuer), "client_id", testClientID)), reason.WrongTokenUse, 0},
		{"access token at the id-only issuer", mint(with(accessClaims(), "iss", idIssuer)), reason.WrongTokenUse, 0},
		{"access token, unknown client_id", mint(with(accessClaims(), "client_id", "other-client")), reason.WrongClient, 0},
		{"access token, client id only in aud", mint(with(with(accessClaims(), "client_id", nil), "aud", testClientID)), reason.WrongClient, 0},
		{"id token, unknown aud", mint(with(idClaims(), "aud", "other-client")), reason.WrongClient, 0},
		{"id token, client id only in client_id", mint(with(with(idClaims(), "aud", nil), "client_id", testClientID)), reason.WrongClient, 0},
		{"id token, aud an array", mint(with(idClaims(), "aud", []string{testClientID})), reason.Malformed, 0},
		{"client_id differing in case", mint(with(accessClaims(), "client_id", strings.ToUpper(testClientID))), reason.WrongClient, 0},
		// Time.
		{"exp now", mint(with(accessClaims(), "exp", now)), reason.Expired, 0},
		{"exp a second ago", mint(with(accessClaims(), "exp", now-1)), reason.Expired, 0},
		{"exp half a second ago", mint(with(accessClaims(), "exp", float64(now)-0.5)), reason.Expired, 0},
		{"exp negative", mint(with(accessClaims(), "exp", -1)), reason.Expired, 0},
		{"exp a minute ago, skew a minute", mint(with(accessClaims(), "exp", now-60)), reason.Expired, time.Minute},
		{"nbf in a second", mint(with(accessClaims(), "nbf", now+1)), reason.NotYetValid, 0},
		{"nbf past the skew", mint(with(accessClaims(), "nbf", now+61)), reason.NotYetValid, time.Minute},
		{"iat in a second", mint(with(accessClaims(), "iat", now+1)), reason.IssuedInFuture, 0},
		{"iat past the skew", mint(with(accessClaims(), "iat", now+61)), reason.IssuedInFuture, time.Minute},
		{"expired and unknown kid: no fetch", withHeader(`{"alg":"RS256","kid":"kid-404"}`, with(accessClaims(), "exp", now-1)), reason.Expired, 0},
	}
	if len(tests) < 50 {
		t.Fatalf("only %d adversarial cases", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) { c.ClockSkew = tt.skew })
			fetchesBefore := f.jwks.Hits.Load()
			claims, err := f.v.Verify(context.Background(), tt.token)
			if err == nil {
				t.Fatalf("accepted (sub %q)", claims.Subject)
			}
			var verr *Error
			if !errors.As(err, &verr) {
				t.Fatalf("error %v is not a *verifier.Error", err)
			}
			if verr.Reason != tt.want {
				t.Fatalf("reason %s (%s), want %s", verr.Reason, verr.Message, tt.want)
			}
			if verr.Message == "" || (len(tt.token) > 40 && strings.Contains(err.Error(), tt.token[len(tt.token)-40:])) {
				t.Fatalf("message %q is empty or quotes the token", verr.Message)
			}
			if tt.want != reason.UnknownKid && f.jwks.Hits.Load() != fetchesBefore {
				t.Fatalf("a %s token caused a key fetch", tt.want)
			}
		})
	}
	if n := attackerHits.Load(); n != 0 {
		t.Fatalf("the attacker's key URL was fetched %d times", n)
	}
}

// jsonNull marshals as JSON null, unlike a nil that with() takes as "remove".
type jsonNull struct{}

func (jsonNull) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

// nonCanonical changes the signature's last character so that it decodes to the same bytes with
// non-zero trailing bits (a second spelling of one signature).
func nonCanonical(token string) string {
	last := token[len(token)-1]
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, last)
	return token[:len(token)-1] + string(alphabet[i|1])
}

func editSignature(token string, edit func([]byte) []byte) string {
	parts := strings.Split(token, ".")
	sig, _ := b64.DecodeString(parts[2])
	parts[2] = b64u(edit(sig))
	return strings.Join(parts, ".")
}
