// Package forwardauth answers HTTP forward-auth requests (nginx auth_request, Traefik ForwardAuth,
// Envoy's HTTP ext_authz) with the decision of the ext_authz Check service. It only translates:
// an HTTP request becomes the CheckRequest Envoy's gRPC filter would send, and the CheckResponse
// becomes an HTTP answer. Token sources, policy, the anonymous result and the identity headers are
// Check's, unchanged, so both endpoints always decide alike. See docs/reference.md, "HTTP
// forward-auth endpoint".
package forwardauth

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/authz"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/policy"
)

// Checker is what the handler needs of the Check service (authz.Server, or anything that hands
// Check on to one).
type Checker interface {
	Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error)
}

// Headers naming the original request, set by the proxy in front (nginx, Traefik). The first of
// each pair that is present wins over the request's own path or method.
const (
	HeaderForwardedURI    = "X-Forwarded-Uri"
	HeaderOriginalURI     = "X-Original-Uri"
	HeaderForwardedMethod = "X-Forwarded-Method"
	HeaderOriginalMethod  = "X-Original-Method"
)

// HeaderHeadersToRemove lists, on an allowed answer, the owned headers the proxy must remove from
// the request it forwards: Envoy's HTTP ext_authz reads it (x-envoy-auth-headers-to-remove);
// nginx and Traefik configurations overwrite each owned header instead.
const HeaderHeadersToRemove = "X-Envoy-Auth-Headers-To-Remove"

// HeaderExpectedTimeout is how long Envoy's HTTP ext_authz will wait for the answer, in
// milliseconds; Envoy sets it on every call. nginx and Traefik send no such header.
const HeaderExpectedTimeout = "X-Envoy-Expected-Rq-Timeout-Ms"

// MaxCheckTime bounds one HTTP check. gRPC carries the proxy's deadline and Check answers within
// it; over HTTP only Envoy says how long it waits, and nginx waits a minute by default. A check that
// would wait on keys longer (a stalled key endpoint) answers jwks_unavailable in time instead,
// while the key fetch goes on for the checks after it.
const MaxCheckTime = time.Second

// checkDeadline is how long this check may take: Envoy's expected timeout when it sends one and it
// is shorter, else MaxCheckTime.
func checkDeadline(h http.Header) time.Duration {
	ms, err := strconv.ParseInt(h.Get(HeaderExpectedTimeout), 10, 64)
	if err != nil || ms <= 0 || ms >= MaxCheckTime.Milliseconds() {
		return MaxCheckTime
	}
	return time.Duration(ms) * time.Millisecond
}

// internalErrorBody answers when Check itself failed, as Check's own failures are answered
// (docs/reference.md#denials).
var internalErrorBody = authz.DenialBody(string(policy.Unavailable), authz.BodyReasonInternal)

// Handler is the HTTP endpoint. It serves every path: Envoy's HTTP ext_authz sends the original
// path as the request's own.
type Handler struct {
	checker Checker
}

// New returns a Handler that asks checker.
func New(checker Checker) *Handler { return &Handler{checker: checker} }

// ServeHTTP answers one forward-auth request:
//   - allowed (authenticated, anonymous, auth: off): 200, the headers Check sets as response
//     headers, and the owned headers Check removes listed in X-Envoy-Auth-Headers-To-Remove;
//   - denied: Check's status (401, 403, 503), headers (WWW-Authenticate, content-type) and body.
//
// X-Forwarded-Uri and X-Original-URI (likewise the two method headers) that disagree, or either
// sent twice, are refused with 400: a client must not be able to choose which path is checked by
// adding one the proxy does not overwrite.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path, ok := original(r.Header, HeaderForwardedURI, HeaderOriginalURI, r.RequestURI)
	if !ok {
		badRequest(w, "conflicting X-Forwarded-Uri / X-Original-URI")
		return
	}
	method, ok := original(r.Header, HeaderForwardedMethod, HeaderOriginalMethod, r.Method)
	if !ok {
		badRequest(w, "conflicting X-Forwarded-Method / X-Original-Method")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), checkDeadline(r.Header))
	defer cancel()
	resp, err := h.checker.Check(ctx, checkRequest(r.Header, path, method))
	if err != nil { // Check never errs; fail closed all the same
		writeDenied(w, http.StatusServiceUnavailable, nil, internalErrorBody)
		return
	}
	switch answer := resp.GetHttpResponse().(type) {
	case *authv3.CheckResponse_OkResponse:
		writeAllowed(w, answer.OkResponse)
	case *authv3.CheckResponse_DeniedResponse:
		d := answer.DeniedResponse
		status := int(d.GetStatus().GetCode())
		if status < 400 || status > 599 {
			status = http.StatusForbidden
		}
		writeDenied(w, status, d.GetHeaders(), d.GetBody())
	default:
		writeDenied(w, http.StatusServiceUnavailable, nil, internalErrorBody)
	}
}

// original returns the value of the first header present, else fallback; ok is false when the
// headers are repeated or disagree.
func original(h http.Header, first, second, fallback string) (string, bool) {
	a, b := h.Values(first), h.Values(second)
	if len(a) > 1 || len(b) > 1 || (len(a) == 1 && len(b) == 1 && a[0] != b[0]) {
		return "", false
	}
	switch {
	case len(a) == 1:
		return a[0], true
	case len(b) == 1:
		return b[0], true
	}
	return fallback, true
}

// checkRequest builds what Envoy's gRPC filter would send: path, method and every header as
// Envoy's header_map, which Check joins the way Envoy joins repeated headers.
func checkRequest(h http.Header, path, method string) *authv3.CheckRequest {
	n := 0
	for _, values := range h {
		n += len(values)
	}
	headers := make([]*corev3.HeaderValue, 0, n)
	for name, values := range h {
		key := strings.ToLower(name)
		for _, v := range values {
			headers = append(headers, &corev3.HeaderValue{Key: key, Value: v})
		}
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method:    method,
			Path:      path,
			HeaderMap: &corev3.HeaderMap{Headers: headers},
		}},
	}}
}

func writeAllowed(w http.ResponseWriter, ok *authv3.OkHttpResponse) {
	out := w.Header()
	for _, opt := range ok.GetHeaders() {
		out.Set(opt.GetHeader().GetKey(), opt.GetHeader().GetValue())
	}
	if remove := ok.GetHeadersToRemove(); len(remove) > 0 {
		out.Set(HeaderHeadersToRemove, strings.Join(remove, ","))
	}
	out.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

func writeDenied(w http.ResponseWriter, status int, headers []*corev3.HeaderValueOption, body string) {
	out := w.Header()
	out.Set("Content-Type", "application/json")
	for _, opt := range headers {
		out.Set(opt.GetHeader().GetKey(), opt.GetHeader().GetValue())
	}
	out.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func badRequest(w http.ResponseWriter, why string) {
	writeDenied(w, http.StatusBadRequest, nil, authz.DenialBody("bad_request", why))
}
