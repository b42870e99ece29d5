package authz

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/envoytest"
)

// clientID is the app client of the answers' tokens.
const clientID = "client-1"

func stringStruct(kv ...string) *structpb.Struct {
	s := &structpb.Struct{Fields: map[string]*structpb.Value{}}
	for i := 0; i+1 < len(kv); i += 2 {
		s.Fields[kv[i]] = structpb.NewStringValue(kv[i+1])
	}
	return s
}

// sampleAuthenticatedResponse has the shape of authz's answer to a verified access token: identity
// headers set, the unset ones removed, dynamic metadata.
func sampleAuthenticatedResponse() *authv3.CheckResponse {
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
			Headers: []*corev3.HeaderValueOption{
				setHeader("x-user-sub", "5f1c2e4a-0b7d-4c49-9a8e-3d2f6b1c0e99"),
				setHeader("x-user-name", "alice"),
				setHeader("x-user-groups", "admin,users"),
				setHeader("x-user-scopes", "openid reports/read reports/export"),
				setHeader("x-user-client-id", clientID),
				setHeader("x-user-token-use", "access"),
				setHeader("x-auth-status", "authenticated"),
			},
			HeadersToRemove: []string{"x-user-email", "x-auth-reason"},
		}},
		DynamicMetadata: stringStruct("auth_status", "authenticated", "sub", "5f1c2e4a-0b7d-4c49-9a8e-3d2f6b1c0e99",
			"username", "alice", "groups", "admin,users", "client_id", clientID, "token_use", "access"),
	}
}

// deniedResponse is a 401 with a body, bigger than grpc's buffer pooling threshold when body is.
func deniedResponse(body string) *authv3.CheckResponse {
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(codes.Unauthenticated), Message: "unauthenticated: expired"},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status: &typev3.HttpStatus{Code: typev3.StatusCode_Unauthorized},
			Headers: []*corev3.HeaderValueOption{
				setHeader("content-type", "application/json"),
				setHeader("www-authenticate", `Bearer realm="cognito-authz", error="invalid_token", error_description="expired"`),
			},
			Body: body,
		}},
		DynamicMetadata: stringStruct("auth_status", "unauthenticated", "reason", "expired"),
	}
}

func newTestCodec(t testing.TB) codec {
	t.Helper()
	c, err := newCodec(nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCodecRoundTrip: whatever encoder the build has, the bytes decode to the message sent, and
// what the codec decodes equals protobuf's own decoding (for a CheckRequest, in the fields
// decodeCheckRequest fills).
func TestCodecRoundTrip(t *testing.T) {
	c := newTestCodec(t)
	tests := []struct {
		name string
		msg  proto.Message
	}{
		{"authenticated answer", sampleAuthenticatedResponse()},
		{"denial", deniedResponse(`{"error":"unauthenticated","reason":"expired"}`)},
		{"denial bigger than the pooling threshold", deniedResponse(strings.Repeat("x", 64<<10))},
		{"empty answer", &authv3.CheckResponse{}},
		{"check request, every header", envoytest.CheckRequest("aaa.bbb.ccc", true)},
		{"check request, token headers only", envoytest.CheckRequest("aaa.bbb.ccc", false)},
		{"health answer", &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := c.Marshal(tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			wire := data.Materialize()
			data.Free()
			decoded := tt.msg.ProtoReflect().New().Interface()
			if err := proto.Unmarshal(wire, decoded); err != nil {
				t.Fatalf("protobuf cannot decode the codec's bytes: %v", err)
			}
			if !proto.Equal(decoded, tt.msg) {
				t.Errorf("codec encoded %v, decoded as %v", tt.msg, decoded)
			}

			plain, err := proto.Marshal(tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			viaCodec := tt.msg.ProtoReflect().New().Interface()
			if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(plain)}, viaCodec); err != nil {
				t.Fatal(err)
			}
			want := tt.msg
			if req, ok := tt.msg.(*authv3.CheckRequest); ok {
				want = projection(req)
			}
			if !proto.Equal(viaCodec, want) {
				t.Errorf("codec decoded %v, want %v", viaCodec, want)
			}
		})
	}
}

// TestCodecDecodesCheckRequestsInPlace: a CheckRequest is decoded by decodeCheckRequest whether
// gRPC hands over one buffer or several, and keeps nothing of them (gRPC reuses them).
func TestCodecDecodesCheckRequestsInPlace(t *testing.T) {
	c := newTestCodec(t)
	sent := envoyShapedRequest("aaa.bbb.ccc", true)
	wire, err := proto.Marshal(sent)
	if err != nil {
		t.Fatal(err)
	}
	split := func(sizes ...int) mem.BufferSlice {
		var data mem.BufferSlice
		rest := slices.Clone(wire)
		for _, n := range sizes {
			data, rest = append(data, mem.SliceBuffer(rest[:n])), rest[n:]
		}
		return append(data, mem.SliceBuffer(rest))
	}
	tests := []struct {
		name string
		data mem.BufferSlice
	}{
		{"one buffer", split()},
		{"two buffers", split(len(wire) / 2)},
		{"a buffer a byte", split(slices.Repeat([]int{1}, len(wire)-1)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got authv3.CheckRequest
			if err := c.Unmarshal(tt.data, &got); err != nil {
				t.Fatal(err)
			}
			for _, buf := range tt.data {
				clear(buf.ReadOnlyData()) // what reuse would do
			}
			// Only the projection: proof the fast decoder ran, since protobuf would fill the rest.
			if want := projection(sent); !proto.Equal(&got, want) {
				t.Errorf("decoded %v, want %v", &got, want)
			}
		})
	}
}

func TestCodecRejects(t *testing.T) {
	c := newTestCodec(t)
	if _, err := c.Marshal("not a message"); err == nil {
		t.Error("Marshal of a string: no error")
	}
	if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer([]byte{0xff, 0xff})}, &authv3.CheckRequest{}); err == nil {
		t.Error("Unmarshal of junk: no error")
	}
	if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(withHTTP(strField(httpMethod, badUTF8)))}, &authv3.CheckRequest{}); err == nil {
		t.Error("Unmarshal of a CheckRequest with a method that is not UTF-8: no error")
	}
	if err := c.Unmarshal(mem.BufferSlice{}, "not a message"); err == nil {
		t.Error("Unmarshal into a string: no error")
	}
	if got := c.Name(); got != "proto" {
		t.Errorf("Name() = %q, want proto (the content-subtype Envoy sends)", got)
	}
}

// badVT is a generated encoder gone wrong: it fails, or writes fewer bytes than it sized (what a
// message changed between SizeVT and marshalling would do).
type badVT struct {
	size, wrote int
	err         error
}

func (b badVT) SizeVT() int { return b.size }
func (b badVT) MarshalToSizedBufferVTStrict([]byte) (int, error) {
	return b.wrote, b.err
}

func TestCodecRefusesABrokenEncoding(t *testing.T) {
	c := newTestCodec(t)
	tests := []struct {
		name string
		msg  badVT
		want string
	}{
		{"encoder error", badVT{size: 10, err: errors.New("boom")}, "boom"},
		{"short write", badVT{size: 10, wrote: 7}, "wrote 7 bytes, sized 10"},
		{"short write, pooled buffer", badVT{size: 64 << 10, wrote: 7}, "wrote 7 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := c.Marshal(tt.msg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Marshal = %d bytes, %v; want an error with %q", data.Len(), err, tt.want)
			}
		})
	}
}

// TestCodecRemembersEncodings: the same answer is encoded once and its bytes, kept in the answer,
// served again without allocating; another answer (even an equal one) gets its own encoding, and
// the bytes are protobuf's. A bare CheckResponse is encoded every time: the codec keeps nothing of
// its own.
func TestCodecRemembersEncodings(t *testing.T) {
	c := newTestCodec(t)
	encode := func(msg any) []byte {
		t.Helper()
		data, err := c.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) != 1 {
			t.Fatalf("encoding in %d buffers, want 1", len(data))
		}
		return data[0].ReadOnlyData()
	}
	alice, bob := newAnswer(sampleAuthenticatedResponse()), newAnswer(sampleAuthenticatedResponse())
	bob.Response().GetOkResponse().Headers[0].Header.Value = "another-sub"

	first, again := encode(alice), encode(alice)
	if &first[0] != &again[0] {
		t.Error("the same answer was encoded twice")
	}
	if kept := alice.encoded(); len(kept) != 1 || &kept[0].ReadOnlyData()[0] != &first[0] {
		t.Error("the encoding is not kept in the answer")
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = c.Marshal(alice) }); allocs != 0 {
		t.Errorf("serving a kept encoding allocates %v times", allocs)
	}
	if bob.encoded() != nil {
		t.Error("an answer not yet encoded has an encoding")
	}
	for name, tt := range map[string]struct {
		resp *authv3.CheckResponse
		wire []byte
	}{"alice": {alice.Response(), again}, "bob": {bob.Response(), encode(bob)}} {
		var decoded authv3.CheckResponse
		if err := proto.Unmarshal(tt.wire, &decoded); err != nil || !proto.Equal(&decoded, tt.resp) {
			t.Errorf("%s: remembered bytes decode to %v (%v), want %v", name, &decoded, err, tt.resp)
		}
	}
	if equal := newAnswer(sampleAuthenticatedResponse()); &encode(equal)[0] == &first[0] {
		t.Error("an equal but different answer was served another's bytes")
	}
	bare := sampleAuthenticatedResponse()
	if once, twice := encode(bare), encode(bare); &once[0] == &twice[0] {
		t.Error("a bare CheckResponse's encoding was remembered")
	}
}

// panicStub is a Check service that answers OK and counts its calls.
type panicStub struct {
	authv3.UnimplementedAuthorizationServer
	calls atomic.Int64
}

func (s *panicStub) Check(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	s.calls.Add(1)
	return &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(codes.OK)}}, nil
}

// TestDecodePanicFailsClosed: the request decoder runs in gRPC's transport, outside Check's
// recover. A panic in it fails that one call (Envoy answers 503: never a pass), is reported, and
// the server goes on answering.
func TestDecodePanicFailsClosed(t *testing.T) {
	var panics []any
	c, err := newCodec(func(p any) { panics = append(panics, p) })
	if err != nil {
		t.Fatal(err)
	}
	c.decode = func(b []byte, req *authv3.CheckRequest) error {
		if err := decodeCheckRequest(b, req); err != nil {
			return err
		}
		if req.GetAttributes().GetRequest().GetHttp().GetPath() == "/boom" {
			var headers []string
			_ = headers[len(req.GetAttributes().GetRequest().GetHttp().GetPath())] // index out of range
		}
		return nil
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.ForceServerCodecV2(c))
	stub := &panicStub{}
	authv3.RegisterAuthorizationServer(srv, stub)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///"+lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	client := authv3.NewAuthorizationClient(conn)
	call := func(path string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := client.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
			Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: path},
		}}})
		return err
	}

	if err := call("/boom"); status.Code(err) == codes.OK || stub.calls.Load() != 0 {
		t.Fatalf("a request whose decoding panicked: %v, Check called %d times; want an error before Check", err, stub.calls.Load())
	}
	if len(panics) != 1 {
		t.Fatalf("panics reported: %v, want the one", panics)
	}
	if err := call("/fine"); err != nil || stub.calls.Load() != 1 {
		t.Fatalf("the next request: %v (Check called %d times); the server must go on", err, stub.calls.Load())
	}
}
