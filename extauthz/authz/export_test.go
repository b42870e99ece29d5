package authz

// JoinHeaders is joinHeaders, for the benchmark of repeated headers in package authz_test.
var JoinHeaders = joinHeaders
