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
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/authz"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/http1"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/policy"
)

// Checker is what the handler needs of the Check service (authz.Server, or anything that hands
// Check on to one). Check must keep nothing of the request once it returns: the handler reuses
// the request's messages for the next check.
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
func checkDeadline(r *http1.Request) time.Duration {
	ms, err := strconv.ParseInt(r.Get(HeaderExpectedTimeout), 10, 64)
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

// Timeouts of the endpoint's connections.
type Timeouts struct {
	Head  time.Duration // a new connection's wait for a request, and a request's head
	Idle  time.Duration // a kept-alive connection's wait for the next request
	Write time.Duration // writing one answer
}

// NewServer returns the HTTP/1.1 server of the endpoint: h's answers, and the denial body for a
// request refused before it is checked.
func NewServer(h *Handler, t Timeouts, log *zap.Logger) *http1.Server {
	return http1.NewServer(h, http1.Options{
		HeadTimeout: t.Head, IdleTimeout: t.Idle, WriteTimeout: t.Write,
		Refused:  refused,
		Panicked: func(p any) { authz.LogPanic(log, "a forward-auth request panicked; its connection closed", p) },
		Log:      log,
	})
}

// refused answers a request that is not checked: malformed (400), with a head too long (431) or
// a body (413, 501), or an answer that could not be written (500).
func refused(status int, why string, w *http1.Response) {
	errorText := "bad_request"
	if status >= 500 {
		errorText = string(policy.Unavailable)
	}
	writeDenied(w, status, nil, authz.DenialBody(errorText, why))
}

// ServeHTTP1 answers one forward-auth request:
//   - allowed (authenticated, anonymous, auth: off): 200, the headers Check sets as response
//     headers, and the owned headers Check removes listed in X-Envoy-Auth-Headers-To-Remove;
//   - denied: Check's status (401, 403, 503), headers (WWW-Authenticate, content-type) and body.
//
// The forwarded headers must name the original request wholly or not at all: a path header
// without a method header (or the reverse) is refused with 400, and so is a request with none
// unless Options.RequestIsOriginal. X-Forwarded-Uri and X-Original-URI (likewise the two method
// headers) that disagree, or either sent twice, are refused with 400: a client must not be able
// to choose which path is checked by adding one the proxy does not overwrite.
func (h *Handler) ServeHTTP1(r *http1.Request, w *http1.Response) {
	path, method, problem := h.original(r)
	if problem != "" {
		badRequest(w, problem)
		return
	}
	ctx := newCheckContext(checkDeadline(r))
	defer ctx.cancel()
	req := checkRequest(r.Fields, h.originalHosts(r), path, method)
	defer req.release()
	resp, err := h.checker.Check(ctx, &req.check)
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
		headers := d.GetHeaders()
		switch {
		case status == http.StatusFound: // the sign-in redirect
			headers = withSiteLocation(r, headers)
		case status < 400 || status > 599:
			status = http.StatusForbidden
		}
		writeDenied(w, status, headers, d.GetBody())
	default:
		writeDenied(w, http.StatusServiceUnavailable, nil, internalErrorBody)
	}
}

// original returns the path and method to check, or why the request cannot say.
func (h *Handler) original(r *http1.Request) (path, method, problem string) {
	path, hasPath, ok := forwarded(r, HeaderForwardedURI, HeaderOriginalURI)
	if !ok {
		return "", "", "conflicting X-Forwarded-Uri / X-Original-URI"
	}
	method, hasMethod, ok := forwarded(r, HeaderForwardedMethod, HeaderOriginalMethod)
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
		return r.Target, r.Method, ""
	}
	return "", "", "no X-Forwarded-Uri / X-Original-URI: which request to check? (set http_request_is_original when the proxy sends the original request itself)"
}

// forwarded returns the non-empty value of the first header present; ok is false when the
// headers are repeated or disagree.
func forwarded(r *http1.Request, first, second string) (value string, present, ok bool) {
	var a, b string
	na, nb := 0, 0
	for _, f := range r.Fields {
		switch {
		case strings.TrimSpace(f.Value) == "": // an empty X-Forwarded-Method names no method
		case strings.EqualFold(f.Name, first):
			a, na = f.Value, na+1
		case strings.EqualFold(f.Name, second):
			b, nb = f.Value, nb+1
		}
	}
	switch {
	case na > 1 || nb > 1 || na == 1 && nb == 1 && a != b:
		return "", false, false
	case na == 1:
		return a, true, true
	case nb == 1:
		return b, true, true
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

// checkRequest builds what Envoy's gRPC filter would send: path, method, and the header lines as
// Envoy's header_map, which Check joins the way Envoy joins repeated headers. The request's own
// Host lines are left out and the hosts it may have been for (originalHosts) go in as :authority
// lines, which Check reads as the request's host. Past authz.MaxHeaderLines lines Check reads none
// of them, so one line more is all it is sent, counted after Host is left out: a flood of repeated
// lines costs no more memory than that, and a long request is never read from its first lines
// alone. The messages and entries are reused from check to check (release gives them back); names
// are lower-cased, in one string, only when some are not already (Envoy's are).
func checkRequest(fields []http1.Field, hosts []string, path, method string) *checkScratch {
	const most = authz.MaxHeaderLines + 1
	m := scratch.Get().(*checkScratch)
	m.entries = slices.Grow(m.entries[:0], min(len(fields)+len(hosts), most))
	all, at := lowerNames(fields), 0
	for _, f := range fields {
		name := f.Name
		if all != "" {
			name, at = all[at:at+len(f.Name)], at+len(f.Name)
		}
		switch {
		case len(m.entries) == most:
		case name != "host":
			m.entries = append(m.entries, corev3.HeaderValue{Key: name, Value: f.Value})
		}
	}
	for _, host := range hosts {
		if len(m.entries) < most {
			m.entries = append(m.entries, corev3.HeaderValue{Key: ":authority", Value: host})
		}
	}
	m.headers = slices.Grow(m.headers[:0], len(m.entries))[:len(m.entries)]
	for i := range m.entries {
		m.headers[i] = &m.entries[i]
	}
	m.headerMap.Headers = m.headers
	m.http = authv3.AttributeContext_HttpRequest{Method: method, Path: path, HeaderMap: &m.headerMap}
	m.request.Http = &m.http
	m.attributes.Request = &m.request
	m.check.Attributes = &m.attributes
	return m
}

// lowerNames is every name lower-cased, one after the other, or "" when all already are.
func lowerNames(fields []http1.Field) string {
	n, upper := 0, false
	for _, f := range fields {
		n += len(f.Name)
		upper = upper || strings.ContainsFunc(f.Name, func(r rune) bool { return 'A' <= r && r <= 'Z' })
	}
	if !upper {
		return ""
	}
	var lower strings.Builder
	lower.Grow(n)
	for _, f := range fields {
		for i := 0; i < len(f.Name); i++ {
			c := f.Name[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			lower.WriteByte(c)
		}
	}
	return lower.String()
}

// scratch holds CheckRequests between checks: Check keeps nothing of the request it is given
// (Checker).
var scratch = sync.Pool{New: func() any { return new(checkScratch) }}

// checkScratch is one check's request: the messages, the header entries and the pointers to them.
type checkScratch struct {
	checkMessages
	entries []corev3.HeaderValue
	headers []*corev3.HeaderValue
}

// maxKeptEntries bounds the entries a released scratch keeps: a request with many lines gives
// its room back.
const maxKeptEntries = 64

// release gives m back for another check, keeping none of this request's strings.
func (m *checkScratch) release() {
	if cap(m.entries) > maxKeptEntries {
		m.entries, m.headers = nil, nil
	}
	clear(m.entries[:cap(m.entries)])
	clear(m.headers[:cap(m.headers)])
	m.headerMap.Headers = nil
	m.http = authv3.AttributeContext_HttpRequest{}
	scratch.Put(m)
}

// checkMessages are the messages of one CheckRequest, allocated together.
type checkMessages struct {
	check      authv3.CheckRequest
	attributes authv3.AttributeContext
	request    authv3.AttributeContext_Request
	http       authv3.AttributeContext_HttpRequest
	headerMap  corev3.HeaderMap
}

// writeAllowed writes an allowed answer: Check's headers as they are (a proxy reads header names
// in any case), and the owned headers it removes in one line.
func writeAllowed(w *http1.Response, ok *authv3.OkHttpResponse) {
	w.Status = http.StatusOK
	for _, opt := range ok.GetHeaders() {
		w.Add(opt.GetHeader().GetKey(), opt.GetHeader().GetValue())
	}
	if remove := ok.GetHeadersToRemove(); len(remove) > 0 {
		w.Add(HeaderHeadersToRemove, strings.Join(remove, ","))
	}
	w.Add("Cache-Control", "no-store")
}

// writeDenied writes a denial: Check's headers, then content-type application/json and
// cache-control no-store unless they set them (the sign-in redirect sets its own cache-control),
// and the body.
func writeDenied(w *http1.Response, status int, headers []*corev3.HeaderValueOption, body string) {
	w.Status = status
	typed, cached := false, false
	for _, opt := range headers {
		name := opt.GetHeader().GetKey()
		w.Add(name, opt.GetHeader().GetValue())
		typed = typed || strings.EqualFold(name, "content-type")
		cached = cached || strings.EqualFold(name, "cache-control")
	}
	if !typed {
		w.Add("Content-Type", "application/json")
	}
	if !cached {
		w.Add("Cache-Control", "no-store")
	}
	w.Body = body
}

func badRequest(w *http1.Response, why string) {
	writeDenied(w, http.StatusBadRequest, nil, authz.DenialBody("bad_request", why))
}
