// Package extauthz is the product's one public package: what the binary (cmd/cognito-authz) and
// the local stack (module testenv) need, as aliases of the names under extauthz/internal (Go's
// internal rule is by path, and neither is under extauthz/). docs/design.md follows one request
// through the code. What is here, and why:
//   - Configuration: the binary loads it (file and flags); testenv builds it in Go for the demo
//     stack, the benchmark and the edge tests, and loads the committed deploy files.
//   - The service: the binary serves; testenv starts it in-process and waits for its readiness and
//     bound addresses.
//   - VerifyToken: `cognito-authz verify`.
//   - The contract's names (reason codes, results, owned headers): the binary's reference test
//     checks them against docs/reference.md; testenv writes them into the configurations it
//     renders for Envoy, nginx and Traefik.
package extauthz

import (
	"context"
	"strings"

	"go.uber.org/zap"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/authz"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/config"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/policy"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/reason"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/revocation"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/runner"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/tokensource"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/verifier"
)

// Configuration (docs/reference.md#configuration-file).
type (
	Config = config.Config
	Issuer = verifier.IssuerConfig
	Rule   = policy.Rule
	// ClaimHeader is one entry of identity_headers.claims.
	ClaimHeader = authz.ClaimHeader
	Log         = config.Log
	Overrides   = config.Overrides // the command line's flags, laid over the file
	TokenUse    = verifier.TokenUse
)

// Token uses, route auth modes and invalid-token modes that configurations are built with.
const (
	TokenUseAccess        = verifier.TokenUseAccess
	TokenUseID            = verifier.TokenUseID
	TokenUseAny           = verifier.TokenUseAny
	AuthOptional          = policy.AuthOptional
	AuthRequired          = policy.AuthRequired
	AuthOff               = policy.AuthOff
	InvalidTokenAnonymous = policy.InvalidTokenAnonymous
	// The sign-in redirect: rules[].unauthenticated, and the query parameter of login_url that
	// carries the path to return to.
	UnauthenticatedRedirect = policy.UnauthenticatedRedirect
	ReturnParam             = policy.ReturnParam
	DefaultMaxTokenBytes    = verifier.DefaultMaxTokenBytes // max_token_bytes, which sizes the proxies' buffers
)

var (
	DefaultConfig = config.Default   // every default, no issuers
	LoadConfig    = config.Load      // a file over the defaults
	ParseConfig   = config.Parse     // a file's content over the defaults
	BindFlags     = config.BindFlags // the flags every command shares
	LogLevels     = config.LogLevels // what --log-level accepts
	RegionOf      = verifier.RegionOf
	// SafeReturnPath reports that a return path is on this site (a sign-in page checks it before
	// following it).
	SafeReturnPath = policy.SafeReturnPath
)

// The service, its shutdown bound and the gRPC service name whose health it reports.
type (
	Service   = runner.Service
	Reloading = runner.Reloading
)

const ShutdownTimeout = runner.ShutdownTimeout

var (
	NewService           = runner.New
	AuthorizationService = runner.AuthorizationService
)

// The contract's names (docs/reference.md): reason codes, results, owned headers.
var (
	ReasonCodes         = reason.All
	Results             = policy.Results
	IdentityHeaderNames = authz.IdentityHeaderNames
	// MethodOverrideHeaders are read as the request's method too: an edge must send them.
	MethodOverrideHeaders = policy.MethodOverrideHeaders
)

const (
	HeaderAuthStatus = authz.HeaderAuthStatus
	HeaderAuthReason = authz.HeaderAuthReason
	DefaultPrefix    = authz.DefaultPrefix
)

// Verification is what `cognito-authz verify` prints of one token (docs/reference.md#verify).
type Verification struct {
	Valid    bool           `json:"valid"`
	Issuer   string         `json:"issuer,omitempty"`
	TokenUse TokenUse       `json:"token_use,omitempty"`
	Claims   map[string]any `json:"claims,omitempty"`
	// Headers are the request headers an authenticated answer sets for this token under the
	// configuration's identity_headers: what the app would receive.
	Headers map[string]string `json:"headers,omitempty"`
	Reason  reason.Code       `json:"reason,omitempty"`
	Message string            `json:"message,omitempty"`
}

// VerifyToken checks one token, bare or as a pasted Authorization header value, against cfg's
// issuers, fetching the keys it needs now. The error is a configuration error; a token that fails
// is a Verification with its reason.
func VerifyToken(ctx context.Context, cfg *Config, log *zap.Logger, token string) (Verification, error) {
	token = strings.TrimSpace(token)
	if cred, ok := tokensource.CutBearer(token); ok {
		token = cred
	}
	vcfg := cfg.VerifierConfig()
	vcfg.Logger = log.Named("jwks")
	v, err := verifier.New[struct{}](vcfg)
	if err != nil {
		return Verification{}, err
	}
	// No LoadMissing first: Verify checks every claim before it needs a key, and fetches the keys of the
	// token's issuer only then, so a token that is expired, or for another issuer or client, is
	// reported as such even when the keys cannot be fetched (offline, say). A token whose claims
	// pass still needs its key: then the answer is jwks_unavailable.
	claims, err := v.Verify(ctx, token)
	if err != nil {
		message := err.Error()
		if e, ok := err.(*verifier.Error); ok {
			message = e.Message
		}
		return Verification{Reason: verifier.ReasonOf(err), Message: message}, nil
	}
	m, err := claims.Map()
	if err != nil { // a verified payload is a JSON object; this would be a verifier bug
		log.Error("decoding verified claims", zap.Error(err))
		return Verification{Reason: reason.Malformed, Message: "claims cannot be decoded"}, nil
	}
	headers, err := authz.HeadersFor(cfg.IdentityHeaders, cfg.TokenSources.Headers, claims)
	if err != nil {
		return Verification{}, err
	}
	return Verification{Valid: true, Issuer: claims.Issuer, TokenUse: claims.TokenUse, Claims: m, Headers: headers}, nil
}

// The online revocation check (docs/reference.md#revocation-check): an issuer's revocation
// section and a rule's say in it.
type (
	Revocation            = revocation.Config
	RevocationRuleSetting = revocation.RuleSetting
)

const (
	RevocationOnline              = revocation.ModeOnline
	RevocationOff                 = revocation.ModeOff
	RevocationCheck               = revocation.RuleCheck
	RevocationSkip                = revocation.RuleSkip
	RevocationOnUnavailableAccept = revocation.OnUnavailableAccept
	RevocationOnUnavailableRefuse = revocation.OnUnavailableRefuse
)
