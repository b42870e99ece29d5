package authz

import (
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/envoytest"
)

// The benchmark names are tracked across changes (docs/performance.md): keep them.

// BenchmarkCodec is the codec's share of one check: decoding Envoy's CheckRequest (with every
// header, and with only the token's headers as allowed_headers sends) and encoding the answer to a
// verified token, through grpc's proto codec and through the service's. The service's encoder is
// generated code only when built with -tags vtprotobuf.
func BenchmarkCodec(b *testing.B) {
	codecs := []struct {
		name  string
		codec encoding.CodecV2
	}{
		{"grpc-proto", encoding.GetCodecV2(protocodec.Name)},
		{"service", newTestCodec(b)},
	}
	requests := []struct {
		name string
		wire []byte
	}{
		{"decode-all-headers", mustMarshal(b, envoytest.CheckRequest(envoytest.Token, true))},
		{"decode-token-headers", mustMarshal(b, envoytest.CheckRequest(envoytest.Token, false))},
	}
	answer := newAnswer(sampleAuthenticatedResponse())
	for _, c := range codecs {
		for _, req := range requests {
			b.Run(c.name+"/"+req.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(req.wire)))
				for b.Loop() {
					var decoded authv3.CheckRequest
					if err := c.codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(req.wire)}, &decoded); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		// The service's codec keeps an answer's encoding in it: the same answer again is a load.
		// (grpc's codec encodes the answer's response each time.)
		msg := any(answer)
		if c.name == "grpc-proto" {
			msg = answer.Response()
		}
		b.Run(c.name+"/encode-authenticated", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				data, err := c.codec.Marshal(msg)
				if err != nil {
					b.Fatal(err)
				}
				data.Free()
			}
		})
		// A new answer each time: what the first check of a token costs.
		b.Run(c.name+"/encode-authenticated-new", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				var fresh any = newAnswer(proto.Clone(answer.Response()).(*authv3.CheckResponse))
				if c.name == "grpc-proto" {
					fresh = proto.Clone(answer.Response())
				}
				b.StartTimer()
				data, err := c.codec.Marshal(fresh)
				if err != nil {
					b.Fatal(err)
				}
				data.Free()
			}
		})
	}
}

func mustMarshal(b *testing.B, m proto.Message) []byte {
	b.Helper()
	wire, err := proto.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	return wire
}
