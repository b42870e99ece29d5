// Package extauthz is the product's one public package: what the binary (cmd/cognito-authz) and
// the local stack (module testenv) need of the service, and nothing else. Everything that does the
// work lives under extauthz/internal; docs/design.md follows one request through it.
//
// Three uses, and why each is here:
//   - Load a configuration: the binary resolves the file and flags; testenv builds configurations
//     in Go (the demo stack, the benchmark, the edge tests) and loads the committed deploy files,
//     so it needs the configuration types and their constants (token uses, route auth modes).
//   - Run the service: the binary serves; testenv starts it in-process beside Envoy, nginx and
//     Traefik, and waits for its readiness and its bound addresses.
//   - Verify a token: `cognito-authz verify`.
//
// Beside them, the names of the contract a user meets (reason codes, results, owned headers),
// which the binary's reference test checks against docs/reference.md and testenv writes into the
// Envoy configurations it renders.
//
// The names are aliases of the internal packages' own: one definition, importable from outside
// extauthz (Go's internal rule is by path, and neither cmd/ nor testenv is under extauthz/).
package extauthz

import (
	"github.com/cognito-authz/cognito-authz/extauthz/internal/authz"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/config"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/policy"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/reason"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/runner"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/verifier"
)

// Configuration (docs/reference.md#configuration-file).
type (
	Config    = config.Config
	Issuer    = verifier.IssuerConfig
	Rule      = policy.Rule
	Log       = config.Log
	Overrides = config.Overrides // the command line's flags, laid over the file
	TokenUse  = verifier.TokenUse
	Auth      = policy.Auth
)

// Token uses an issuer accepts.
const (
	TokenUseAccess = verifier.TokenUseAccess
	TokenUseID     = verifier.TokenUseID
	TokenUseAny    = verifier.TokenUseAny
)

// Route auth modes, and what an invalid token gets on an optional route.
const (
	AuthOptional          = policy.AuthOptional
	AuthRequired          = policy.AuthRequired
	AuthOff               = policy.AuthOff
	InvalidTokenAnonymous = policy.InvalidTokenAnonymous
	InvalidTokenDeny      = policy.InvalidTokenDeny
)

var (
	// DefaultConfig returns every default and no issuers.
	DefaultConfig = config.Default
	// LoadConfig reads and validates a configuration file.
	LoadConfig = config.Load
	// ParseConfig reads and validates a configuration file's content.
	ParseConfig = config.Parse
	// BindFlags binds the flags every command shares.
	BindFlags = config.BindFlags
	// LogLevels and LogFormats are what --log-level and --log-format accept.
	LogLevels  = config.LogLevels
	LogFormats = config.LogFormats
	// RegionOf is the AWS region of a user pool id, or "".
	RegionOf = verifier.RegionOf
)

// The service.
type (
	Service   = runner.Service
	Reloading = runner.Reloading
)

var (
	// NewService builds the service from a configuration; it binds and fetches nothing.
	NewService = runner.New
	// AuthorizationService is the gRPC service name whose health is reported, beside "".
	AuthorizationService = runner.AuthorizationService
)

// IdentityHeaderNames are the identity headers under a prefix (docs/reference.md#headers).
var IdentityHeaderNames = authz.IdentityHeaderNames

// ShutdownTimeout bounds Service.Run's graceful shutdown.
const ShutdownTimeout = runner.ShutdownTimeout

// The contract's names (docs/reference.md).
var (
	// ReasonCodes lists every reason code.
	ReasonCodes = reason.All
	// Results lists every check result.
	Results = policy.Results
)

// Owned headers whatever the prefix, and the default identity header prefix.
const (
	HeaderAuthStatus = authz.HeaderAuthStatus
	HeaderAuthReason = authz.HeaderAuthReason
	DefaultPrefix    = authz.DefaultPrefix
)
