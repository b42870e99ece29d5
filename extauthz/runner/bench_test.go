package runner

import (
	"context"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/cognito-authz/cognito-authz/internal/testkit"
)

// The benchmark names are tracked across changes (docs/performance.md): keep them.

// benchToken has the length of a Cognito access token; the decoder does not look inside it.
var benchToken = strings.Repeat("eyJraWQiOiJrMSIsImFsZyI6IlJTMjU2In0", 30)

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
		{"decode-all-headers", mustMarshal(b, envoyCheckRequest(benchToken, true))},
		{"decode-token-headers", mustMarshal(b, envoyCheckRequest(benchToken, false))},
	}
	resp := authenticatedResponse()
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
		// The service's codec remembers what it encoded: the same answer again is a lookup.
		b.Run(c.name+"/encode-authenticated", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				data, err := c.codec.Marshal(resp)
				if err != nil {
					b.Fatal(err)
				}
				data.Free()
			}
		})
		// A new answer each time (more distinct answers than the codec remembers, in turn): what
		// the first check of a token costs.
		fresh := make([]proto.Message, 2*encodedResponses)
		for i := range fresh {
			fresh[i] = proto.Clone(resp)
		}
		b.Run(c.name+"/encode-authenticated-new", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				data, err := c.codec.Marshal(fresh[i%len(fresh)])
				if err != nil {
					b.Fatal(err)
				}
				data.Free()
				i++
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

// BenchmarkCheckOverGRPCParallel is a whole check through the running service over loopback
// gRPC with a token the service has verified before: transport, codec, Check and the gRPC
// client's own share. Eight callers per core keep several checks in flight on one connection, as
// Envoy does under load.
func BenchmarkCheckOverGRPCParallel(b *testing.B) {
	key := newKeyPair(b, "k1")
	jwks := newJWKSServer(b, key)
	cfg := testConfig(jwks)
	r, err := New(cfg, zap.NewNop()) // a log line per check would be measured too
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.Shutdown(ctx)
	})
	testkit.Eventually(b, "keys loaded", r.Ready)
	client := authv3.NewAuthorizationClient(dial(b, r.GRPCAddr(), nil))
	req := envoyCheckRequest(key.Sign(b, accessClaims(cfg.Issuers[0].Issuer, clientID)), false)
	check := func() bool {
		resp, err := client.Check(context.Background(), req)
		return err == nil && authStatus(resp) == "authenticated"
	}
	if !check() {
		b.Fatal("the token does not authenticate")
	}
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !check() {
				b.Error("not authenticated")
				return
			}
		}
	})
}
