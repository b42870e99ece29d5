package authz

import (
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of the parts of a CheckRequest that Server.Check reads
// (envoy/service/auth/v3/{external_auth,attribute_context}.proto, envoy/config/core/v3/base.proto).
const (
	checkRequestAttributes protowire.Number = 1 // CheckRequest.attributes

	attributesRequest           protowire.Number = 4  // AttributeContext.request
	attributesContextExtensions protowire.Number = 10 // AttributeContext.context_extensions

	requestHTTP protowire.Number = 2 // AttributeContext.Request.http

	httpMethod    protowire.Number = 2  // AttributeContext.HttpRequest.method
	httpHeaders   protowire.Number = 3  // AttributeContext.HttpRequest.headers
	httpPath      protowire.Number = 4  // AttributeContext.HttpRequest.path
	httpHost      protowire.Number = 5  // AttributeContext.HttpRequest.host (policy.rules[].hosts)
	httpHeaderMap protowire.Number = 13 // AttributeContext.HttpRequest.header_map

	headerMapHeaders protowire.Number = 1 // HeaderMap.headers

	headerValueKey      protowire.Number = 1 // HeaderValue.key
	headerValueValue    protowire.Number = 2 // HeaderValue.value
	headerValueRawValue protowire.Number = 3 // HeaderValue.raw_value

	mapEntryKey   protowire.Number = 1
	mapEntryValue protowire.Number = 2
)

var errInvalidUTF8 = errors.New("string field contains invalid UTF-8")

// decodeCheckRequest decodes data into req (reset first) as proto.Unmarshal would, except that
// it fills only what Server.Check reads: attributes.request.http.{method, path, headers,
// header_map} and attributes.context_extensions. Every other field is skipped unread: its wire
// framing must be sound (a truncated or malformed message is an error) but its content is not
// decoded, so bad content there (invalid UTF-8 in host, say) is not an error as it would be for
// proto.Unmarshal. Unknown fields are dropped.
//
// For the fields it fills it follows Go protobuf: a message that occurs more than once is
// merged, a scalar's last occurrence wins, repeated fields and map entries accumulate (a later
// key wins; a missing key or value is ""), a known field number with an unexpected wire type is
// an unknown field, and strings must be valid UTF-8. Strings and bytes are copied: gRPC reuses
// data once Unmarshal returns.
func decodeCheckRequest(data []byte, req *authv3.CheckRequest) error {
	req.Reset()
	var parts *requestParts
	for b := data; len(b) > 0; {
		f, err := consumeField(b)
		if err != nil {
			return decodeError("", err)
		}
		b = b[f.n:]
		if f.num == checkRequestAttributes && f.typ == protowire.BytesType {
			if parts == nil {
				parts = new(requestParts)
				req.Attributes = &parts.attributes
			}
			if err := decodeAttributes(f.value, parts); err != nil {
				return err
			}
		}
	}
	return nil
}

// requestParts are the messages a decoded request is made of, allocated together (one
// allocation instead of three) since they live and die together. A message is set in its parent
// only once it occurs on the wire, as protobuf does.
type requestParts struct {
	attributes authv3.AttributeContext
	request    authv3.AttributeContext_Request
	http       authv3.AttributeContext_HttpRequest
}

func decodeAttributes(b []byte, parts *requestParts) error {
	a := &parts.attributes
	for len(b) > 0 {
		f, err := consumeField(b)
		if err != nil {
			return decodeError("attributes", err)
		}
		b = b[f.n:]
		if f.typ != protowire.BytesType {
			continue // every field read is length-delimited: to protobuf this is an unknown field
		}
		switch f.num {
		case attributesRequest:
			a.Request = &parts.request
			if err := decodeRequest(f.value, parts); err != nil {
				return err
			}
		case attributesContextExtensions:
			if a.ContextExtensions == nil {
				a.ContextExtensions = make(map[string]string, 1+countFields(b, attributesContextExtensions))
			}
			if err := decodeMapEntry(f.value, a.ContextExtensions); err != nil {
				return decodeError("attributes.context_extensions", err)
			}
		}
	}
	return nil
}

func decodeRequest(b []byte, parts *requestParts) error {
	for len(b) > 0 {
		f, err := consumeField(b)
		if err != nil {
			return decodeError("attributes.request", err)
		}
		b = b[f.n:]
		if f.num == requestHTTP && f.typ == protowire.BytesType {
			parts.request.Http = &parts.http
			if err := decodeHTTP(f.value, &parts.http); err != nil {
				return err
			}
		}
	}
	return nil
}

func decodeHTTP(b []byte, h *authv3.AttributeContext_HttpRequest) error {
	const where = "attributes.request.http"
	// The last method and path win; each occurrence is validated, as protobuf does, but only
	// the winner is copied.
	var method, path, host []byte
	var hasMethod, hasPath, hasHost bool
	for len(b) > 0 {
		f, err := consumeField(b)
		if err != nil {
			return decodeError(where, err)
		}
		b = b[f.n:]
		if f.typ != protowire.BytesType {
			continue
		}
		switch f.num {
		case httpMethod:
			if !utf8.Valid(f.value) {
				return decodeError(where+".method", errInvalidUTF8)
			}
			method, hasMethod = f.value, true
		case httpPath:
			if !utf8.Valid(f.value) {
				return decodeError(where+".path", errInvalidUTF8)
			}
			path, hasPath = f.value, true
		case httpHost:
			if !utf8.Valid(f.value) {
				return decodeError(where+".host", errInvalidUTF8)
			}
			host, hasHost = f.value, true
		case httpHeaders:
			if h.Headers == nil {
				h.Headers = make(map[string]string, 1+countFields(b, httpHeaders))
			}
			if err := decodeMapEntry(f.value, h.Headers); err != nil {
				return decodeError(where+".headers", err)
			}
		case httpHeaderMap:
			if h.HeaderMap == nil {
				h.HeaderMap = new(corev3.HeaderMap)
			}
			if err := decodeHeaderMap(f.value, h.HeaderMap); err != nil {
				return decodeError(where+".header_map", err)
			}
		}
	}
	if hasMethod {
		h.Method = string(method)
	}
	if hasPath {
		h.Path = string(path)
	}
	if hasHost {
		h.Host = string(host)
	}
	return nil
}

func decodeHeaderMap(b []byte, m *corev3.HeaderMap) error {
	// One allocation for this occurrence's headers instead of one each, sized when the first
	// header turns up.
	var values []corev3.HeaderValue
	for len(b) > 0 {
		f, err := consumeField(b)
		if err != nil {
			return err
		}
		b = b[f.n:]
		if f.num != headerMapHeaders || f.typ != protowire.BytesType {
			continue
		}
		if len(values) == 0 {
			values = make([]corev3.HeaderValue, 1+countFields(b, headerMapHeaders))
			if m.Headers == nil {
				m.Headers = make([]*corev3.HeaderValue, 0, len(values))
			}
		}
		hv := &values[0]
		values = values[1:]
		if err := decodeHeaderValue(f.value, hv); err != nil {
			return err
		}
		m.Headers = append(m.Headers, hv)
	}
	return nil
}

func decodeHeaderValue(b []byte, hv *corev3.HeaderValue) error {
	var f stringFields
	// raw_value is bytes: not UTF-8 checked.
	if err := f.decode(b, headerValueKey, headerValueValue); err != nil {
		return err
	}
	if f.has[headerValueKey] {
		hv.Key = string(f.last[headerValueKey])
	}
	if f.has[headerValueValue] {
		hv.Value = string(f.last[headerValueValue])
	}
	if f.has[headerValueRawValue] {
		hv.RawValue = append([]byte(nil), f.last[headerValueRawValue]...) // nil when empty, like protobuf
	}
	return nil
}

// decodeMapEntry adds one map<string, string> entry to m; a missing key or value is "".
func decodeMapEntry(b []byte, m map[string]string) error {
	var f stringFields
	if err := f.decode(b, mapEntryKey, mapEntryValue); err != nil {
		return err
	}
	m[string(f.last[mapEntryKey])] = string(f.last[mapEntryValue])
	return nil
}

// stringFields is the last occurrence of each length-delimited field numbered 1 to 3 of a small
// message (a HeaderValue, a map entry), still pointing into the wire bytes.
type stringFields struct {
	last [4][]byte
	has  [4]bool
}

// decode reads the message b. The fields numbered in utf8 are proto3 strings: every occurrence
// must be valid UTF-8, as protobuf checks, not only the last.
func (sf *stringFields) decode(b []byte, utf8Fields ...protowire.Number) error {
	for len(b) > 0 {
		f, err := consumeField(b)
		if err != nil {
			return err
		}
		b = b[f.n:]
		if f.typ != protowire.BytesType || f.num > 3 {
			continue
		}
		if slices.Contains(utf8Fields, f.num) && !utf8.Valid(f.value) {
			return fmt.Errorf("field %d: %w", f.num, errInvalidUTF8)
		}
		sf.last[f.num], sf.has[f.num] = f.value, true
	}
	return nil
}

// field is one field of a message: its number, wire type, the payload of a length-delimited
// field, and its length on the wire (tag included).
type field struct {
	num   protowire.Number
	typ   protowire.Type
	value []byte
	n     int
}

// consumeField reads the field at the start of b, checking its framing as protobuf does: a
// field number in range, a value that is all there, and a group that ends with its own number.
func consumeField(b []byte) (field, error) {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 {
		return field{}, protowire.ParseError(n)
	}
	if num > protowire.MaxValidNumber {
		return field{}, fmt.Errorf("field number %d out of range", num)
	}
	f := field{num: num, typ: typ}
	var m int
	if typ == protowire.BytesType {
		f.value, m = protowire.ConsumeBytes(b[n:])
	} else {
		m = protowire.ConsumeFieldValue(num, typ, b[n:])
	}
	if m < 0 {
		return field{}, fmt.Errorf("field %d: %w", num, protowire.ParseError(m))
	}
	f.n = n + m
	return f, nil
}

// countFields counts the length-delimited fields numbered num in b, stopping quietly at bad
// framing (the decoding pass reports it). It sizes maps and slices before they are filled.
func countFields(b []byte, num protowire.Number) int {
	count := 0
	for len(b) > 0 {
		f, err := consumeField(b)
		if err != nil {
			break
		}
		b = b[f.n:]
		if f.num == num && f.typ == protowire.BytesType {
			count++
		}
	}
	return count
}

func decodeError(where string, err error) error {
	if where == "" {
		return fmt.Errorf("decoding CheckRequest: %w", err)
	}
	return fmt.Errorf("decoding CheckRequest %s: %w", where, err)
}
