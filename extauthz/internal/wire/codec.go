// Package wire is the service's side of Envoy's ext_authz gRPC wire: the gRPC codec of the
// listener, its hand-written CheckRequest decoder, and the Check method served so that an answer is
// encoded once.
//
// Its contract with package authz:
//   - Decoding. A CheckRequest is decoded by decodeCheckRequest, not protobuf, whatever the build
//     tags. It fills only attributes.request.http's method, path, headers and header_map, and
//     attributes.context_extensions, and skips everything else Envoy sends (peers, time, host,
//     metadata, TLS session, body...), checking only its framing: decoding all of it cost a sixth of
//     the service's CPU per check and most of its allocations, for fields nothing reads.
//     authz.Server.Check must read only those fields; one it starts reading must be added to the
//     decoder, or Check sees it empty. TestCheckReadsOnlyDecodedFields fails until it is. Bad content
//     in a skipped field (invalid UTF-8 in host, say) is not an error, as it would be for protobuf.
//   - Encoding. Register serves Check through authz.Server.CheckAnswer, which gives an
//     *authz.Answer; the codec encodes its response once and keeps the bytes in it
//     (authz.Answer.SetEncoded), so they live exactly as long as the answer (for a verified token,
//     its entry in the verifier's cache). CheckResponses are encoded with go-control-plane's
//     generated vtprotobuf code when built with -tags vtprotobuf, else with protobuf; every other
//     message (grpc.health.v1) goes through grpc's own proto codec, both ways.
package wire

import (
	"context"
	"errors"
	"fmt"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/authz"
)

// vtMarshaler is the encoder protoc-gen-go-vtproto generates beside go-control-plane's Envoy types
// (CheckResponse and everything in it, Struct included through vtprotobuf's well-known types). The
// generated files carry the build tag vtprotobuf: without `-tags vtprotobuf` no message has
// these methods and every one goes through protobuf's reflection encoder.
type vtMarshaler interface {
	SizeVT() int
	MarshalToSizedBufferVTStrict(dAtA []byte) (int, error)
}

// codec is the gRPC codec of the service's listener (package doc), installed with
// grpc.ForceServerCodecV2 so it applies to this server only. Encoding a CheckResponse with
// generated code costs a fifth of protobuf's reflection (BenchmarkCodec).
type codec struct {
	proto encoding.CodecV2
	// decode is decodeCheckRequest (tests replace it); decodePanicked hears of each panic in it.
	decode         func([]byte, *authv3.CheckRequest) error
	decodePanicked func(p any)
}

// errDecodePanicked is the error of a request whose decoding panicked.
var errDecodePanicked = errors.New("wire: decoding the CheckRequest panicked; refused")

// NewCodec returns the codec, for grpc.ForceServerCodecV2; decodePanicked (which may be nil) is
// called with the value of each panic in decoding a CheckRequest, and must not panic itself.
func NewCodec(decodePanicked func(p any)) (encoding.CodecV2, error) { return newCodec(decodePanicked) }

func newCodec(decodePanicked func(p any)) (codec, error) {
	c := codec{proto: encoding.GetCodecV2(protocodec.Name), decode: decodeCheckRequest, decodePanicked: decodePanicked}
	if c.proto == nil {
		return c, fmt.Errorf("wire: grpc's %q codec is not registered", protocodec.Name)
	}
	return c, nil
}

// Name is the content-subtype grpc answers with; a forced codec is used whatever the request's.
func (codec) Name() string { return protocodec.Name }

// Unmarshal decodes a CheckRequest with decodeCheckRequest. It runs in gRPC's transport, outside
// authz.Server.Check and its recover, where a panic would end the process: a panic in decoding
// fails this one call instead (Envoy answers 503, never a pass), reported to decodePanicked.
func (c codec) Unmarshal(data mem.BufferSlice, v any) (err error) {
	req, ok := v.(*authv3.CheckRequest)
	if !ok {
		return c.proto.Unmarshal(data, v)
	}
	defer func() {
		if p := recover(); p != nil {
			req.Reset()
			if c.decodePanicked != nil {
				c.decodePanicked(p)
			}
			err = errDecodePanicked
		}
	}()
	if len(data) == 1 { // the usual case: read in place, the decoder copies what it keeps
		return c.decode(data[0].ReadOnlyData(), req)
	}
	// In pieces (a request spread over several HTTP/2 DATA frames): joined in a pooled buffer,
	// as grpc's codec does.
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	return c.decode(buf.ReadOnlyData(), req)
}

func (c codec) Marshal(v any) (mem.BufferSlice, error) {
	answer, ok := v.(*authz.Answer)
	if !ok || answer == nil {
		return c.marshal(v)
	}
	if encoded := answer.Encoded(); encoded != nil {
		return encoded, nil // one copy serves every stream
	}
	data, err := c.marshal(answer.Response())
	if err != nil {
		return nil, err
	}
	// Kept as a plain slice of its own: a pooled buffer goes back to the pool once written. Two
	// checks racing on a new answer both encode it; either encoding is kept.
	wire := data.Materialize()
	data.Free()
	answer.SetEncoded(wire)
	return answer.Encoded(), nil
}

// marshal encodes v with its generated vtprotobuf code when it has it, else with protobuf.
func (c codec) marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(vtMarshaler)
	if !ok {
		return c.proto.Marshal(v)
	}
	size := m.SizeVT()
	// Like grpc's codec: small messages (every answer Check gives) are a plain slice, larger ones
	// come from the pool gRPC returns them to once written.
	if mem.IsBelowBufferPoolingThreshold(size) {
		buf := make([]byte, size)
		if err := marshalVT(m, buf); err != nil {
			return nil, err
		}
		return mem.BufferSlice{mem.SliceBuffer(buf)}, nil
	}
	pool := mem.DefaultBufferPool()
	buf := pool.Get(size)
	if err := marshalVT(m, (*buf)[:size]); err != nil {
		pool.Put(buf)
		return nil, err
	}
	return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
}

// marshalVT fills buf, which is exactly m's size. The generated encoder writes from the end
// backwards, so a message changed since SizeVT would leave garbage at the front: refuse it.
func marshalVT(m vtMarshaler, buf []byte) error {
	n, err := m.MarshalToSizedBufferVTStrict(buf)
	if err != nil {
		return fmt.Errorf("marshal %T: %w", m, err)
	}
	if n != len(buf) {
		return fmt.Errorf("marshal %T: wrote %d bytes, sized %d (modified while encoding?)", m, n, len(buf))
	}
	return nil
}

// Answerer is what Register serves: Check, giving its answer as an *authz.Answer
// (authz.Server.CheckAnswer).
type Answerer interface {
	CheckAnswer(ctx context.Context, req *authv3.CheckRequest) (*authz.Answer, error)
}

// Register registers s as envoy.service.auth.v3.Authorization on g.
func Register(g *grpc.Server, s Answerer) { g.RegisterService(&checkServiceDesc, s) }

// checkServiceDesc is envoy.service.auth.v3.Authorization as generated, except that its Check
// handler hands the codec an *authz.Answer instead of the *CheckResponse in it, so the codec can
// keep the encoding with the answer (codec).
var checkServiceDesc = grpc.ServiceDesc{
	ServiceName: authv3.Authorization_ServiceDesc.ServiceName,
	HandlerType: (*Answerer)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Check", Handler: checkHandler}},
	Metadata:    authv3.Authorization_ServiceDesc.Metadata,
}

func checkHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	req := new(authv3.CheckRequest)
	if err := dec(req); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return srv.(Answerer).CheckAnswer(ctx, req)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: authv3.Authorization_Check_FullMethodName}
	return interceptor(ctx, req, info, func(ctx context.Context, req any) (any, error) {
		return srv.(Answerer).CheckAnswer(ctx, req.(*authv3.CheckRequest))
	})
}
