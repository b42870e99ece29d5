package verifier

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"go.uber.org/zap"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/jwks"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/reason"
)

// Defaults of docs/reference.md#configuration-file that this package owns; the jwks keys' defaults
// are package jwks's.
const (
	DefaultMaxTokenBytes   = 16 << 10
	DefaultCacheMaxEntries = 10000
)

// Verifier verifies tokens of the configured issuers. It is safe for concurrent use. A is the type
// of what a caller keeps beside each cached token (Slot); a caller that keeps nothing uses
// struct{}.
type Verifier[A any] struct {
	issuers       []*issuer
	byURL         map[string]*issuer // every accepted issuer URL, both AWS forms included
	cache         *tokenCache[A]     // nil when disabled
	rs256         jws.Verifier
	now           func() time.Time
	clockSkew     time.Duration
	maxTokenBytes int
	omitPayload   bool
	headerClaims  []string
	maxClaimBytes int
	observer      Observer
}

// New checks cfg (Config.Validate) and returns a Verifier. It fetches nothing: call LoadMissing,
// then Run.
func New[A any](cfg Config) (*Verifier[A], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	v := &Verifier[A]{
		byURL:         make(map[string]*issuer),
		now:           cfg.Now,
		clockSkew:     cfg.ClockSkew,
		maxTokenBytes: cfg.MaxTokenBytes,
		omitPayload:   cfg.OmitPayload,
		headerClaims:  slices.Clone(cfg.HeaderClaims),
		maxClaimBytes: cfg.MaxClaimBytes,
		observer:      cfg.Observer,
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.maxTokenBytes == 0 {
		v.maxTokenBytes = DefaultMaxTokenBytes
	}
	if v.maxClaimBytes == 0 {
		v.maxClaimBytes = DefaultMaxClaimBytes
	}
	if v.observer == nil {
		v.observer = nopObserver{}
	}
	maxEntries := cfg.CacheMaxEntries
	if maxEntries < 0 {
		maxEntries = DefaultCacheMaxEntries
	}
	v.cache = newTokenCache[A](maxEntries)
	var err error
	if v.rs256, err = jws.NewVerifier(jwa.RS256); err != nil {
		return nil, fmt.Errorf("RS256 verifier: %w", err)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = zap.NewNop()
	}

	for _, ic := range cfg.Issuers {
		accepted, jwksURL := issuerURLs(ic)
		iss := &issuer{name: accepted[0], urls: accepted, clientIDs: slices.Clone(ic.ClientIDs), tokenUse: ic.TokenUse}
		if iss.tokenUse == "" {
			iss.tokenUse = DefaultTokenUse
		}
		observer, name := v.observer, iss.name
		keyOpts := jwks.Options{
			RefreshInterval:    cfg.RefreshInterval,
			MinRefetchInterval: cfg.MinRefetchInterval,
			FetchTimeout:       cfg.FetchTimeout,
			MaxBytes:           cfg.MaxJWKSBytes,
			Client:             cfg.HTTPClient,
			Now:                v.now,
			Logger:             logger.With(zap.String("issuer", name)),
			OnFetch:            func(err error, keys int) { observer.JWKSFetched(name, err, keys) },
		}
		if cfg.Previous != nil {
			iss.keys = cfg.Previous.keysFor(name, jwksURL, keyOpts)
		}
		if iss.keys == nil {
			iss.keys = jwks.New(jwksURL, keyOpts)
		}
		for _, u := range accepted {
			v.byURL[u] = iss
		}
		v.issuers = append(v.issuers, iss)
	}
	return v, nil
}

// keysFor returns v's key cache for the issuer name when it fetches from jwksURL with opts, or
// nil (also when v is nil).
func (v *Verifier[A]) keysFor(name, jwksURL string, opts jwks.Options) *jwks.Cache {
	if v == nil {
		return nil
	}
	for _, iss := range v.issuers {
		if iss.name == name && iss.keys.Serves(jwksURL, opts) {
			return iss.keys
		}
	}
	return nil
}

// Issuers lists the canonical URL of every configured issuer, in configuration order.
func (v *Verifier[A]) Issuers() []string {
	names := make([]string, len(v.issuers))
	for i, iss := range v.issuers {
		names[i] = iss.name
	}
	return names
}

// LoadMissing loads, all at the same time, the keys of every issuer that has none yet (every
// issuer at start, a new one after a reload); issuers whose keys are loaded are left alone. It
// tries each and returns the failures joined.
func (v *Verifier[A]) LoadMissing(ctx context.Context) error {
	errs := make([]error, len(v.issuers))
	var wg sync.WaitGroup
	for i, iss := range v.issuers {
		if iss.keys.Ready() {
			continue
		}
		wg.Go(func() {
			if err := iss.keys.Load(ctx); err != nil {
				errs[i] = fmt.Errorf("issuer %s: %w", iss.name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Ready reports whether every issuer's keys are loaded.
func (v *Verifier[A]) Ready() bool {
	for _, iss := range v.issuers {
		if !iss.keys.Ready() {
			return false
		}
	}
	return true
}

// Run refreshes every issuer's keys in the background until ctx ends, retrying quickly those
// not loaded yet.
func (v *Verifier[A]) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, iss := range v.issuers {
		wg.Go(func() { iss.keys.Run(ctx) })
	}
	wg.Wait()
}

// Verify returns the claims of a valid token, or an *Error with the reason it is not.
func (v *Verifier[A]) Verify(ctx context.Context, token string) (*Claims, error) {
	claims, _, err := v.VerifySlot(ctx, token)
	return claims, err
}

// VerifySlot is Verify, giving also the Slot kept with the token in the verified-token cache (nil
// when the token is not cached).
//
// Checks run cheapest first, and every check that needs no key runs before the key lookup, so
// that a flood of expired or misdirected tokens with made-up key ids costs neither a JWKS fetch
// nor an RSA operation. Every step before the signature can only reject.
func (v *Verifier[A]) VerifySlot(ctx context.Context, token string) (*Claims, *Slot[A], error) {
	if token == "" {
		return nil, nil, fail(reason.Missing, "no token")
	}
	if len(token) > v.maxTokenBytes {
		return nil, nil, fail(reason.TooLarge, "token is %d bytes, over the limit of %d", len(token), v.maxTokenBytes)
	}
	now := v.now()
	if v.cache != nil {
		if e := v.cache.get(token, now); e != nil {
			v.observer.TokenCacheHit()
			return e.claims, &e.slot, nil
		}
		v.observer.TokenCacheMiss()
	}

	t, perr := parse(token)
	if perr != nil {
		return nil, nil, perr
	}
	if t.header.Alg != "RS256" {
		return nil, nil, fail(reason.UnsupportedAlg, "alg %q is not RS256", truncate(t.header.Alg))
	}
	if len(t.header.Crit) > 0 {
		return nil, nil, fail(reason.Malformed, "header has critical parameters (crit), none of which is supported")
	}
	if t.header.Kid == "" {
		return nil, nil, fail(reason.Malformed, "header has no kid")
	}
	iss, e := v.issuerOf(&t.claims)
	if e != nil {
		return nil, nil, e
	}
	claims, e := v.checkClaims(iss, t, now)
	if e != nil {
		return nil, nil, e
	}

	key, generation, err := iss.keys.Lookup(ctx, t.header.Kid)
	switch {
	case errors.Is(err, jwks.ErrUnknownKid):
		return nil, nil, fail(reason.UnknownKid, "kid %q is not in the key set of %s", truncate(t.header.Kid), iss.name)
	case err != nil:
		return nil, nil, fail(reason.JWKSUnavailable, "keys of %s cannot be had: %v", iss.name, err)
	}
	if err := v.rs256.Verify([]byte(t.signingInput), t.signature, key); err != nil {
		return nil, nil, fail(reason.BadSignature, "signature does not verify with key %q", truncate(t.header.Kid))
	}

	if v.cache == nil {
		return claims, nil, nil
	}
	entry := &cacheEntry[A]{
		claims:     claims,
		notAfter:   claims.ExpiresAt.Add(v.clockSkew),
		issuer:     iss,
		generation: generation,
	}
	v.cache.put(token, entry)
	return claims, &entry.slot, nil
}

// issuerOf picks the configured issuer named by iss, before any key or signature work.
func (v *Verifier[A]) issuerOf(p *payload) (*issuer, *Error) {
	if p.Iss == "" {
		return nil, fail(reason.WrongIssuer, "token has no iss claim")
	}
	iss, ok := v.byURL[p.Iss]
	if !ok {
		return nil, fail(reason.WrongIssuer, "issuer %q is not configured", truncate(p.Iss))
	}
	return iss, nil
}

// checkClaims asserts the claims of docs/reference.md#verification and returns them typed.
func (v *Verifier[A]) checkClaims(iss *issuer, t *parsedToken, now time.Time) (*Claims, *Error) {
	p := &t.claims
	var use TokenUse
	switch TokenUse(p.TokenUse) {
	case TokenUseAccess:
		use = TokenUseAccess // the constant: a cached token keeps no copy of it
	case TokenUseID:
		use = TokenUseID
	case "":
		return nil, fail(reason.WrongTokenUse, "token has no token_use claim")
	default:
		return nil, fail(reason.WrongTokenUse, "token_use %q is neither access nor id", truncate(p.TokenUse))
	}
	if iss.tokenUse != TokenUseAny && iss.tokenUse != use {
		return nil, fail(reason.WrongTokenUse, "%s token where %s tokens are expected", use, iss.tokenUse)
	}
	clientID, clientClaim := p.ClientID, "client_id"
	if use == TokenUseID {
		clientID, clientClaim = p.Aud, "aud"
	}
	if clientID == "" {
		return nil, fail(reason.WrongClient, "%s token has no %s claim", use, clientClaim)
	}
	known := slices.Index(iss.clientIDs, clientID)
	if known < 0 {
		return nil, fail(reason.WrongClient, "%s %q is not an accepted client id", clientClaim, truncate(clientID))
	}
	clientID = iss.clientIDs[known] // the configured string: a cached token keeps no copy of it

	if p.Exp == nil {
		return nil, fail(reason.Malformed, "token has no exp claim")
	}
	exp := numericDate(*p.Exp)
	if !now.Before(exp.Add(v.clockSkew)) {
		return nil, fail(reason.Expired, "token expired at %s", exp.UTC().Format(time.RFC3339))
	}
	if p.Nbf != nil {
		if nbf := numericDate(*p.Nbf); now.Before(nbf.Add(-v.clockSkew)) {
			return nil, fail(reason.NotYetValid, "token is not valid before %s", nbf.UTC().Format(time.RFC3339))
		}
	}
	var iat time.Time
	if p.Iat != nil {
		if iat = numericDate(*p.Iat); iat.After(now.Add(v.clockSkew)) {
			return nil, fail(reason.IssuedInFuture, "token issued in the future, at %s", iat.UTC().Format(time.RFC3339))
		}
	}

	if p.Sub == "" {
		return nil, fail(reason.Malformed, "token has no sub claim")
	}
	if slices.Contains(p.Groups, "") {
		return nil, fail(reason.Malformed, "cognito:groups holds an empty or null group")
	}
	username := p.Username
	if username == "" {
		username = p.CognitoUsername
	}
	if e := checkHeaderValues(p, username, clientID); e != nil {
		return nil, e
	}
	var headerClaims []string
	if len(v.headerClaims) > 0 {
		var e *Error
		if headerClaims, e = claimTexts(t.payloadJSON, v.headerClaims, v.maxClaimBytes); e != nil {
			return nil, e
		}
	}
	payloadSegment := t.payloadSegment
	if v.omitPayload {
		payloadSegment = ""
	}
	return &Claims{
		Issuer:         iss.urls[slices.Index(iss.urls, p.Iss)], // the configured string, as above
		Subject:        p.Sub,
		Username:       username,
		Email:          p.Email,
		Groups:         p.Groups,
		Scopes:         strings.Fields(p.Scope),
		ClientID:       clientID,
		TokenUse:       use,
		ExpiresAt:      exp,
		IssuedAt:       iat,
		JTI:            p.Jti,
		OriginJTI:      p.OriginJti,
		PayloadSegment: payloadSegment,
		HeaderClaims:   headerClaims,
	}, nil
}

// checkHeaderValues rejects, as malformed, a token whose claims cannot travel as identity header
// values (docs/reference.md#headers): invalid UTF-8, which cannot be marshalled into
// the answer at all, and control characters (CR, LF, NUL, ...), which would split or corrupt the
// request Envoy forwards. Tab and every valid UTF-8 sequence are allowed. Every claim Claims
// carries as text is checked, so a verified token always has an answer.
func checkHeaderValues(p *payload, username, clientID string) *Error {
	for _, c := range [...]struct{ name, value string }{
		{"sub", p.Sub}, {"username", username}, {"email", p.Email}, {"client id", clientID},
		{"scope", p.Scope}, {"jti", p.Jti},
	} {
		if !validHeaderValue(c.value) {
			return fail(reason.Malformed, "%s claim is not a valid header value (invalid UTF-8 or a control character)", c.name)
		}
	}
	for _, g := range p.Groups {
		if !validHeaderValue(g) {
			return fail(reason.Malformed, "cognito:groups holds a group that is not a valid header value (invalid UTF-8 or a control character)")
		}
	}
	return nil
}

// validHeaderValue reports whether v is valid UTF-8 with no control character but tab.
func validHeaderValue(v string) bool {
	if !utf8.ValidString(v) {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// numericDate converts a JWT NumericDate (seconds, fractions allowed) to a time, exactly for whole
// seconds and clamped to a range time arithmetic survives.
func numericDate(seconds float64) time.Time {
	const limit = 1 << 40 // about 35,000 years either side of 1970
	seconds = max(-limit, min(limit, seconds))
	whole, frac := math.Modf(seconds)
	return time.Unix(int64(whole), int64(frac*1e9))
}

// Map decodes the verified payload into a claim map, numbers kept exact, for `verify` output.
func (c *Claims) Map() (map[string]any, error) {
	payload, err := b64.DecodeString(c.PayloadSegment)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

type nopObserver struct{}

func (nopObserver) JWKSFetched(string, error, int) {}
func (nopObserver) TokenCacheHit()                 {}
func (nopObserver) TokenCacheMiss()                {}
