// Package forwardauth answers HTTP forward-auth requests (nginx auth_request, Traefik ForwardAuth,
// Envoy's HTTP ext_authz) with the decision of the ext_authz Check service. It only translates:
// an HTTP request becomes the CheckRequest Envoy's gRPC filter would send, and the CheckResponse
// becomes an HTTP answer. Token sources, policy, the anonymous result and the identity headers are
// Check's, unchanged, so both endpoints always decide alike. See docs/reference.md, "HTTP
// forward-auth endpoint".
package forwardauth

import (
	"context"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

// Headers naming the original request, set by the proxy in front (nginx, Traefik; the committed
// Envoy HTTP ext_authz configuration too). The first of each pair that is present wins. An empty
// value counts as absent.
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

// Handler is the HTTP endpoint. It serves every path.
type Handler struct {
	checker Checker
	opts    Options
	// canonical maps the header names Check sets to their canonical form (canonicalKey); it is
	// replaced, never modified, so a lookup takes no lock.
	canonical atomic.Pointer[map[string]string]
	grow      sync.Mutex
}

// maxCanonicalKeys bounds Handler.canonical: the names an answer sets are a handful per
// configuration (the identity headers, x-auth-status, x-auth-reason), so a few reloads fit.
const maxCanonicalKeys = 256

// canonicalKey is http.CanonicalHeaderKey(name), without allocating for a name seen before.
func (h *Handler) canonicalKey(name string) string {
	if m := h.canonical.Load(); m != nil {
		if c, ok := (*m)[name]; ok {
			return c
		}
	}
	c := http.CanonicalHeaderKey(name)
	h.grow.Lock()
	defer h.grow.Unlock()
	old := h.canonical.Load()
	if old == nil || len(*old) < maxCanonicalKeys {
		m := make(map[string]string, 8)
		if old != nil {
			maps.Copy(m, *old)
		}
		m[name] = c
		h.canonical.Store(&m)
	}
	return c
}

// Options shape a Handler.
type Options struct {
	// RequestIsOriginal: a request that carries none of the forwarded headers is the original
	// request itself, as Envoy's HTTP ext_authz sends it (without path_prefix), and its own path
	// and method are checked. Otherwise such a request is refused: a proxy configuration that
	// forgot the headers would have every request judged by the endpoint's own path.
	RequestIsOriginal bool
}

// New returns a Handler that asks checker.
func New(checker Checker, opts Options) *Handler { return &Handler{checker: checker, opts: opts} }

// ServeHTTP answers one forward-auth request:
//   - allowed (authenticated, anonymous, auth: off): 200, the headers Check sets as response
//     headers, and the owned headers Check removes listed in X-Envoy-Auth-Headers-To-Remove;
//   - denied: Check's status (401, 403, 503), headers (WWW-Authenticate, content-type) and body.
//
// The forwarded headers must name the original request wholly or not at all: a path header
// without a method header (or the reverse) is refused with 400, and so is a request with none
// unless Options.RequestIsOriginal. X-Forwarded-Uri and X-Original-URI (likewise the two method
// headers) that disagree, or either sent twice, are refused with 400: a client must not be able
// to choose which path is checked by adding one the proxy does not overwrite.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path, method, problem := h.original(r)
	if problem != "" {
		badRequest(w, problem)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), checkDeadline(r.Header))
	defer cancel()
	resp, err := h.checker.Check(ctx, withHost(checkRequest(r.Header, path, method), h.originalHosts(r)))
	if err != nil { // Check never errs; fail closed all the same
		writeDenied(w, http.StatusServiceUnavailable, nil, internalErrorBody)
		return
	}
	switch answer := resp.GetHttpResponse().(type) {
	case *authv3.CheckResponse_OkResponse:
		h.writeAllowed(w, answer.OkResponse)
	case *authv3.CheckResponse_DeniedResponse:
		d := answer.DeniedResponse
		status := int(d.GetStatus().GetCode())
		headers := d.GetHeaders()
		switch {
		case status == http.StatusFound: // the sign-in redirect
			headers = withSiteLocation(r.Header, headers)
		case status < 400 || status > 599:
			status = http.StatusForbidden
		}
		writeDenied(w, status, headers, d.GetBody())
	default:
		writeDenied(w, http.StatusServiceUnavailable, nil, internalErrorBody)
	}
}

// original returns the path and method to check, or why the request cannot say.
func (h *Handler) original(r *http.Request) (path, method, problem string) {
	path, hasPath, ok := forwarded(r.Header, HeaderForwardedURI, HeaderOriginalURI)
	if !ok {
		return "", "", "conflicting X-Forwarded-Uri / X-Original-URI"
	}
	method, hasMethod, ok := forwarded(r.Header, HeaderForwardedMethod, HeaderOriginalMethod)
	if !ok {
		return "", "", "conflicting X-Forwarded-Method / X-Original-Method"
	}
	switch {
	case hasPath && hasMethod:
		return path, method, ""
	case hasPath:
		return "", "", "X-Forwarded-Uri / X-Original-URI without X-Forwarded-Method / X-Original-Method"
	case hasMethod:
		return "", "", "X-Forwarded-Method / X-Original-Method without X-Forwarded-Uri / X-Original-URI"
	case h.opts.RequestIsOriginal:
		return r.RequestURI, r.Method, ""
	}
	return "", "", "no X-Forwarded-Uri / X-Original-URI: which request to check? (set http_request_is_original when the proxy sends the original request itself)"
}

// forwarded returns the non-empty value of the first header present; ok is false when the
// headers are repeated or disagree.
func forwarded(h http.Header, first, second string) (value string, present, ok bool) {
	a, b := nonEmpty(h.Values(first)), nonEmpty(h.Values(second))
	if len(a) > 1 || len(b) > 1 || (len(a) == 1 && len(b) == 1 && a[0] != b[0]) {
		return "", false, false
	}
	switch {
	case len(a) == 1:
		return a[0], true, true
	case len(b) == 1:
		return b[0], true, true
	}
	return "", false, true
}

// nonEmpty drops empty values: an empty X-Forwarded-Method names no method.
func nonEmpty(values []string) []string {
	out := values[:0:0]
	for _, v := range values {
		if strings.TrimSpace(v) != "" {
			out = append(out, v)
		}
	}
	return out
}

// checkRequest builds what Envoy's gRPC filter would send: path, method and every header as
// Envoy's header_map, which Check joins the way Envoy joins repeated headers. Past
// authz.MaxHeaderLines lines Check reads none of them, so one line more is all it is sent: a
// flood of repeated lines costs no more memory than that. The request is a few allocations
// whatever its headers: the messages in one, the header entries in one, their lower-cased names
// in one string.
func checkRequest(h http.Header, path, method string) *authv3.CheckRequest {
	// Map order is random: fix one order, of the names that get a line, for both passes below.
	names := make([]string, 0, min(len(h), authz.MaxHeaderLines+1))
	n, nameBytes := 0, 0
	for name, values := range h {
		if n == authz.MaxHeaderLines+1 {
			break
		}
		if len(values) == 0 {
			continue
		}
		names = append(names, name)
		nameBytes += len(name)
		n += min(len(values), authz.MaxHeaderLines+1-n)
	}
	var lower strings.Builder
	lower.Grow(nameBytes)
	for _, name := range names {
		for i := 0; i < len(name); i++ {
			c := name[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			lower.WriteByte(c)
		}
	}
	all := lower.String()

	m := new(checkMessages)
	entries := make([]corev3.HeaderValue, n)
	headers := make([]*corev3.HeaderValue, n)
	i, at := 0, 0
	for _, name := range names {
		key := all[at : at+len(name)]
		at += len(name)
		for _, v := range h[name] {
			if i == n {
				break
			}
			entries[i].Key, entries[i].Value = key, v
			headers[i] = &entries[i]
			i++
		}
	}
	m.headerMap.Headers = headers
	m.http = authv3.AttributeContext_HttpRequest{Method: method, Path: path, HeaderMap: &m.headerMap}
	m.request.Http = &m.http
	m.attributes.Request = &m.request
	m.check.Attributes = &m.attributes
	return &m.check
}

// checkMessages are the messages of one CheckRequest, allocated together.
type checkMessages struct {
	check      authv3.CheckRequest
	attributes authv3.AttributeContext
	request    authv3.AttributeContext_Request
	http       authv3.AttributeContext_HttpRequest
	headerMap  corev3.HeaderMap
}

// writeAllowed writes an allowed answer. The header map gets each of Check's names in its
// canonical form, remembered (canonicalKey), and one backing array for all values, rather than a
// new key and a slice per header; Date is left out, which no proxy reads of an auth answer.
func (h *Handler) writeAllowed(w http.ResponseWriter, ok *authv3.OkHttpResponse) {
	out := w.Header()
	set, remove := ok.GetHeaders(), ok.GetHeadersToRemove()
	values := make([]string, len(set)+1)
	for i, opt := range set {
		values[i] = opt.GetHeader().GetValue()
		out[h.canonicalKey(opt.GetHeader().GetKey())] = values[i : i+1 : i+1]
	}
	if len(remove) > 0 {
		values[len(set)] = strings.Join(remove, ",")
		out[headerHeadersToRemoveKey] = values[len(set):]
	}
	out[cacheControlKey] = noStore
	out[dateKey] = nil // net/http's Date, suppressed
	w.WriteHeader(http.StatusOK)
}

// Response header keys as net/http keeps them, and a value shared by every answer (net/http only
// reads it).
var (
	headerHeadersToRemoveKey = http.CanonicalHeaderKey(HeaderHeadersToRemove)
	cacheControlKey          = "Cache-Control"
	dateKey                  = "Date"
	noStore                  = []string{"no-store"}
)

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
