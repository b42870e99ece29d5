package authz

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.uber.org/zap"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/policy"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/reason"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/verifier"
)

// Check answers one ext_authz request. The error is always nil: a decision is never a gRPC error,
// because Envoy with failure_mode_allow would let an errored check through.
//
// Defined answers for odd input:
//   - No HTTP attributes: there is no path, so no rule applies and the route is required unless
//     context_extensions say otherwise; there are no headers, so no token: 401 missing.
//   - Headers sent as header_map (Envoy's encode_raw_headers) are read like the headers map.
//     More than MaxHeaderLines lines are not read: the request carries a malformed token.
//   - Header names are expected lower-case; see package tokensource for other casings, repeated
//     Authorization headers, junk in the Cookie header and the order of token sources.
//   - Unknown context_extensions values fail closed; see policy.Config.Requirement.
//   - A claim that cannot be a header value (invalid UTF-8, control characters) makes the token
//     malformed: the verifier rejects it (TokenVerifier).
//   - A context that has ended (before or during verification) is denied 503, body reason
//     "cancelled"; a panic anywhere in the data path is denied 503, body reason "internal". Both
//     reach the Recorder as unavailable with no reason code.
//
// Responses share immutable parts with other calls: callers must not modify them. Check keeps
// nothing of req once it returns (the forward-auth endpoint reuses its requests).
func (s *Server) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	a, _ := s.CheckAnswer(ctx, req)
	return a.Response(), nil
}

// CheckAnswer is Check, giving the response as an Answer, so that its encoding is made once and
// kept with it (codec.go). The error is always nil.
func (s *Server) CheckAnswer(ctx context.Context, req *authv3.CheckRequest) (answer *Answer, err error) {
	var start time.Time
	if s.recorder != nil {
		start = s.now()
	}
	defer func() {
		if p := recover(); p != nil {
			LogPanic(s.logger, "check panicked; denied", p)
			answer, err = s.canned.internal, nil
			// The Recorder or logger may be what panicked: try once more, and let nothing escape.
			defer func() { _ = recover() }()
			s.finish(start, policy.Decision{Result: policy.Unavailable}, nil)
		}
	}()
	answer, d, claims := s.check(ctx, req)
	s.finish(start, d, claims) // inside the recover: a panicking Recorder fails closed too
	return answer, nil
}

// check is the data path; claims are set when a token verified.
func (s *Server) check(ctx context.Context, req *authv3.CheckRequest) (*Answer, policy.Decision, *verifier.Claims) {
	cancelled := policy.Decision{Result: policy.Unavailable}
	if ctx.Err() != nil {
		return s.canned.cancelled, cancelled, nil
	}
	http := req.GetAttributes().GetRequest().GetHttp()
	headers, readable := requestHeaders(http)
	var hostBuf [3]string
	var hosts []string
	if s.policy.HasHostRules() {
		hosts = requestHosts(http, headers, hostBuf[:0])
	}
	var requirement policy.Requirement
	if readable {
		requirement = s.policy.RequirementWithOverrides(hosts, http.GetPath(), http.GetMethod(), headers, req.GetAttributes().GetContextExtensions())
	} else {
		requirement = s.policy.RequirementAnyMethod(hosts, http.GetPath(), http.GetMethod(), req.GetAttributes().GetContextExtensions())
	}
	if requirement.Auth == policy.AuthOff {
		d := policy.Decision{Result: policy.Skipped}
		return s.canned.forDecision(d), d, nil
	}

	var (
		token   string
		present bool
		findErr error
		failure reason.Code
		claims  *verifier.Claims
		kept    *verifier.Slot[Answer]
	)
	if readable {
		token, present, findErr = s.finder.Find(headers)
	}
	switch {
	case !readable:
		present, failure = true, reason.Malformed
	case findErr != nil:
		failure = reason.Malformed
	case present:
		var verifyErr error
		claims, kept, verifyErr = s.verifier.VerifySlot(ctx, token)
		if verifyErr != nil {
			failure, claims = verifier.ReasonOf(verifyErr), nil
		} else if why := s.revocations.refusal(ctx, requirement.Revocation, token, claims, kept.RevocationMemo()); why != "" {
			// Before the kept answer below: a cached token is asked about like any other.
			failure, claims = why, nil
		}
	}
	if present && ctx.Err() != nil {
		// A cancelled verification can look like jwks_unavailable, which an optional route
		// would let through as anonymous.
		return s.canned.cancelled, cancelled, nil
	}

	d := s.policy.Decide(&requirement, present, claims, failure)
	if d.Result != policy.Authenticated {
		if location, ok := s.policy.SignInLocation(&requirement, d, http.GetMethod(), http.GetPath(), headers); ok {
			return signInRedirect(location, d), d, claims
		}
		return s.canned.forDecision(d), d, claims
	}
	// The answer depends only on the claims and the Server's fixed configuration, so it is kept
	// with the claims in the verifier's cache entry. A Slot is shared by every Server using the
	// verifier, so an answer is used only if this Server built it.
	if a := kept.Load(); a != nil && a.names == &s.names {
		return a, d, claims
	}
	a := s.names.authenticatedAnswer(claims)
	kept.Store(a)
	return a, d, claims
}

// finish records and logs one decision.
func (s *Server) finish(start time.Time, d policy.Decision, claims *verifier.Claims) {
	if s.recorder != nil {
		s.recorder.CheckDone(d.Result, d.Reason, s.now().Sub(start))
	}
	if ce := s.logger.Check(zap.DebugLevel, "check"); ce != nil {
		var sub, jti string
		if claims != nil {
			sub, jti = claims.Subject, claims.JTI
		}
		ce.Write(zap.String("result", string(d.Result)), zap.String("reason", string(d.Reason)),
			zap.String("sub", sub), zap.String("jti", jti))
	}
}

// LogPanic logs msg for the recovered panic p, with where it happened. The panic value is logged
// only when it is a runtime error: anything else might carry a token.
func LogPanic(log *zap.Logger, msg string, p any) {
	what := fmt.Sprintf("%T", p)
	if re, ok := p.(runtime.Error); ok {
		what = re.Error()
	}
	log.Error(msg, zap.String("panic", what), zap.Stack("stack"))
}

// MaxHeaderLines bounds the header lines of one request that Check reads (Envoy's header_map form,
// and the HTTP forward-auth endpoint, which sends every line it got). A request with more is not
// read at all: it counts as carrying an unreadable token (malformed), so it never authenticates,
// and a flood of repeated lines costs no more than reading this many. Browsers send a few dozen;
// Envoy's own default bound is 100.
const MaxHeaderLines = 1000

// requestHeaders returns the request's headers as a lower-cased map, converting Envoy's
// header_map form (encode_raw_headers) when that is what was sent. ok is false when the
// header_map holds more than MaxHeaderLines lines.
func requestHeaders(http *authv3.AttributeContext_HttpRequest) (headers map[string]string, ok bool) {
	if h := http.GetHeaders(); len(h) > 0 {
		return h, true
	}
	raw := http.GetHeaderMap().GetHeaders()
	if len(raw) > MaxHeaderLines {
		return nil, false
	}
	return joinHeaders(raw), true
}

// joinHeaders joins repeated headers the way Envoy does for the headers map: with commas, and
// cookies with "; ". Each repeated name is built once, so the cost is linear in the input.
func joinHeaders(raw []*corev3.HeaderValue) map[string]string {
	if len(raw) == 0 {
		return nil
	}
	out := make(map[string]string, min(len(raw), 64)) // repeats make len(raw) an overestimate
	var repeated map[string]*strings.Builder
	for _, hv := range raw {
		key := strings.ToLower(hv.GetKey())
		value := hv.GetValue()
		if rv := hv.GetRawValue(); len(rv) > 0 {
			value = string(rv)
		}
		first, seen := out[key]
		if !seen {
			out[key] = value
			continue
		}
		b := repeated[key]
		if b == nil {
			if repeated == nil {
				repeated = map[string]*strings.Builder{}
			}
			b = &strings.Builder{}
			b.WriteString(first)
			repeated[key] = b
		}
		if key == "cookie" {
			b.WriteString("; ")
		} else {
			b.WriteByte(',')
		}
		b.WriteString(value)
	}
	for key, b := range repeated {
		out[key] = b.String()
	}
	return out
}
