package authz

import "google.golang.org/grpc/mem"

// SetEncoded and Encoded let the external tests see an answer's kept encoding.
func SetEncoded(a *Answer, wire []byte) { a.setEncoded(wire) }

func Encoded(a *Answer) mem.BufferSlice { return a.encoded() }

// JoinHeaders is joinHeaders, for the benchmark of repeated headers in package authz_test.
var JoinHeaders = joinHeaders
