package authz

import (
	"context"
	"slices"
	"strconv"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.uber.org/zap"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/envoytest"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/policy"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/reason"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/tokensource"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/verifier"
)

// projection copies out of a fully decoded request the fields decodeCheckRequest fills, into
// fresh messages (so without unknown fields), keeping which messages are present.
func projection(full *authv3.CheckRequest) *authv3.CheckRequest {
	out := &authv3.CheckRequest{}
	attrs := full.GetAttributes()
	if attrs == nil {
		return out
	}
	out.Attributes = &authv3.AttributeContext{ContextExtensions: attrs.GetContextExtensions()}
	req := attrs.GetRequest()
	if req == nil {
		return out
	}
	out.Attributes.Request = &authv3.AttributeContext_Request{}
	http := req.GetHttp()
	if http == nil {
		return out
	}
	h := &authv3.AttributeContext_HttpRequest{Method: http.GetMethod(), Path: http.GetPath(), Host: http.GetHost(), Headers: http.GetHeaders()}
	out.Attributes.Request.Http = h
	if hm := http.GetHeaderMap(); hm != nil {
		h.HeaderMap = &corev3.HeaderMap{}
		for _, hv := range hm.GetHeaders() {
			h.HeaderMap.Headers = append(h.HeaderMap.Headers,
				&corev3.HeaderValue{Key: hv.GetKey(), Value: hv.GetValue(), RawValue: hv.GetRawValue()})
		}
	}
	return out
}

// decodeBoth decodes wire with proto.Unmarshal and with decodeCheckRequest.
func decodeBoth(wire []byte) (full, fast *authv3.CheckRequest, protoErr, fastErr error) {
	full, fast = &authv3.CheckRequest{}, &authv3.CheckRequest{}
	protoErr = proto.Unmarshal(wire, full)
	fastErr = decodeCheckRequest(wire, fast)
	return full, fast, protoErr, fastErr
}

// requireAgreement fails unless both decoders accept wire with equal projections, or both
// reject it. The fast decoder's result must not alias wire: wire is scribbled over afterwards.
func requireAgreement(t *testing.T, wire []byte) {
	t.Helper()
	wire = slices.Clone(wire)
	full, fast, protoErr, fastErr := decodeBoth(wire)
	if (protoErr == nil) != (fastErr == nil) {
		t.Fatalf("proto.Unmarshal: %v; decodeCheckRequest: %v", protoErr, fastErr)
	}
	if protoErr != nil {
		return
	}
	want := projection(full)
	for i := range wire {
		wire[i] = 0xAA
	}
	if !proto.Equal(fast, want) {
		t.Fatalf("decodeCheckRequest = %v\nwant (protobuf's, projected) %v", fast, want)
	}
}

// envoyShapedRequest is envoyCheckRequest with everything else Envoy can send filled in, the
// fields authz reads included.
func envoyShapedRequest(token string, allHeaders bool) *authv3.CheckRequest {
	req := envoytest.CheckRequest(token, allHeaders)
	attrs := req.Attributes
	attrs.ContextExtensions = map[string]string{"auth": "required", "groups": "admin,ops", "scopes": "reports/read"}
	attrs.TlsSession = &authv3.AttributeContext_TLSSession{Sni: "app.example.com"}
	attrs.Source.Principal = "spiffe://cluster.local/ns/default/sa/client"
	attrs.Source.Labels = map[string]string{"app": "web"}
	attrs.Destination.Service = "backend"
	meta := func(kv ...string) *corev3.Metadata {
		return &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{"envoy.filters.http.jwt_authn": stringStruct(kv...)}}
	}
	attrs.MetadataContext = meta("issuer", "https://cognito-idp.us-east-1.amazonaws.com/pool", "sub", "abc")
	attrs.RouteMetadataContext = meta("route", "api")
	http := attrs.Request.Http
	http.Query, http.Fragment, http.Size, http.Body = "a=1&b=2", "top", 42, `{"x":1}`
	http.RawBody = []byte{0xff, 0x00, 0xfe}
	http.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
		{Key: "authorization", RawValue: []byte("Bearer " + token)},
		{Key: "cookie", Value: "a=1"},
		{Key: "cookie", RawValue: []byte("b=\xff")}, // bytes: not UTF-8, legal
		{Key: "x-empty"},
	}}
	return req
}

// TestDecodeEnvoyShapedRequests: what Envoy sends decodes to what protobuf decodes, projected.
func TestDecodeEnvoyShapedRequests(t *testing.T) {
	for _, tt := range envoyShapedCases(envoytest.Token) {
		t.Run(tt.name, func(t *testing.T) {
			wire, err := proto.MarshalOptions{Deterministic: true}.Marshal(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			requireAgreement(t, wire)
			// And the projection of what was sent, so the test does not hinge on protobuf alone.
			var fast authv3.CheckRequest
			if err := decodeCheckRequest(wire, &fast); err != nil {
				t.Fatal(err)
			}
			if want := projection(tt.req); !proto.Equal(&fast, want) {
				t.Errorf("decoded %v, want %v", &fast, want)
			}
		})
	}
}

type envoyShapedCase struct {
	name string
	req  *authv3.CheckRequest
}

// envoyShapedCases are what Envoy sends, carrying token.
func envoyShapedCases(token string) []envoyShapedCase {
	noHTTP := envoyShapedRequest("t", false)
	noHTTP.Attributes.Request.Http = nil
	emptyMessages := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{HeaderMap: &corev3.HeaderMap{}}},
	}}
	return []envoyShapedCase{
		{"as Envoy sends it with allowed_headers", envoytest.CheckRequest(token, false)},
		{"as Envoy sends it, every header", envoytest.CheckRequest(token, true)},
		{"every attribute, token headers", envoyShapedRequest(token, false)},
		{"every attribute, every header", envoyShapedRequest(token, true)},
		{"no http attributes", noHTTP},
		{"empty messages are present", emptyMessages},
		{"empty request", &authv3.CheckRequest{}},
		{"only attributes", &authv3.CheckRequest{Attributes: &authv3.AttributeContext{}}},
	}
}

// Hand-built wire for the edge cases.

func appendTag(b []byte, num protowire.Number, typ protowire.Type) []byte {
	return protowire.AppendTag(b, num, typ)
}

// lenField is a length-delimited field whose payload is the concatenation of parts.
func lenField(num protowire.Number, parts ...[]byte) []byte {
	b := appendTag(nil, num, protowire.BytesType)
	return protowire.AppendBytes(b, slices.Concat(parts...))
}

func strField(num protowire.Number, s string) []byte { return lenField(num, []byte(s)) }

func varintField(num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(appendTag(nil, num, protowire.VarintType), v)
}

func fixed32Field(num protowire.Number, v uint32) []byte {
	return protowire.AppendFixed32(appendTag(nil, num, protowire.Fixed32Type), v)
}

func fixed64Field(num protowire.Number, v uint64) []byte {
	return protowire.AppendFixed64(appendTag(nil, num, protowire.Fixed64Type), v)
}

// group is a group field numbered num with the given contents, ended with endNum.
func group(num, endNum protowire.Number, parts ...[]byte) []byte {
	b := appendTag(nil, num, protowire.StartGroupType)
	b = append(b, slices.Concat(parts...)...)
	return appendTag(b, endNum, protowire.EndGroupType)
}

func entry(key, value string) []byte {
	return slices.Concat(strField(mapEntryKey, key), strField(mapEntryValue, value))
}

// Wire of CheckRequest{attributes{request{http{...}}}} and its parts.
func attributes(parts ...[]byte) []byte { return lenField(checkRequestAttributes, parts...) }
func request(parts ...[]byte) []byte    { return lenField(attributesRequest, parts...) }
func httpReq(parts ...[]byte) []byte    { return lenField(requestHTTP, parts...) }
func withHTTP(parts ...[]byte) []byte   { return attributes(request(httpReq(parts...))) }
func header(k, v string) []byte         { return lenField(httpHeaders, entry(k, v)) }
func ctxExt(k, v string) []byte         { return lenField(attributesContextExtensions, entry(k, v)) }

// headerMap is a header_map field holding a HeaderValue of each of values' contents.
func headerMap(values ...[]byte) []byte {
	var parts [][]byte
	for _, v := range values {
		parts = append(parts, lenField(headerMapHeaders, v))
	}
	return lenField(httpHeaderMap, parts...)
}

const (
	badUTF8    = "\xff\xfe"
	httpScheme = protowire.Number(6) // AttributeContext.HttpRequest.scheme, a string authz never reads
)

// TestDecodeWireEdgeCases: on hand-built wire the fast decoder agrees with proto.Unmarshal, error
// or not, and on the fields it fills.
func TestDecodeWireEdgeCases(t *testing.T) {
	for _, tt := range wireEdgeCases() {
		t.Run(tt.name, func(t *testing.T) {
			requireAgreement(t, tt.wire)
			var got authv3.CheckRequest
			err := decodeCheckRequest(tt.wire, &got)
			if (err != nil) != tt.wantErr {
				t.Fatalf("decodeCheckRequest error = %v, want error: %v", err, tt.wantErr)
			}
			if tt.want != nil && !proto.Equal(&got, tt.want) {
				t.Errorf("decoded %v, want %v", &got, tt.want)
			}
		})
	}
}

type wireEdgeCase struct {
	name    string
	wire    []byte
	wantErr bool
	want    *authv3.CheckRequest // when set, also the exact result
}

func wireEdgeCases() []wireEdgeCase {
	get := withHTTP(strField(httpMethod, "GET"))
	return []wireEdgeCase{
		{name: "empty input", wire: nil, want: &authv3.CheckRequest{}},
		{name: "empty attributes are present", wire: attributes(), want: &authv3.CheckRequest{Attributes: &authv3.AttributeContext{}}},
		{
			name: "repeated attributes, request and http messages merge",
			wire: slices.Concat(
				attributes(request(httpReq(strField(httpMethod, "GET"), header("a", "1")))),
				attributes(ctxExt("auth", "off"), request(httpReq(strField(httpPath, "/x"), header("b", "2")))),
				attributes(request(), request(httpReq(header("c", "3")))),
			),
			want: &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
				ContextExtensions: map[string]string{"auth": "off"},
				Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
					Method: "GET", Path: "/x", Headers: map[string]string{"a": "1", "b": "2", "c": "3"},
				}},
			}},
		},
		{
			name: "duplicate method and path: the last wins",
			wire: withHTTP(strField(httpMethod, "GET"), strField(httpPath, "/a"), strField(httpMethod, "POST"), strField(httpPath, "/b")),
		},
		{name: "an empty last method wins", wire: withHTTP(strField(httpMethod, "GET"), strField(httpMethod, ""))},
		{name: "the host is read, the last wins", wire: withHTTP(strField(httpHost, "a.example"), strField(httpHost, "b.example")),
			want: &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
				Http: &authv3.AttributeContext_HttpRequest{Host: "b.example"}}}}},
		{name: "invalid UTF-8 in host", wire: withHTTP(strField(httpHost, badUTF8)), wantErr: true},
		{
			name: "duplicate map keys: the later wins",
			wire: slices.Concat(withHTTP(header("a", "1"), header("a", "2")), attributes(ctxExt("auth", "off"), ctxExt("auth", "required"))),
		},
		{
			name: "map entries missing key, value or both",
			wire: withHTTP(lenField(httpHeaders, strField(mapEntryValue, "v")), lenField(httpHeaders, strField(mapEntryKey, "k")), lenField(httpHeaders)),
		},
		{
			name: "map entry with a repeated key and value, unknown fields and wrong wire types",
			wire: withHTTP(lenField(httpHeaders,
				strField(mapEntryKey, "k1"), strField(mapEntryKey, "k2"), varintField(mapEntryKey, 7),
				fixed32Field(mapEntryValue, 1), strField(mapEntryValue, "v"), strField(3, "extra"), group(4, 4, varintField(1, 1)),
			)),
		},
		{
			name: "header_map: occurrences append, fields last wins, raw_value is bytes",
			wire: withHTTP(
				headerMap(slices.Concat(strField(headerValueKey, "a"), strField(headerValueKey, "b"), strField(headerValueValue, "1"))),
				headerMap(strField(headerValueRawValue, badUTF8), nil, slices.Concat(strField(headerValueRawValue, "x"), strField(headerValueRawValue, ""))),
			),
		},
		{
			name: "known field numbers with the wrong wire type are unknown fields",
			wire: slices.Concat(
				varintField(checkRequestAttributes, 1),
				attributes(
					fixed32Field(attributesRequest, 1), varintField(attributesContextExtensions, 3),
					request(fixed64Field(requestHTTP, 1), httpReq(
						varintField(httpMethod, 1), fixed32Field(httpPath, 2), varintField(httpHeaders, 3), group(httpHeaderMap, httpHeaderMap),
						lenField(httpHeaderMap, varintField(headerMapHeaders, 1), lenField(headerMapHeaders, fixed64Field(headerValueKey, 1), varintField(headerValueRawValue, 2))),
					)),
				),
			),
		},
		{
			name: "a known message field as a group is skipped, nested groups too",
			wire: slices.Concat(group(checkRequestAttributes, checkRequestAttributes, group(7, 7, group(8, 8, strField(1, badUTF8)))), get, group(99, 99)),
		},
		{name: "unknown fields of every wire type", wire: slices.Concat(varintField(2, 1), fixed32Field(3, 1), fixed64Field(4, 1), strField(5, "x"), get)},
		{name: "a group ended by another number", wire: slices.Concat(get, group(99, 98)), wantErr: true},
		{name: "an unterminated group", wire: slices.Concat(get, appendTag(nil, 99, protowire.StartGroupType)), wantErr: true},
		{name: "a stray end group", wire: slices.Concat(get, appendTag(nil, 99, protowire.EndGroupType)), wantErr: true},
		{name: "a stray end group inside http", wire: withHTTP(strField(httpMethod, "GET"), appendTag(nil, httpPath, protowire.EndGroupType)), wantErr: true},
		{name: "reserved wire type 6", wire: slices.Concat(get, appendTag(nil, 99, 6)), wantErr: true},
		{name: "reserved wire type 7 inside an entry", wire: withHTTP(lenField(httpHeaders, appendTag(nil, 9, 7))), wantErr: true},
		{name: "field number 0", wire: slices.Concat(get, []byte{0x02, 0x00}), wantErr: true},
		{name: "field number above the maximum", wire: slices.Concat(get, varintField(protowire.MaxValidNumber+1, 1)), wantErr: true},
		{name: "field number above the maximum in an entry", wire: withHTTP(lenField(httpHeaders, varintField(protowire.MaxValidNumber+1, 1))), wantErr: true},
		{name: "field number above the maximum inside a skipped group", wire: group(99, 99, varintField(protowire.MaxValidNumber+1, 1))},
		{name: "invalid UTF-8 in method", wire: withHTTP(strField(httpMethod, badUTF8)), wantErr: true},
		{name: "invalid UTF-8 in an overwritten method", wire: withHTTP(strField(httpMethod, badUTF8), strField(httpMethod, "GET")), wantErr: true},
		{name: "invalid UTF-8 in path", wire: withHTTP(strField(httpPath, "/a"+badUTF8)), wantErr: true},
		{name: "invalid UTF-8 in a header name", wire: withHTTP(header(badUTF8, "v")), wantErr: true},
		{name: "invalid UTF-8 in a header value", wire: withHTTP(header("authorization", "Bearer "+badUTF8)), wantErr: true},
		{name: "invalid UTF-8 in an overwritten header value", wire: withHTTP(lenField(httpHeaders, strField(mapEntryValue, badUTF8), strField(mapEntryValue, "ok"))), wantErr: true},
		{name: "invalid UTF-8 in a context_extensions key", wire: attributes(ctxExt(badUTF8, "off")), wantErr: true},
		{name: "invalid UTF-8 in a context_extensions value", wire: attributes(ctxExt("auth", badUTF8)), wantErr: true},
		{name: "invalid UTF-8 in a header_map key", wire: withHTTP(headerMap(strField(headerValueKey, badUTF8))), wantErr: true},
		{name: "invalid UTF-8 in a header_map value", wire: withHTTP(headerMap(strField(headerValueValue, badUTF8))), wantErr: true},
		{name: "truncated in a length-delimited field", wire: get[:len(get)-1], wantErr: true},
		{name: "truncated in a tag", wire: slices.Concat(get, []byte{0x80}), wantErr: true},
		{name: "truncated in a varint value", wire: slices.Concat(get, []byte{0x10, 0x80}), wantErr: true},
		{name: "truncated fixed64", wire: slices.Concat(get, []byte{0x21, 1, 2, 3}), wantErr: true},
		{name: "bad varint: eleven bytes", wire: slices.Concat(get, []byte{0x10}, slices.Repeat([]byte{0xff}, 10), []byte{0x01}), wantErr: true},
		{name: "bad varint: overflow in the tenth byte", wire: slices.Concat(get, []byte{0x10}, slices.Repeat([]byte{0xff}, 9), []byte{0x02}), wantErr: true},
		{name: "length past the end", wire: []byte{0x0a, 0x05, 0x22, 0x00}, wantErr: true},
		{name: "http length past the end of request", wire: attributes(request([]byte{0x12, 0x10, 0x12, 0x00})), wantErr: true},
		{name: "truncated inside a skipped field of http", wire: withHTTP([]byte{0x2a, 0x09, 'h'}), wantErr: true},
		{name: "huge length", wire: slices.Concat([]byte{0x0a}, protowire.AppendVarint(nil, 1<<62)), wantErr: true},
	}
}

// TestDecodeSkipsContentOfUnreadFields is where the fast decoder and protobuf part ways, on
// purpose: content it never reads is not validated, only framed. These requests are invalid to
// proto.Unmarshal and decode fine here, with the fields authz reads intact.
func TestDecodeSkipsContentOfUnreadFields(t *testing.T) {
	want := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Method: "GET"},
	}}}
	tests := []struct {
		name string
		wire []byte
	}{
		{"invalid UTF-8 in scheme", withHTTP(strField(httpMethod, "GET"), strField(httpScheme, badUTF8))},
		{"a truncated message inside source", slices.Concat(withHTTP(strField(httpMethod, "GET")), attributes(lenField(1, []byte{0x0a, 0x09})))},
		{"invalid UTF-8 in a metadata Struct key", slices.Concat(withHTTP(strField(httpMethod, "GET")),
			attributes(lenField(11, lenField(1, strField(mapEntryKey, badUTF8)))))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := proto.Unmarshal(tt.wire, &authv3.CheckRequest{}); err == nil {
				t.Fatal("proto.Unmarshal accepts this: the case no longer shows the difference")
			}
			var got authv3.CheckRequest
			if err := decodeCheckRequest(tt.wire, &got); err != nil {
				t.Fatalf("decodeCheckRequest: %v", err)
			}
			if !proto.Equal(&got, want) {
				t.Errorf("decoded %v, want %v", &got, want)
			}
		})
	}
}

// TestDecodeResetsTheMessage: like proto.Unmarshal, nothing of a reused message survives.
func TestDecodeResetsTheMessage(t *testing.T) {
	req := envoyShapedRequest("t", true)
	if err := decodeCheckRequest(withHTTP(strField(httpPath, "/only")), req); err != nil {
		t.Fatal(err)
	}
	want := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Path: "/only"},
	}}}
	if !proto.Equal(req, want) {
		t.Errorf("decoded into a used message: %v, want %v", req, want)
	}
}

// FuzzDecodeCheckRequest: whatever protobuf accepts, the fast decoder accepts and decodes the
// same way; what it rejects, protobuf rejects. Seeded with the tables above, those of at most
// maxFuzzSeedBytes, and the corpus in testdata/fuzz/FuzzDecodeCheckRequest.
func FuzzDecodeCheckRequest(f *testing.F) {
	var seeds [][]byte
	for _, c := range envoyShapedCases("t") { // the decoder never looks inside the token
		wire, err := proto.Marshal(c.req)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, wire)
	}
	for _, c := range wireEdgeCases() {
		seeds = append(seeds, c.wire)
	}
	for _, wire := range seeds {
		if len(wire) <= maxFuzzSeedBytes {
			f.Add(wire)
		}
	}
	f.Fuzz(func(t *testing.T, wire []byte) {
		full, fast, protoErr, fastErr := decodeBoth(wire)
		if fastErr != nil {
			if protoErr == nil {
				t.Fatalf("decodeCheckRequest: %v; proto.Unmarshal accepts %v", fastErr, full)
			}
			return
		}
		if protoErr != nil {
			return // malformed content in a field the fast decoder skips
		}
		if want := projection(full); !proto.Equal(fast, want) {
			t.Fatalf("decodeCheckRequest = %v\nwant (protobuf's, projected) %v", fast, want)
		}
	})
}

// maxFuzzSeedBytes bounds the seeds of FuzzDecodeCheckRequest. Each input that finds new coverage
// is minimized first, by trying to remove every range of its bytes: a number of executions that
// grows with the square of its length, each with a coverage snapshot of this large test binary.
// Mutants of the 900-byte Envoy-shaped requests kept the fuzzer minimizing for its whole run, at
// no new executions; TestDecodeEnvoyShapedRequests checks those requests instead.
const maxFuzzSeedBytes = 200

// guardServer is the Check service runner.New builds for a configuration with rules on path and
// method and every kind of token source. Its verifier is a stub: Check reads the request, the
// verifier only the token, so the guard needs no keys.
func guardServer(t *testing.T) *Server {
	s, err := New(Options{
		Verifier: guardVerifier,
		Policy: policy.Config{Default: policy.AuthOptional, InvalidToken: policy.InvalidTokenAnonymous, Rules: []policy.Rule{
			{PathPrefix: "/api/admin", Methods: []string{"GET", "POST"}, Auth: policy.AuthRequired, GroupsAny: []string{"admin"}},
			{PathPrefix: "/public", Auth: policy.AuthOff},
			{PathPrefix: "/api", Auth: policy.AuthRequired},
		}},
		TokenSources: tokensource.Config{AuthorizationHeader: true, Headers: []string{"x-access-token"}, Cookies: []string{"access_token"}},
		Logger:       zap.NewNop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// stubVerifier accepts the tokens it has claims for and rejects every other with its reason
// (malformed when it has none).
type stubVerifier struct {
	accepted map[string]*verifier.Claims
	rejected map[string]reason.Code
}

func (v stubVerifier) VerifySlot(_ context.Context, token string) (*verifier.Claims, *verifier.Slot[Answer], error) {
	if c, ok := v.accepted[token]; ok {
		return c, nil, nil
	}
	why, ok := v.rejected[token]
	if !ok {
		why = reason.Malformed
	}
	return nil, nil, &verifier.Error{Reason: why, Message: "stub"}
}

// guardVerifier knows the tokens of TestCheckReadsOnlyDecodedFields by name.
var guardVerifier = stubVerifier{
	accepted: map[string]*verifier.Claims{
		"user":  {Subject: "user-sub-1", Username: "alice", ClientID: clientID, TokenUse: verifier.TokenUseAccess, Scopes: []string{"openid"}},
		"admin": {Subject: "user-sub-1", Username: "alice", ClientID: clientID, TokenUse: verifier.TokenUseAccess, Groups: []string{"admin"}, Scopes: []string{"openid", "reports/read"}},
	},
	rejected: map[string]reason.Code{"expired": reason.Expired, "other-client": reason.WrongClient},
}

// TestCheckReadsOnlyDecodedFields guards decodeCheckRequest's premise: Check's answer depends on
// nothing the fast decoder skips. Each request of the corpus is answered twice, from protobuf's
// full decoding and from the fast one, and the answers must be identical; the corpus varies every
// skipped field (peers, host, scheme, time, body, metadata...), so a Check that starts reading one
// fails here until the field is added to the decoder. Variants of one request differing only in
// skipped fields must be answered alike too.
func TestCheckReadsOnlyDecodedFields(t *testing.T) {
	server := guardServer(t)
	tokens := map[string]string{
		"user":         "user",
		"admin":        "admin",
		"expired":      "expired",
		"other client": "other-client",
		"malformed":    "not-a-token",
		"none":         "",
	}

	type base struct {
		name            string
		method, path    string
		headers         map[string]string
		headerMap       []*corev3.HeaderValue
		ctxExt          map[string]string
		noHTTP, noAttrs bool
	}
	var bases []base
	for tokenName, token := range tokens {
		bearer := map[string]string{}
		if token != "" {
			bearer["authorization"] = "Bearer " + token
		}
		for _, route := range []struct{ method, path string }{
			{"GET", "/api/admin/users"}, {"DELETE", "/api/admin/users"}, {"GET", "/api/items"},
			{"GET", "/public/logo.png"}, {"POST", "/home"}, {"", ""},
		} {
			bases = append(bases, base{name: tokenName + " " + route.method + " " + route.path, method: route.method, path: route.path, headers: bearer})
		}
		for _, ext := range []map[string]string{
			{"auth": "off"}, {"auth": "required", "groups": "admin"}, {"auth": "required", "scopes": "reports/read"},
			{"token_use": "id"}, {"auth": "bogus"},
		} {
			bases = append(bases, base{name: tokenName + " context_extensions " + ext["auth"] + ext["groups"] + ext["scopes"] + ext["token_use"],
				method: "GET", path: "/home", headers: bearer, ctxExt: ext})
		}
		bases = append(bases,
			base{name: tokenName + " x-access-token", method: "GET", path: "/api/items", headers: map[string]string{"x-access-token": token}},
			base{name: tokenName + " cookie", method: "GET", path: "/api/items", headers: map[string]string{"cookie": "theme=dark; access_token=" + token}},
			base{name: tokenName + " header_map", method: "GET", path: "/api/items", headerMap: []*corev3.HeaderValue{
				{Key: "Authorization", RawValue: []byte("Bearer " + token)}, {Key: "cookie", Value: "a=1"}, {Key: "cookie", RawValue: []byte("access_token=x")},
			}},
		)
	}
	bases = append(bases, base{name: "no http", noHTTP: true}, base{name: "no attributes", noAttrs: true})

	// Variants of the fields Check must not read.
	variants := []func(*authv3.CheckRequest){
		func(*authv3.CheckRequest) {}, // as envoyShapedRequest sends them
		func(r *authv3.CheckRequest) {
			a := r.Attributes
			a.Source, a.Destination, a.TlsSession, a.MetadataContext, a.RouteMetadataContext = nil, nil, nil, nil, nil
			a.Request.Time = nil
			h := a.Request.Http
			h.Id, h.Scheme, h.Protocol, h.Query, h.Fragment, h.Size, h.Body, h.RawBody = "", "", "", "", "", 0, "", nil
		},
		func(r *authv3.CheckRequest) {
			a := r.Attributes
			a.Source.Principal, a.Destination.Service = "spiffe://evil/sa/admin", "admin"
			a.TlsSession.Sni = "admin.example.com"
			a.MetadataContext = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{"x": stringStruct("auth", "off", "groups", "admin")}}
			h := a.Request.Http
			h.Scheme, h.Protocol, h.Query, h.Body = "https", "HTTP/2", "auth=off", "Bearer x"
		},
	}

	outcomes := map[string]bool{}
	for _, b := range bases {
		var first *authv3.CheckResponse
		for i, vary := range variants {
			req := envoyShapedRequest("unused", false)
			attrs := req.Attributes
			attrs.ContextExtensions = b.ctxExt
			h := attrs.Request.Http
			h.Method, h.Path, h.Headers = b.method, b.path, b.headers
			h.HeaderMap = nil
			if b.headerMap != nil {
				h.HeaderMap = &corev3.HeaderMap{Headers: b.headerMap}
			}
			vary(req)
			if b.noHTTP {
				attrs.Request.Http = nil
			}
			if b.noAttrs {
				req.Attributes = nil
			}
			wire, err := proto.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			full, fast, protoErr, fastErr := decodeBoth(wire)
			if protoErr != nil || fastErr != nil {
				t.Fatalf("%s: decoding: %v, %v", b.name, protoErr, fastErr)
			}
			fromFull, _ := server.Check(context.Background(), full)
			fromFast, _ := server.Check(context.Background(), fast)
			if !proto.Equal(fromFull, fromFast) {
				t.Errorf("%s, variant %d: answer from the full request %v\nfrom the fast-decoded one %v", b.name, i, fromFull, fromFast)
			}
			if first == nil {
				first = fromFull
			} else if !proto.Equal(first, fromFull) {
				t.Errorf("%s: variant %d is answered %v, variant 0 %v", b.name, i, fromFull, first)
			}
			outcomes[outcome(fromFull)] = true
		}
	}
	// The corpus must reach every kind of answer, or it guards little.
	for _, want := range []string{"authenticated", "anonymous", "skipped", "denied 401", "denied 403"} {
		if !outcomes[want] {
			t.Errorf("no request of the corpus was answered %s (got %v)", want, outcomes)
		}
	}
}

// outcome names the kind of answer: x-auth-status of an OK one, "skipped" when it sets none,
// or the denial's status.
func outcome(resp *authv3.CheckResponse) string {
	if d := resp.GetDeniedResponse(); d != nil {
		return "denied " + strconv.Itoa(int(d.GetStatus().GetCode()))
	}
	for _, h := range resp.GetOkResponse().GetHeaders() {
		if h.GetHeader().GetKey() == "x-auth-status" {
			return h.GetHeader().GetValue()
		}
	}
	return "skipped"
}

// BenchmarkDecodeCheckRequest is the decoder alone, without the codec around it (BenchmarkCodec
// has that): proto.Unmarshal against decodeCheckRequest, into a new message each time as gRPC
// decodes.
func BenchmarkDecodeCheckRequest(b *testing.B) {
	decoders := []struct {
		name   string
		decode func([]byte, *authv3.CheckRequest) error
	}{
		{"proto", func(wire []byte, req *authv3.CheckRequest) error { return proto.Unmarshal(wire, req) }},
		{"fast", decodeCheckRequest},
	}
	requests := []struct {
		name string
		wire []byte
	}{
		{"token-headers", mustMarshal(b, envoytest.CheckRequest(envoytest.Token, false))},
		{"all-headers", mustMarshal(b, envoytest.CheckRequest(envoytest.Token, true))},
		{"every-attribute", mustMarshal(b, envoyShapedRequest(envoytest.Token, true))},
	}
	for _, d := range decoders {
		for _, req := range requests {
			b.Run(d.name+"/"+req.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(req.wire)))
				for b.Loop() {
					if err := d.decode(req.wire, new(authv3.CheckRequest)); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
