package verifier

import (
	"bytes"
	"encoding/json"
	"errors"
)

// objectMember is one top-level member of a JSON object: its name as written (escapes still in)
// and the first byte of its value.
type objectMember struct {
	name       []byte
	valueStart byte
	valueAt    int // the index of valueStart in the object
}

// scanObjectMembers lists the top-level members of a JSON object that encoding/json has already
// accepted as valid. encoding/json keeps the last of duplicate names and matches struct fields
// case-insensitively; JWTs must not be ambiguous (RFC 7515 section 5.2, RFC 7519 section 4), so the
// caller rejects duplicates and case variants using this list. buf is reused to avoid allocation.
func scanObjectMembers(data []byte, buf []objectMember) []objectMember {
	members := buf[:0]
	depth := 0
	expectName := false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '"':
			end := endOfString(data, i)
			if depth == 1 && expectName {
				name := data[i+1 : end]
				j := end + 1
				for j < len(data) && (isSpace(data[j]) || data[j] == ':') {
					j++
				}
				var first byte
				if j < len(data) {
					first = data[j]
				}
				members = append(members, objectMember{name: name, valueStart: first, valueAt: j})
				expectName = false
			}
			i = end
		case '{', '[':
			depth++
			expectName = c == '{' && depth == 1
		case '}', ']':
			depth--
		case ',':
			if depth == 1 {
				expectName = true
			}
		}
	}
	return members
}

// endOfString returns the index of the quote closing the string that opens at data[start].
func endOfString(data []byte, start int) int {
	for i := start + 1; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return len(data) - 1
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

var errNameNotString = errors.New("member name is not a string")

// memberName returns a member's name with JSON escapes resolved; it allocates only for names
// that contain escapes, which Cognito never writes.
func memberName(raw []byte) (string, error) {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw), nil
	}
	quoted := make([]byte, 0, len(raw)+2)
	quoted = append(append(append(quoted, '"'), raw...), '"')
	var name string
	if err := json.Unmarshal(quoted, &name); err != nil {
		return "", errNameNotString
	}
	return name, nil
}

// valueEnd returns the index just past the JSON value that starts at data[start], in an object
// encoding/json has already accepted as valid: the value ends at the first ',' or '}' outside
// strings, arrays and objects.
func valueEnd(data []byte, start int) int {
	depth := 0
	for i := start; i < len(data); i++ {
		switch data[i] {
		case '"':
			i = endOfString(data, i)
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i
			}
			depth--
		case ',':
			if depth == 0 {
				return i
			}
		}
	}
	return len(data)
}
