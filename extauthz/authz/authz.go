// Package authz is the Envoy ext_authz gRPC service (envoy.service.auth.v3.Authorization). Its
// data path reads top to bottom: Check → find token → verify → apply policy → build response.
// It knows nothing of flags or files.
package authz

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/cognito-authz/cognito-authz/extauthz/policy"
	"github.com/cognito-authz/cognito-authz/extauthz/reason"
	"github.com/cognito-authz/cognito-authz/extauthz/tokensource"
	"github.com/cognito-authz/cognito-authz/extauthz/verifier"
)

// TokenVerifier is what Check needs of the verifier.
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (*verifier.Claims, error)
}

// Result is one of the SPEC section 1 results (plus "skipped" for routes with auth: off).
type Result string

// Results, as used in the cognito_authz_checks_total{result} label.
const (
	ResultAuthenticated   Result = "authenticated"
	ResultAnonymous       Result = "anonymous"
	ResultUnauthenticated Result = "unauthenticated"
	ResultForbidden       Result = "forbidden"
	ResultUnavailable     Result = "unavailable"
	ResultSkipped         Result = "skipped"
)

// Recorder receives one call per Check, for metrics. reason is empty when there is none.
type Recorder interface {
	CheckDone(result Result, why reason.Code, elapsed time.Duration)
}

// HeaderConfig is the identity_headers section.
type HeaderConfig struct {
	Prefix             string // default x-user-
	ClaimsHeader       string // empty: off
	StripAuthorization bool
}

// Options configure a Server.
type Options struct {
	Verifier     TokenVerifier
	Policy       policy.Config
	TokenSources tokensource.Config
	Headers      HeaderConfig
	Recorder     Recorder // optional
	Logger       *zap.Logger
	Now          func() time.Time // optional, for durations
}
