// Package verifier decides whether an Amazon Cognito user-pool token is genuine and meant for us,
// per docs/reference.md#verification. It knows nothing of Envoy or gRPC: a token string goes in,
// typed claims or a reason-coded error come out.
package verifier

import (
	"net/http"
	"time"

	"go.uber.org/zap"
)

// TokenUse is the kind of Cognito token an issuer accepts.
type TokenUse string

// Token uses.
const (
	TokenUseAccess TokenUse = "access"
	TokenUseID     TokenUse = "id"
	TokenUseAny    TokenUse = "any"
)

// IssuerConfig describes one user pool (or any Cognito-compatible issuer).
type IssuerConfig struct {
	// UserPoolID, e.g. us-east-1_AbCdEf123: both AWS issuer URL forms are accepted, the region is
	// taken from the id. Exactly one of UserPoolID and Issuer is set.
	UserPoolID string
	// Region, when set, must match the pool id's region.
	Region string
	// Issuer is a full issuer URL, for anything that is not AWS (cognito-local, a test issuer).
	Issuer string
	// JWKSURL defaults to <issuer>/.well-known/jwks.json.
	JWKSURL string
	// ClientIDs: app client ids whose tokens are accepted (client_id of access tokens, aud of ID tokens).
	ClientIDs []string
	// TokenUse defaults to access.
	TokenUse TokenUse
}

// Observer receives events for metrics. Every method must be cheap and safe for concurrent use.
type Observer interface {
	// JWKSFetched is called after every key-set fetch of issuer; err is nil on success.
	JWKSFetched(issuer string, err error, keys int)
	TokenCacheHit()
	TokenCacheMiss()
}

// Config configures a Verifier. Zero values take the defaults of
// docs/reference.md#configuration-file.
type Config struct {
	Issuers       []IssuerConfig
	ClockSkew     time.Duration
	MaxTokenBytes int // default 16384
	// OmitPayload leaves Claims.PayloadSegment empty (and Map failing), for a caller that needs
	// neither (no claims header): a cached token then keeps no copy of its payload.
	OmitPayload        bool
	CacheMaxEntries    int           // 0 disables the verified-token cache; negative means default 10000
	RefreshInterval    time.Duration // default 1h
	MinRefetchInterval time.Duration // default 10s
	FetchTimeout       time.Duration // default 5s
	MaxJWKSBytes       int64         // default 1 MiB
	HTTPClient         *http.Client
	Now                func() time.Time // default time.Now
	Logger             *zap.Logger
	Observer           Observer
	// Previous, when set, is the verifier this one replaces (a configuration reload): an issuer
	// configured with the same URL, key URL and key settings keeps Previous's key cache, so its
	// keys are not fetched again. Previous must stop running (Run) before this one starts.
	Previous *Verifier
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
	// PayloadSegment is the token's base64url payload segment: the verified payload JSON exactly
	// as signed, encoded, for a claims header at no extra cost (Map decodes it).
	PayloadSegment string

	memo *Memo // the cache entry's, when the claims are cached
}

// Memo is the room kept with these claims in the verified-token cache, or nil when they are not
// cached (the cache is off).
func (c *Claims) Memo() *Memo { return c.memo }
