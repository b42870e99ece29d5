// Package verifier decides whether an Amazon Cognito user-pool token is genuine and meant for us,
// per docs/reference.md#verification. It knows nothing of Envoy or gRPC: a token string goes in,
// typed claims or a reason-coded error come out.
package verifier

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/jwks"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/revocation"
)

// TokenUse is the kind of Cognito token an issuer accepts.
type TokenUse string

// Token uses.
const (
	TokenUseAccess TokenUse = "access"
	TokenUseID     TokenUse = "id"
	TokenUseAny    TokenUse = "any"

	// DefaultTokenUse is what an issuer accepts when its TokenUse is empty.
	DefaultTokenUse = TokenUseAccess
)

// IssuerConfig describes one user pool (or any Cognito-compatible issuer): one entry of the
// configuration file's issuers.
type IssuerConfig struct {
	// UserPoolID, e.g. us-east-1_AbCdEf123: both AWS issuer URL forms are accepted, the region is
	// taken from the id. Exactly one of UserPoolID and Issuer is set.
	UserPoolID string `yaml:"user_pool_id,omitempty"`
	// Region, when set, must match the pool id's region (the --region flag; no key of its own).
	Region string `yaml:"-"`
	// Issuer is a full issuer URL, for anything that is not AWS (cognito-local, a test issuer).
	Issuer string `yaml:"issuer,omitempty"`
	// JWKSURL defaults to <issuer>/.well-known/jwks.json.
	JWKSURL string `yaml:"jwks_url"`
	// ClientIDs: app client ids whose tokens are accepted (client_id of access tokens, aud of ID tokens).
	ClientIDs []string `yaml:"client_ids"`
	// TokenUse defaults to DefaultTokenUse.
	TokenUse TokenUse `yaml:"token_use"`

	// Revocation is the online revocation check of this issuer's tokens: the verifier does not
	// read it (package revocation does; config validates it).
	Revocation revocation.Config `yaml:"revocation"`
}

// previousVerifier is a *Verifier of any slot type, which lends its key caches (Config.Previous).
type previousVerifier interface {
	keysFor(name, jwksURL string, opts jwks.Options) *jwks.Cache
}

// Observer receives events for metrics. Every method must be cheap and safe for concurrent use.
type Observer interface {
	// JWKSFetched is called after every key-set fetch of issuer; err is nil on success.
	JWKSFetched(issuer string, err error, keys int)
	TokenCacheHit()
	TokenCacheMiss()
}

// Config configures a Verifier. Zero values take the defaults of
// docs/reference.md#configuration-file (this package's Default* constants, and package jwks's for
// the key settings); CacheMaxEntries is the exception, see there.
type Config struct {
	Issuers            []IssuerConfig
	ClockSkew          time.Duration
	MaxTokenBytes      int           // default DefaultMaxTokenBytes
	CacheMaxEntries    int           // 0 disables the verified-token cache; negative means DefaultCacheMaxEntries
	RefreshInterval    time.Duration // default jwks.DefaultRefreshInterval
	MinRefetchInterval time.Duration // default jwks.DefaultMinRefetchInterval
	FetchTimeout       time.Duration // default jwks.DefaultFetchTimeout
	MaxJWKSBytes       int64         // default jwks.DefaultMaxBytes
	HTTPClient         *http.Client
	Now                func() time.Time // default time.Now
	Logger             *zap.Logger
	Observer           Observer
	// Previous, when set, is the verifier this one replaces (a configuration reload): an issuer
	// configured with the same URL, key URL and key settings keeps Previous's key cache, so its
	// keys are not fetched again. Previous must stop running (Run) before this one starts.
	Previous previousVerifier
	// OmitPayload leaves Claims.PayloadSegment empty (and Map failing), for a caller that needs
	// neither (no claims header): a cached token then keeps no copy of its payload.
	OmitPayload bool
	// HeaderClaims are the claims (identity_headers.claims) whose values Claims.HeaderClaims
	// carries as header text, checked like every other claim that becomes a header; MaxClaimBytes
	// bounds each (default DefaultMaxClaimBytes), a longer one is claim_too_large.
	HeaderClaims  []string
	MaxClaimBytes int
}

// Claims are the verified claims of one token. A *Claims may be shared between callers (the cache
// hands out the same one): treat it as read-only.
type Claims struct {
	Issuer    string // the configured issuer it matched, as written in the token
	Subject   string
	Username  string // username (access) or cognito:username (ID)
	Email     string // ID tokens only
	Groups    []string
	Scopes    []string // access tokens: scope split on spaces
	ClientID  string   // client_id (access) or aud (ID)
	TokenUse  TokenUse // access or id
	ExpiresAt time.Time
	IssuedAt  time.Time
	JTI       string
	// OriginJTI is origin_jti: one per sign-in, shared by its ID and access tokens and the
	// access tokens refreshed from it; "" when the pool does not issue it.
	OriginJTI string
	// PayloadSegment is the token's base64url payload segment: the verified payload JSON exactly
	// as signed, encoded, for a claims header at no extra cost (Map decodes it).
	PayloadSegment string
	// HeaderClaims holds the text of each of Config.HeaderClaims (ClaimText), in that order; ""
	// where the token has no value.
	HeaderClaims []string
}

// Validate reports every broken key of c, each named as in the configuration file (e.g.
// `issuers[1].client_ids: required`), joined with errors.Join, or nil. This is the one check of
// these keys: New runs it, and the configuration file defers to it.
func (c Config) Validate() error {
	var errs []error
	if len(c.Issuers) == 0 {
		errs = append(errs, errors.New("issuers: at least one issuer is required"))
	}
	firstWith := map[string]int{} // accepted issuer URL -> the first issuer accepting it
	for i, ic := range c.Issuers {
		key := fmt.Sprintf("issuers[%d]", i)
		problems := ic.problems()
		for _, p := range problems {
			errs = append(errs, p.under(key))
		}
		if len(problems) > 0 {
			continue
		}
		accepted, _ := issuerURLs(ic)
		for _, u := range accepted {
			if first, dup := firstWith[u]; dup {
				errs = append(errs, fmt.Errorf("%s: same issuer as issuers[%d] (%s is configured twice)", key, first, u))
				break
			}
			firstWith[u] = i
		}
	}
	if c.ClockSkew < 0 {
		errs = append(errs, fmt.Errorf("clock_skew: must not be negative, got %s", c.ClockSkew))
	}
	for _, n := range []struct {
		key      string
		value    any
		negative bool
	}{
		{"max_token_bytes", c.MaxTokenBytes, c.MaxTokenBytes < 0},
		{"jwks.refresh_interval", c.RefreshInterval, c.RefreshInterval < 0},
		{"jwks.min_refetch_interval", c.MinRefetchInterval, c.MinRefetchInterval < 0},
		{"jwks.fetch_timeout", c.FetchTimeout, c.FetchTimeout < 0},
		{"jwks.max_bytes", c.MaxJWKSBytes, c.MaxJWKSBytes < 0},
		{"identity_headers.max_claim_bytes", c.MaxClaimBytes, c.MaxClaimBytes < 0},
	} {
		if n.negative {
			// Zero takes the default; a negative is a mistake.
			errs = append(errs, fmt.Errorf("%s: must be positive, got %v", n.key, n.value))
		}
	}
	return errors.Join(errs...)
}
