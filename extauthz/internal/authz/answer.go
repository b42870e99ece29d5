package authz

import (
	"sync/atomic"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/mem"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/verifier"
)

// Answer is one answer CheckAnswer gives: its CheckResponse and, once the gRPC codec has encoded
// it (codec.go), its encoding, kept so that an answer is encoded once.
//
// The answer to a verified token is kept in the verifier's cache entry of that token
// (verifier.Slot[Answer]): one entry holds the claims, the answer and its encoding, bounded by
// cache.max_entries (docs/reference.md) and dropped when the token expires or its issuer's keys
// change. Once encoded, such an answer lets go of its CheckResponse, which the gRPC path no longer
// needs, and builds it again from the claims if Check asks for it: a cached token costs its
// claims and its encoding, not a tree of protobuf messages too. The other answers (anonymous,
// skipped, denials) are built once per Server and keep both.
//
// An Answer and its CheckResponse are shared between calls and read-only.
type Answer struct {
	response atomic.Pointer[authv3.CheckResponse]
	wire     atomic.Pointer[mem.BufferSlice]
	// Set for an authenticated answer, which can be built again from them.
	claims *verifier.Claims
	names  *headerNames
}

// newAnswer returns an answer that is resp.
func newAnswer(resp *authv3.CheckResponse) *Answer {
	a := new(Answer)
	a.response.Store(resp)
	return a
}

func (n *headerNames) authenticatedAnswer(c *verifier.Claims) *Answer {
	a := &Answer{claims: c, names: n}
	a.response.Store(n.authenticated(c))
	return a
}

// Response is the answer's CheckResponse.
func (a *Answer) Response() *authv3.CheckResponse {
	if r := a.response.Load(); r != nil {
		return r
	}
	r := a.names.authenticated(a.claims) // let go of once encoded: build it again
	a.response.Store(r)
	return r
}

// encoded returns the encoding kept by setEncoded, or nil. It is one read-only buffer that every
// call shares, built once so that handing it to gRPC allocates nothing; gRPC only reads it, and
// frees it as a no-op.
func (a *Answer) encoded() mem.BufferSlice {
	if p := a.wire.Load(); p != nil {
		return *p
	}
	return nil
}

// setEncoded keeps wire, the encoding of a.Response(); it must not be modified afterwards.
func (a *Answer) setEncoded(wire []byte) {
	encoded := mem.BufferSlice{mem.SliceBuffer(wire)}
	a.wire.Store(&encoded)
	if a.claims != nil {
		a.response.Store(nil)
	}
}
