package runner

import (
	"errors"
	"fmt"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	lru "github.com/hashicorp/golang-lru/v2"
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
// protobuf's reflection (BenchmarkCodec); every other message (grpc.health.v1) is grpc's own
// proto codec, both ways.
//
// A CheckRequest is decoded by decodeCheckRequest, not protobuf, whatever the build tags: it
// fills only what authz.Server.Check reads (attributes.request.http's method, path, headers and
// header_map, and attributes.context_extensions) and skips everything else Envoy sends (peers,
// time, host, metadata, TLS session, body...), checking only its framing. Decoding all of it cost
// a sixth of the service's CPU per check and most of its allocations, for fields nothing reads.
// Two consequences: bad content in a skipped field (invalid UTF-8 in host, say) is no longer an
// error, and a field Check starts reading must be added to decodeCheckRequest, or Check sees it
// empty; TestCheckReadsOnlyDecodedFields fails until it is.
//
// A CheckResponse is encoded once and its bytes remembered: authz.Server.Check gives the same
// few responses again and again (built once per kind of answer, and once per verified token for
// authenticated ones), and it never changes one it has given (its contract). The encodings are
// remembered by the response's identity in a bounded cache that holds the response itself, so no
// other response can take its address while its bytes are remembered.
type codec struct {
	proto   encoding.CodecV2
	encoded *lru.Cache[*authv3.CheckResponse, []byte]
	// decode is decodeCheckRequest (tests replace it); decodePanicked hears of each panic in it.
	decode         func([]byte, *authv3.CheckRequest) error
	decodePanicked func(p any)
}

// errDecodePanicked is the error of a request whose decoding panicked.
var errDecodePanicked = errors.New("runner: decoding the CheckRequest panicked; refused")

// encodedResponses bounds the encodings remembered: more than the answers authz keeps (its
// canned ones and up to 8192 authenticated), at a few hundred bytes each.
const encodedResponses = 10000

// newCodec returns the codec; decodePanicked (which may be nil) is called with the value of each
// panic in decoding a CheckRequest, and must not panic itself.
func newCodec(decodePanicked func(p any)) (codec, error) {
	c := codec{proto: encoding.GetCodecV2(protocodec.Name), decode: decodeCheckRequest, decodePanicked: decodePanicked}
	if c.proto == nil {
		return c, fmt.Errorf("runner: grpc's %q codec is not registered", protocodec.Name)
	}
	var err error
	if c.encoded, err = lru.New[*authv3.CheckResponse, []byte](encodedResponses); err != nil {
		return c, fmt.Errorf("runner: %w", err)
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
	resp, ok := v.(*authv3.CheckResponse)
	if !ok || resp == nil {
		return c.marshal(v)
	}
	// Peek, not Get: a read lock only, and no reordering on every check. Entries then leave in the
	// order they came; one still in use is encoded again once.
	if wire, ok := c.encoded.Peek(resp); ok {
		// gRPC only reads a SliceBuffer (and frees it as a no-op): one copy serves every stream.
		return mem.BufferSlice{mem.SliceBuffer(wire)}, nil
	}
	data, err := c.marshal(resp)
	if err != nil {
		return nil, err
	}
	// Kept as a plain slice of its own: a pooled buffer goes back to the pool once written.
	wire := data.Materialize()
	data.Free()
	c.encoded.Add(resp, wire)
	return mem.BufferSlice{mem.SliceBuffer(wire)}, nil
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
