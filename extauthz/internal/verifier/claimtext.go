package verifier

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/httptext"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/reason"
)

// DefaultMaxClaimBytes bounds each chosen claim as text (Config.MaxClaimBytes,
// identity_headers.max_claim_bytes).
const DefaultMaxClaimBytes = 4096

// claimTexts returns the text of each of names in the payload (docs/reference.md#claim-headers),
// aligned with names, "" for a claim the token lacks or holds as null, an empty string or an
// empty array. A value that cannot be a header value makes the token malformed; one longer than
// maxBytes as text is claim_too_large. It runs before any key work, on the uncached path only.
func claimTexts(payloadJSON []byte, names []string, maxBytes int) ([]string, *Error) {
	var buf [24]objectMember
	members := scanObjectMembers(payloadJSON, buf[:])
	texts := make([]string, len(names))
	for _, m := range members {
		name := m.name
		if bytes.IndexByte(name, '\\') >= 0 { // rare: compare the decoded name
			decoded, err := memberName(name)
			if err != nil {
				return nil, fail(reason.Malformed, "payload has an invalid member name")
			}
			name = []byte(decoded)
		}
		for i, want := range names {
			if string(name) != want {
				continue
			}
			text, e := ClaimText(payloadJSON[m.valueAt:valueEnd(payloadJSON, m.valueAt)])
			if e != nil {
				return nil, fail(reason.Malformed, "claim %q %s", truncate(want), e.Message)
			}
			if len(text) > maxBytes {
				return nil, fail(reason.ClaimTooLarge, "claim %q is %d bytes as a header value, over the limit of %d (identity_headers.max_claim_bytes)", truncate(want), len(text), maxBytes)
			}
			texts[i] = text
		}
	}
	return texts, nil
}

// ClaimText is one claim's value as header text: a string as it is; a number or boolean as its
// JSON text; an array of strings joined with "," and percent-encoded like x-user-groups
// (httptext.JoinList); anything else (an object, a mixed array) as compact JSON. Null, "" and []
// are "" (no header). The error (reason malformed) says why the value cannot be a header value.
func ClaimText(raw json.RawMessage) (string, *Error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", fail(reason.Malformed, "has no value")
	}
	if !utf8.Valid(raw) { // before decoding, which would turn invalid UTF-8 into U+FFFD
		return "", fail(reason.Malformed, "is not valid UTF-8")
	}
	var text string
	switch raw[0] {
	case 'n':
		return "", nil
	case '"':
		if err := json.Unmarshal(raw, &text); err != nil {
			return "", fail(reason.Malformed, "is not a JSON string")
		}
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return "", fail(reason.Malformed, "is not a JSON array")
		}
		if strs, ok := stringItems(items); ok {
			for _, s := range strs {
				if !validHeaderValue(s) {
					return "", fail(reason.Malformed, "holds a string that is not a valid header value (invalid UTF-8 or a control character)")
				}
			}
			return httptext.JoinList(strs, ","), nil
		}
		text = compactJSON(raw)
	case '{':
		text = compactJSON(raw)
	default: // a number, true or false: its JSON text
		text = string(raw)
	}
	if !validHeaderValue(text) {
		return "", fail(reason.Malformed, "is not a valid header value (invalid UTF-8 or a control character)")
	}
	return text, nil
}

// stringItems returns items decoded when every one is a string.
func stringItems(items []json.RawMessage) ([]string, bool) {
	strs := make([]string, len(items))
	for i, item := range items {
		if len(item) == 0 || item[0] != '"' || json.Unmarshal(item, &strs[i]) != nil {
			return nil, false
		}
	}
	return strs, true
}

func compactJSON(raw []byte) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw) // unreachable: the payload is valid JSON
	}
	return b.String()
}
