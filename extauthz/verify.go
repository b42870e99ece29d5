package extauthz

import (
	"context"
	"strings"

	"go.uber.org/zap"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/reason"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/tokensource"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/verifier"
)

// Verification is what `cognito-authz verify` prints of one token (docs/reference.md#verify).
type Verification struct {
	Valid    bool           `json:"valid"`
	Issuer   string         `json:"issuer,omitempty"`
	TokenUse TokenUse       `json:"token_use,omitempty"`
	Claims   map[string]any `json:"claims,omitempty"`
	Reason   reason.Code    `json:"reason,omitempty"`
	Message  string         `json:"message,omitempty"`
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
	return Verification{Valid: true, Issuer: claims.Issuer, TokenUse: claims.TokenUse, Claims: m}, nil
}
