// Package authz is the Envoy ext_authz gRPC service (envoy.service.auth.v3.Authorization): the
// request off the wire, the decision, and the answer back on the wire. Its data path reads top to
// bottom: Check → find token → verify → apply policy → answer (check.go), and it knows nothing of
// flags or files.
//
// The wire, both ways, is here too, because the fast path depends on Check:
//   - Decoding (decode.go). A CheckRequest is decoded by decodeCheckRequest, not protobuf, whatever
//     the build tags. It fills only attributes.request.http's method, path, headers and header_map,
//     and attributes.context_extensions, and skips everything else Envoy sends (peers, time, host,
//     metadata, TLS session, body...), checking only its framing: decoding all of it cost a sixth
//     of the service's CPU per check and most of its allocations, for fields nothing reads. Check
//     must read only those fields; TestCheckReadsOnlyDecodedFields fails when it reads another
//     until the decoder fills it too. Bad content in a skipped field (invalid UTF-8 in host, say) is
//     not an error, as it would be for protobuf.
//   - Encoding (answer.go, codec.go). Register serves Check through Server.CheckAnswer, which gives
//     an *Answer; the codec encodes its response once and keeps the bytes in it, so they live
//     exactly as long as the answer (for a verified token, its verifier.Slot in the verified-token
//     cache). CheckResponses are encoded with go-control-plane's generated vtprotobuf code when
//     built with -tags vtprotobuf, else with protobuf; every other message (grpc.health.v1) goes
//     through grpc's own proto codec, both ways.
package authz

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.uber.org/zap"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/httptext"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/policy"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/reason"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/tokensource"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/verifier"
)

// TokenVerifier is what Check needs of the verifier: the claims of a token and the room kept
// beside them in the verified-token cache, where Check keeps its answer (nil when not cached).
// Every text it returns in Claims must be a valid header value (valid UTF-8, no control character
// but tab): Check copies it into headers and metadata unchecked, and verifier.Verifier rejects
// other tokens as malformed.
type TokenVerifier interface {
	VerifySlot(ctx context.Context, token string) (*verifier.Claims, *verifier.Slot[Answer], error)
}

// Result is one of the results of docs/reference.md#results (plus "skipped" for routes with auth:
// off), as a Recorder receives it. It is the policy package's type, so a decision flows to metrics
// without conversion; its values are policy.Authenticated and the rest.
type Result = policy.Result

// Recorder receives one call per Check, for metrics. reason is empty when there is none.
type Recorder interface {
	CheckDone(result Result, why reason.Code, elapsed time.Duration)
}

// HeaderConfig is the identity_headers section.
type HeaderConfig struct {
	Prefix       string `yaml:"prefix"`        // default x-user-
	ClaimsHeader string `yaml:"claims_header"` // empty: off
	// StripAuthorization makes the Authorization header owned: it is removed on every request
	// that reaches the app (authenticated, anonymous and auth: off alike), so the app never sees
	// a bearer token, valid or not. Tokens from other sources (custom headers, cookies) are left
	// as they are.
	StripAuthorization bool `yaml:"strip_authorization"`
	// Claims are the chosen claims set as identity headers, each under the prefix
	// (docs/reference.md#claim-headers); MaxClaimBytes bounds each value.
	Claims        []ClaimHeader `yaml:"claims"`
	MaxClaimBytes int           `yaml:"max_claim_bytes"`
}

// ClaimHeader maps one claim onto the identity header prefix + Header.
type ClaimHeader struct {
	Claim  string `yaml:"claim"`
	Header string `yaml:"header"`
}

// ClaimNames are the claims of c.Claims, in order: what the verifier turns into text
// (verifier.Config.HeaderClaims), aligned with the headers.
func (c HeaderConfig) ClaimNames() []string {
	var names []string
	for _, ch := range c.Claims {
		names = append(names, ch.Claim)
	}
	return names
}

// Validate reports the first broken identity_headers key, named as in the configuration file.
// tokenHeaders are token_sources.headers, which cannot double as identity headers. New runs the
// same checks.
func (c HeaderConfig) Validate(tokenHeaders []string) error {
	_, err := newHeaderNames(c, tokenHeaders)
	return err
}

// DefaultPrefix is the identity header prefix when HeaderConfig.Prefix is empty.
const DefaultPrefix = "x-user-"

// Headers the service owns whatever the prefix (docs/reference.md#headers).
const (
	HeaderAuthStatus = "x-auth-status"
	HeaderAuthReason = "x-auth-reason"
)

// Options configure a Server.
type Options struct {
	Verifier     TokenVerifier
	Policy       policy.Config
	TokenSources tokensource.Config
	Headers      HeaderConfig
	// DynamicMetadata sets Envoy dynamic metadata on every answer (docs/reference.md#dynamic-metadata).
	// Off, answers carry none: Envoy then has nothing to decode, store and copy per request.
	DynamicMetadata bool
	Recorder        Recorder // optional
	Logger          *zap.Logger
	Now             func() time.Time // optional, for durations

	// Revocations are the online revocation checks (revocation.go); nil checks nothing.
	Revocations *Revocations
}

// Server answers Envoy's Check calls (docs/reference.md#headers). It is safe for concurrent use.
//
// Every answer covers every owned header: the identity headers (prefix + sub, name, email,
// groups, scopes, client-id, token-use, and the chosen claims' headers of
// identity_headers.claims), x-auth-status, x-auth-reason, the claims header when configured and
// authorization under StripAuthorization. An OK answer sets some of them with
// OVERWRITE_IF_EXISTS_OR_ADD and lists all the others in headers_to_remove, never one in both:
//   - authenticated: the identity headers whose claim has a value, x-auth-status: authenticated,
//     the claims header;
//   - anonymous: x-auth-status: anonymous and x-auth-reason: <reason>;
//   - skipped (auth: off): nothing; every owned header is removed.
//
// A denial (401, 403, 503) carries www-authenticate where docs/reference.md#denials says,
// content-type: application/json and the body {"error":"<result>","reason":"<reason>"}; Envoy's
// DeniedHttpResponse has no headers_to_remove, and none is needed since the request goes no
// further. With Options.DynamicMetadata, dynamic metadata (auth_status, reason, and for
// authenticated answers sub, username, groups comma-joined, client_id, token_use, and claims: the
// chosen claims by header) is set on every answer; without it, none is.
type Server struct {
	authv3.UnimplementedAuthorizationServer

	verifier TokenVerifier
	policy   policy.Config
	finder   *tokensource.Finder
	recorder Recorder
	logger   *zap.Logger
	now      func() time.Time
	names    headerNames
	canned   cannedResponses

	// revocations are asked after verification, before the policy (check.go).
	revocations *Revocations
}

// New validates opts and returns a Server. Errors name the configuration key at fault.
func New(opts Options) (*Server, error) {
	if opts.Verifier == nil {
		return nil, errors.New("authz: no verifier")
	}
	if err := opts.Policy.Validate(); err != nil {
		return nil, err
	}
	finder, err := tokensource.New(opts.TokenSources)
	if err != nil {
		return nil, err
	}
	names, err := newHeaderNames(opts.Headers, opts.TokenSources.Headers)
	if err != nil {
		return nil, err
	}
	s := &Server{
		verifier: opts.Verifier,
		policy:   opts.Policy,
		finder:   finder,
		recorder: opts.Recorder,
		logger:   opts.Logger,
		now:      opts.Now,
		names:    names,

		revocations: opts.Revocations,
	}
	s.names.dynamicMetadata = opts.DynamicMetadata
	if s.logger == nil {
		s.logger = zap.NewNop()
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.canned = newCannedResponses(&s.names)
	return s, nil
}

// Identity header slots, in the order of docs/reference.md#headers.
const (
	slotSub = iota
	slotName
	slotEmail
	slotGroups
	slotScopes
	slotClientID
	slotTokenUse
	slotClaims // the claims header, when configured
	slotCount
)

var identitySuffixes = [slotClaims]string{"sub", "name", "email", "groups", "scopes", "client-id", "token-use"}

// IdentityHeaderNames are the identity headers under prefix, in the order of
// docs/reference.md#headers.
func IdentityHeaderNames(prefix string) []string {
	names := make([]string, len(identitySuffixes))
	for i, suffix := range identitySuffixes {
		names[i] = prefix + suffix
	}
	return names
}

// headerNames are the owned header names and, per set of identity headers an authenticated
// response sets, the names it must remove, all built once.
type headerNames struct {
	slots              [slotCount]string // slotClaims empty when there is no claims header
	stripAuthorization bool
	// dynamicMetadata is Options.DynamicMetadata: the one gate of every answer's metadata
	// (response.go: withMetadata).
	dynamicMetadata bool
	// claimHeaders are the chosen claims' headers (identity_headers.claims), aligned with
	// verifier.Claims.HeaderClaims; metaClaims their metadata keys (the configured header).
	claimHeaders []string
	metaClaims   []string
	// authenticatedRemove[mask] lists the owned headers to remove when the slots in mask are set
	// and every claim header has a value; Check adds the claim headers without one.
	authenticatedRemove [1 << slotCount][]string
	// anonymousRemove: everything owned except x-auth-status and x-auth-reason.
	anonymousRemove []string
	// skippedRemove: everything owned.
	skippedRemove []string
}

// reservedHeaders may not be identity or claims headers: the request needs them as they are.
var reservedHeaders = []string{
	"authorization", "cookie", "host", "content-length", "content-type", "transfer-encoding",
	"connection", "te", "upgrade", "keep-alive", "proxy-connection", "expect",
}

func newHeaderNames(cfg HeaderConfig, tokenHeaders []string) (headerNames, error) {
	var n headerNames
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if err := checkHeaderName("identity_headers.prefix", prefix); err != nil {
		return n, err
	}
	copy(n.slots[:], IdentityHeaderNames(prefix))
	if cfg.ClaimsHeader != "" {
		if err := checkHeaderName("identity_headers.claims_header", cfg.ClaimsHeader); err != nil {
			return n, err
		}
		n.slots[slotClaims] = cfg.ClaimsHeader
	}
	n.stripAuthorization = cfg.StripAuthorization
	if err := n.addClaimHeaders(cfg, prefix); err != nil {
		return n, err
	}

	owned := []string{HeaderAuthStatus, HeaderAuthReason}
	for i, name := range slices.Concat(n.slots[:], n.claimHeaders) {
		if name == "" {
			continue
		}
		key := "identity_headers.prefix"
		if name == cfg.ClaimsHeader {
			key = "identity_headers.claims_header"
		}
		if i >= slotCount {
			key = fmt.Sprintf("identity_headers.claims[%d].header", i-slotCount)
		}
		if slices.Contains(owned, name) {
			return n, fmt.Errorf("%s: header %q would be set twice", key, name)
		}
		if slices.Contains(reservedHeaders, name) {
			return n, fmt.Errorf("%s: header %q is needed by the request and cannot be an identity header", key, name)
		}
		if slices.Contains(tokenHeaders, name) {
			return n, fmt.Errorf("%s: header %q is also a token source (token_sources.headers)", key, name)
		}
		owned = append(owned, name)
	}

	// Lists are built in a fixed order (identity slots, then status, reason, authorization) so
	// responses are deterministic.
	build := func(set func(slot int) bool, keepStatus, keepReason bool) []string {
		var out []string
		for i, name := range n.slots {
			if name != "" && !set(i) {
				out = append(out, name)
			}
		}
		if !set(slotCount) { // slotCount stands for the claim headers
			out = append(out, n.claimHeaders...)
		}
		if !keepStatus {
			out = append(out, HeaderAuthStatus)
		}
		if !keepReason {
			out = append(out, HeaderAuthReason)
		}
		if n.stripAuthorization {
			out = append(out, "authorization")
		}
		return out
	}
	for mask := range n.authenticatedRemove {
		n.authenticatedRemove[mask] = build(func(slot int) bool { return slot == slotCount || mask&(1<<slot) != 0 }, true, false)
	}
	n.anonymousRemove = build(func(int) bool { return false }, true, true)
	n.skippedRemove = build(func(int) bool { return false }, false, false)
	return n, nil
}

// checkHeaderName accepts lower-case RFC 9110 tokens, the form Envoy uses for header names.
func checkHeaderName(key, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s: empty header name", key)
	case name != strings.ToLower(name):
		return fmt.Errorf("%s: %q must be lower-case", key, name)
	case !httptext.IsToken(name):
		return fmt.Errorf("%s: %q is not a valid header name", key, name)
	}
	return nil
}
