// Package issuer is a local stand-in for an Amazon Cognito user pool: it mints ID and access tokens
// with Cognito's claim sets, signed RS256 with keys it serves at /<poolId>/.well-known/jwks.json,
// and creates users on demand. Tests use its Go API (including ways to mint broken tokens and to
// make the JWKS endpoint fail); the demo uses its HTTP mint endpoint (see Issuer.ServeHTTP).
//
// Anyone who can reach an Issuer can mint tokens it signs: it is for tests and local demos only.
package issuer

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
)

// Defaults, shaped like a fresh Cognito user pool's.
const (
	DefaultPoolID = "local_pool"
	DefaultTTL    = time.Hour // Cognito's default access and ID token validity
	// DefaultScope is the scope Cognito puts in access tokens from its user-pool API sign-in.
	DefaultScope = "aws.cognito.signin.user.admin"
)

// Options configure an Issuer.
type Options struct {
	// BaseURL is where the issuer is served, without a trailing slash, e.g. http://127.0.0.1:8080:
	// tokens carry iss = BaseURL + "/" + PoolID.
	BaseURL string
	// PoolID defaults to DefaultPoolID. Letters, digits, '_' and '-' only: it is a path segment.
	PoolID string
	// ClientIDs are the app clients; the first is the default client of minted tokens. At least one.
	ClientIDs []string
	// Key is the first signing key; nil generates one.
	Key *Key
	// Now is the clock behind auth_time, iat and exp; default time.Now.
	Now func() time.Time
	// TTL is the default token lifetime; default DefaultTTL.
	TTL time.Duration
}

// Issuer is a local Cognito user pool. It is safe for concurrent use.
type Issuer struct {
	baseURL   string
	poolID    string
	clientIDs []string
	now       func() time.Time
	ttl       time.Duration

	mu      sync.Mutex
	keys    []*Key // served in the JWKS, in the order added
	signing *Key
	users   map[string]*User
	// jwksFailure, when not zero, is the status the JWKS endpoint answers instead of the keys.
	jwksFailure int

	jwksRequests atomic.Int64
}

// User is one user of the pool. Sub is stable: the same pool and username always give the same sub,
// so a restarted issuer keeps its users' identities.
type User struct {
	Username string
	Sub      string
	Email    string
	Groups   []string
}

var poolIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,55}$`)

// New checks opts and returns an Issuer, generating a key when none is given.
func New(opts Options) (*Issuer, error) {
	if opts.PoolID == "" {
		opts.PoolID = DefaultPoolID
	}
	if !poolIDPattern.MatchString(opts.PoolID) {
		return nil, fmt.Errorf("issuer: pool id %q: want 1-55 letters, digits, '_' or '-'", opts.PoolID)
	}
	base := strings.TrimSuffix(opts.BaseURL, "/")
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return nil, fmt.Errorf("issuer: base URL %q: want an absolute http(s) URL", opts.BaseURL)
	}
	if len(opts.ClientIDs) == 0 {
		return nil, errors.New("issuer: at least one client id is required")
	}
	for _, id := range opts.ClientIDs {
		if err := checkText("client id", id); err != nil {
			return nil, err
		}
	}
	if opts.TTL < 0 {
		return nil, fmt.Errorf("issuer: TTL %v is negative", opts.TTL)
	}
	if opts.TTL == 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	key := opts.Key
	if key == nil {
		var err error
		if key, err = NewKey(""); err != nil {
			return nil, err
		}
	} else if key.Private == nil || key.ID == "" {
		return nil, errors.New("issuer: key needs a private key and an id")
	}
	return &Issuer{
		baseURL:   base,
		poolID:    opts.PoolID,
		clientIDs: slices.Clone(opts.ClientIDs),
		now:       opts.Now,
		ttl:       opts.TTL,
		keys:      []*Key{key},
		signing:   key,
		users:     map[string]*User{},
	}, nil
}

// IssuerURL is the iss of every token: <base URL>/<pool id>.
func (is *Issuer) IssuerURL() string { return is.baseURL + "/" + is.poolID }

// JWKSURL is where the keys are served.
func (is *Issuer) JWKSURL() string { return is.IssuerURL() + "/.well-known/jwks.json" }

// PoolID is the user pool id.
func (is *Issuer) PoolID() string { return is.poolID }

// ClientIDs are the app clients, the default first.
func (is *Issuer) ClientIDs() []string { return slices.Clone(is.clientIDs) }

// User returns the user called username, creating it on first use with no groups.
func (is *Issuer) User(username string) (User, error) {
	if err := checkText("username", username); err != nil {
		return User{}, err
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.userLocked(username).clone(), nil
}

// SetGroups makes groups the groups of username (creating the user if needed).
func (is *Issuer) SetGroups(username string, groups ...string) (User, error) {
	if err := checkText("username", username); err != nil {
		return User{}, err
	}
	for _, g := range groups {
		if err := checkText("group", g); err != nil {
			return User{}, err
		}
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	u := is.userLocked(username)
	u.Groups = slices.Clone(groups)
	return u.clone(), nil
}

func (is *Issuer) userLocked(username string) *User {
	if u, ok := is.users[username]; ok {
		return u
	}
	email := username + "@example.com"
	if strings.Contains(username, "@") {
		email = username
	}
	u := &User{Username: username, Sub: stableUUID(is.poolID + "\x00" + username), Email: email}
	is.users[username] = u
	return u
}

func (u *User) clone() User {
	c := *u
	c.Groups = slices.Clone(u.Groups)
	return c
}

// SigningKey is the key tokens are signed with unless a TokenSpec names another.
func (is *Issuer) SigningKey() *Key {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.signing
}

// Rotate generates a new key, adds it to the JWKS and signs with it from now on. The old keys stay
// in the JWKS, as Cognito keeps them, so tokens already minted still verify.
func (is *Issuer) Rotate() (*Key, error) {
	k, err := NewKey("")
	if err != nil {
		return nil, err
	}
	if err := is.AddKey(k); err != nil {
		return nil, err
	}
	return k, is.UseKey(k.ID)
}

// AddKey adds k to the JWKS without signing with it.
func (is *Issuer) AddKey(k *Key) error {
	if k == nil || k.Private == nil || k.ID == "" {
		return errors.New("issuer: key needs a private key and an id")
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.keyLocked(k.ID) != nil {
		return fmt.Errorf("issuer: key id %q is already in the JWKS", k.ID)
	}
	is.keys = append(is.keys, k)
	return nil
}

// UseKey signs with the JWKS key kid from now on.
func (is *Issuer) UseKey(kid string) error {
	is.mu.Lock()
	defer is.mu.Unlock()
	k := is.keyLocked(kid)
	if k == nil {
		return fmt.Errorf("issuer: no key %q in the JWKS", kid)
	}
	is.signing = k
	return nil
}

// RemoveKey drops kid from the JWKS. Removing the signing key is allowed: tokens minted afterwards
// carry a kid the JWKS no longer has, which is what a test of a retired key needs.
func (is *Issuer) RemoveKey(kid string) error {
	is.mu.Lock()
	defer is.mu.Unlock()
	i := slices.IndexFunc(is.keys, func(k *Key) bool { return k.ID == kid })
	if i < 0 {
		return fmt.Errorf("issuer: no key %q in the JWKS", kid)
	}
	is.keys = slices.Delete(is.keys, i, i+1)
	return nil
}

func (is *Issuer) keyLocked(kid string) *Key {
	for _, k := range is.keys {
		if k.ID == kid {
			return k
		}
	}
	return nil
}

// JWKS is the key set the JWKS endpoint serves (when it is not failing).
func (is *Issuer) JWKS() JWKS {
	is.mu.Lock()
	defer is.mu.Unlock()
	doc := JWKS{Keys: make([]JWK, 0, len(is.keys))}
	for _, k := range is.keys {
		doc.Keys = append(doc.Keys, k.PublicJWK())
	}
	return doc
}

// FailJWKS makes the JWKS endpoint answer status (e.g. 503) instead of the keys; 0 serves the keys
// again.
func (is *Issuer) FailJWKS(status int) {
	if status != 0 && (status < 100 || status > 599) {
		panic(fmt.Sprintf("issuer: FailJWKS(%d): not an HTTP status", status))
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	is.jwksFailure = status
}

// JWKSRequests counts requests to the JWKS endpoint, failed ones included, so a test can tell how
// often a verifier fetched.
func (is *Issuer) JWKSRequests() int64 { return is.jwksRequests.Load() }

// newUUID returns a random (version 4) UUID, as Cognito's jti, origin_jti and event_id are.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return formatUUID(b)
}

// stableUUID returns a UUID derived from name, shaped like a version 4 UUID (Cognito subs are).
func stableUUID(name string) string {
	sum := sha256.Sum256([]byte(name))
	var b [16]byte
	copy(b[:], sum[:16])
	return formatUUID(b)
}

func formatUUID(b [16]byte) string {
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// checkText rejects empty, over-long and control-character values: they would only ever be typos
// or attacks on whatever prints the claim.
func checkText(what, s string) error {
	if s == "" {
		return fmt.Errorf("issuer: %s is empty", what)
	}
	if len(s) > 128 {
		return fmt.Errorf("issuer: %s is longer than 128 bytes", what)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return fmt.Errorf("issuer: %s %q contains a control character", what, s)
	}
	return nil
}

// BaseURL is where the issuer is served, without a trailing slash.
func (is *Issuer) BaseURL() string { return is.baseURL }
