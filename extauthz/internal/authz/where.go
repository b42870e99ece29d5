package authz

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/policy"
)

// requestHosts appends every host the request names: Envoy's host attribute (its :authority,
// sent whatever allowed_headers says) and the :authority and host headers when they were passed
// on too (the HTTP endpoint sends X-Forwarded-Host as :authority). Each is a reading of the
// request (policy.Config.RequirementAt): when they disagree, the strictest rule wins. None
// leaves the host unknown, which the policy reads as every host.
func requestHosts(http *authv3.AttributeContext_HttpRequest, headers map[string]string, out []string) []string {
	if v := http.GetHost(); v != "" {
		out = append(out, v)
	}
	for _, name := range [...]string{":authority", "host"} {
		if v := headers[name]; v != "" && (len(out) == 0 || v != out[0]) {
			out = append(out, v)
		}
	}
	return out
}

// signInRedirect is the answer that sends an unauthenticated browser navigation to the sign-in
// page (policy.Config.SignInLocation): 302 with Location, no body. It depends on the path, so it
// is built per request; only unauthenticated navigations to redirect routes pay for it.
func signInRedirect(location string, d policy.Decision) *Answer {
	return newAnswer(&authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(codes.Unauthenticated), Message: string(d.Result) + ": " + string(d.Reason)},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status: &typev3.HttpStatus{Code: typev3.StatusCode_Found},
			Headers: []*corev3.HeaderValueOption{
				setHeader("location", location),
				setHeader("cache-control", "no-store"),
			},
		}},
		DynamicMetadata: meta(MetaAuthStatus, string(d.Result), MetaReason, string(d.Reason)),
	})
}
