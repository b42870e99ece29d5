// Package envoytest holds fixtures of Envoy's side of ext_authz for tests: the CheckRequest its
// filter sends. Only tests import it.
package envoytest

import (
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Token has the length of a Cognito access token, for requests whose token nothing verifies (the
// decoder does not look inside it).
var Token = strings.Repeat("eyJraWQiOiJrMSIsImFsZyI6IlJTMjU2In0", 30)

// CheckRequest is a CheckRequest as Envoy 1.40's ext_authz filter builds it for a GET from
// an HTTP/1.1 client. allHeaders: every request header, as without allowed_headers; otherwise
// only authorization, as with the allowed_headers of testenv/envoyconf.
func CheckRequest(token string, allHeaders bool) *authv3.CheckRequest {
	headers := map[string]string{"authorization": "Bearer " + token}
	if allHeaders {
		for k, v := range map[string]string{
			":authority": "127.0.0.1:8000", ":method": "GET", ":path": "/api/activities/home", ":scheme": "http",
			"accept-encoding": "gzip", "user-agent": "Go-http-client/1.1", "x-envoy-external-address": "127.0.0.1",
			"x-forwarded-for": "127.0.0.1", "x-forwarded-proto": "http", "x-request-id": "cc88aa2d-d0ac-46f7-8f76-4e66012447b8",
		} {
			headers[k] = v
		}
	}
	peer := func(port uint32) *authv3.AttributeContext_Peer {
		return &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: "127.0.0.1", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port}},
		}}}
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:      peer(57420),
		Destination: peer(8000),
		Request: &authv3.AttributeContext_Request{
			Time: &timestamppb.Timestamp{Seconds: 1795952981, Nanos: 170481000},
			Http: &authv3.AttributeContext_HttpRequest{
				Id: "11650399440608264115", Method: "GET", Headers: headers,
				Path: "/api/activities/home", Host: "127.0.0.1:8000", Scheme: "http", Protocol: "HTTP/1.1",
			},
		},
		MetadataContext:      &corev3.Metadata{},
		RouteMetadataContext: &corev3.Metadata{},
	}}
}
