package authz

import (
	"context"
	"errors"
	"fmt"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
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
var errDecodePanicked = errors.New("authz: decoding the CheckRequest panicked; refused")

// NewCodec returns the codec, for grpc.ForceServerCodecV2; decodePanicked (which may be nil) is
// called with the value of each panic in decoding a CheckRequest, and must not panic itself.
func NewCodec(decodePanicked func(p any)) (encoding.CodecV2, error) { return newCodec(decodePanicked) }

func newCodec(decodePanicked func(p any)) (codec, error) {
	c := codec{proto: encoding.GetCodecV2(protocodec.Name), decode: decodeCheckRequest, decodePanicked: decodePanicked}
	if c.proto == nil {
		return c, fmt.Errorf("authz: grpc's %q codec is not registered", protocodec.Name)
	}
	return c, nil
}

// Name is the content-subtype grpc answers with; a forced codec is used whatever the request's.
func (codec) Name() string { return protocodec.Name }

// Unmarshal decodes a CheckRequest with decodeCheckRequest. It runs in gRPC's transport, outside
// Server.Check and its recover, where a panic would end the process: a panic in decoding
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
	answer, ok := v.(*Answer)
	if !ok || answer == nil {
		return c.marshal(v)
	}
	if encoded := answer.encoded(); encoded != nil {
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
	answer.setEncoded(wire)
	return answer.encoded(), nil
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

// Answerer is what Register serves: Check, giving its answer as an *Answer
// (Server.CheckAnswer).
type Answerer interface {
	CheckAnswer(ctx context.Context, req *authv3.CheckRequest) (*Answer, error)
}

// Register registers s as envoy.service.auth.v3.Authorization on g.
func Register(g *grpc.Server, s Answerer) { g.RegisterService(&checkServiceDesc, s) }

// checkServiceDesc is envoy.service.auth.v3.Authorization as generated, except that its Check
// handler hands the codec an *Answer instead of the *CheckResponse in it, so the codec can
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
