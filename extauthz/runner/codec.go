package runner

import (
	"fmt"

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

// codec is the gRPC codec of the service's listener, installed with grpc.ForceServerCodecV2 so
// it applies to this server only. Encoding a CheckResponse with generated code costs a fifth of
// protobuf's reflection (BenchmarkCodec); every other message (grpc.health.v1) and every decode
// is grpc's own proto codec. go-control-plane generates no vtproto decoder, so requests are
// decoded by protobuf whatever the build tags; Envoy's allowed_headers keeps them small instead.
type codec struct {
	proto encoding.CodecV2
}

func newCodec() (codec, error) {
	c := codec{proto: encoding.GetCodecV2(protocodec.Name)}
	if c.proto == nil {
		return c, fmt.Errorf("runner: grpc's %q codec is not registered", protocodec.Name)
	}
	return c, nil
}

// Name is the content-subtype grpc answers with; a forced codec is used whatever the request's.
func (codec) Name() string { return protocodec.Name }

func (c codec) Unmarshal(data mem.BufferSlice, v any) error { return c.proto.Unmarshal(data, v) }

func (c codec) Marshal(v any) (mem.BufferSlice, error) {
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
