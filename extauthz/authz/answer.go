package authz

import (
	"sync/atomic"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// Answer is one response Check gives, with room for its wire encoding: the gRPC codec encodes an
// answer once and keeps the bytes in it (package wire), so they live exactly as long as the
// answer. Answers to a verified token are kept in the verifier's cache entry of that token
// (verifier.Claims.Memo): one entry holds the claims, the answer and its encoding, bounded by
// cache.max_entries (docs/reference.md) and dropped when the token expires or its issuer's keys
// change. The other answers (anonymous, skipped, denials) are built once per Server.
//
// An Answer and its Response are shared between calls and read-only.
type Answer struct {
	Response authv3.CheckResponse
	encoded  atomic.Pointer[[]byte]
}

// Encoded returns the encoding kept by SetEncoded, or nil.
func (a *Answer) Encoded() []byte {
	if p := a.encoded.Load(); p != nil {
		return *p
	}
	return nil
}

// SetEncoded keeps the wire encoding of a.Response; it must not be modified afterwards.
func (a *Answer) SetEncoded(wire []byte) { a.encoded.Store(&wire) }
