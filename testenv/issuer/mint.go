package issuer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// TokenUse is the kind of token to mint.
type TokenUse string

// Token uses, as in the token_use claim.
const (
	Access TokenUse = "access"
	ID     TokenUse = "id"
)

// AccessClaims and IDClaims are the claims Cognito puts in each kind of token, in Cognito's order.
// cognito:groups is left out when the user is in no group, as Cognito does.
var (
	AccessClaims = []string{"sub", "cognito:groups", "iss", "version", "client_id", "origin_jti",
		"event_id", "token_use", "scope", "auth_time", "exp", "iat", "jti", "username"}
	IDClaims = []string{"sub", "cognito:groups", "email_verified", "iss", "cognito:username",
		"origin_jti", "aud", "event_id", "token_use", "auth_time", "exp", "iat", "jti", "email"}
)

// TokenSpec describes one token. The zero value (plus a Username) is a valid access token for the
// default client. The fields after TTL exist to make tokens a verifier must reject.
type TokenSpec struct {
	Use      TokenUse // default Access
	Username string   // required; the user is created on first use
	// Groups, when not nil, are the token's cognito:groups instead of the user's own (the user is
	// not changed). An empty, non-nil slice mints a token without groups.
	Groups []string
	// Scopes of an access token; nil gives DefaultScope.
	Scopes []string
	// ClientID is the client_id (access) or aud (ID); default the first configured client.
	ClientID string
	// IssuedAt sets auth_time and iat; default the issuer's clock. Expired token: an IssuedAt more
	// than TTL ago.
	IssuedAt time.Time
	// TTL sets exp = iat + TTL; default the issuer's TTL.
	TTL time.Duration

	// Key signs the token instead of the signing key; it need not be in the JWKS ("other key").
	Key *Key
	// Set adds claims or replaces standard ones (a replaced claim keeps its place). A
	// json.RawMessage value is written as is, e.g. json.RawMessage("1780000000.5") for a fractional exp.
	Set map[string]any
	// Remove drops claims.
	Remove []string
	// SetHeader adds header fields or replaces alg or kid; RemoveHeader drops them. The signature
	// is RS256 whatever alg says.
	SetHeader    map[string]any
	RemoveHeader []string
}

// Mint returns a signed compact JWS for spec.
func (is *Issuer) Mint(spec TokenSpec) (string, error) {
	if spec.Use == "" {
		spec.Use = Access
	}
	if spec.Use != Access && spec.Use != ID {
		return "", fmt.Errorf("issuer: token use %q: want %q or %q", spec.Use, Access, ID)
	}
	if err := checkText("username", spec.Username); err != nil {
		return "", err
	}
	for _, g := range spec.Groups {
		if err := checkText("group", g); err != nil {
			return "", err
		}
	}
	for _, s := range spec.Scopes {
		if err := checkText("scope", s); err != nil {
			return "", err
		}
		if strings.Contains(s, " ") {
			return "", fmt.Errorf("issuer: scope %q contains a space", s)
		}
	}
	clientID := spec.ClientID
	if clientID == "" {
		clientID = is.clientIDs[0]
	}
	if err := checkText("client id", clientID); err != nil {
		return "", err
	}
	if spec.TTL < 0 {
		return "", fmt.Errorf("issuer: TTL %v is negative (for an expired token, set IssuedAt in the past)", spec.TTL)
	}
	ttl := spec.TTL
	if ttl == 0 {
		ttl = is.ttl
	}
	issuedAt := spec.IssuedAt
	if issuedAt.IsZero() {
		issuedAt = is.now()
	}

	is.mu.Lock()
	user := is.userLocked(spec.Username).clone()
	key := is.signing
	is.mu.Unlock()
	if spec.Key != nil {
		key = spec.Key
	}
	if key == nil || key.Private == nil {
		return "", fmt.Errorf("issuer: no signing key")
	}

	groups := user.Groups
	if spec.Groups != nil {
		groups = spec.Groups
	}
	scope := DefaultScope
	if spec.Scopes != nil {
		scope = strings.Join(spec.Scopes, " ")
	}
	iat, exp := issuedAt.Unix(), issuedAt.Add(ttl).Unix()

	values := map[string]any{
		"sub":        user.Sub,
		"iss":        is.IssuerURL(),
		"origin_jti": newUUID(),
		"event_id":   newUUID(),
		"token_use":  string(spec.Use),
		"auth_time":  iat,
		"exp":        exp,
		"iat":        iat,
		"jti":        newUUID(),
	}
	if len(groups) > 0 {
		values["cognito:groups"] = slices.Clone(groups)
	}
	names := AccessClaims
	if spec.Use == Access {
		values["version"] = 2
		values["client_id"] = clientID
		values["scope"] = scope
		values["username"] = user.Username
	} else {
		names = IDClaims
		values["email_verified"] = true
		values["cognito:username"] = user.Username
		values["aud"] = clientID
		values["email"] = user.Email
	}
	claims := newObject()
	for _, name := range names {
		if v, ok := values[name]; ok {
			claims.set(name, v)
		}
	}
	claims.apply(spec.Set, spec.Remove)

	header := newObject()
	header.set("kid", key.ID)
	header.set("alg", "RS256")
	header.apply(spec.SetHeader, spec.RemoveHeader)

	headerJSON, err := header.marshal()
	if err != nil {
		return "", fmt.Errorf("issuer: header: %w", err)
	}
	claimsJSON, err := claims.marshal()
	if err != nil {
		return "", fmt.Errorf("issuer: claims: %w", err)
	}
	signingInput := b64(headerJSON) + "." + b64(claimsJSON)
	sig, err := key.SignInput(signingInput)
	if err != nil {
		return "", fmt.Errorf("issuer: sign: %w", err)
	}
	return signingInput + "." + b64(sig), nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// object is a JSON object that keeps its keys in order, so tokens read like Cognito's.
type object struct {
	names  []string
	values map[string]any
}

func newObject() *object { return &object{values: map[string]any{}} }

func (o *object) set(name string, v any) {
	if _, ok := o.values[name]; !ok {
		o.names = append(o.names, name)
	}
	o.values[name] = v
}

// apply replaces or adds set (new names in sorted order, so output is deterministic), then
// removes remove.
func (o *object) apply(set map[string]any, remove []string) {
	names := make([]string, 0, len(set))
	for name := range set {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		o.set(name, set[name])
	}
	for _, name := range remove {
		if _, ok := o.values[name]; ok {
			delete(o.values, name)
			o.names = slices.DeleteFunc(o.names, func(n string) bool { return n == name })
		}
	}
}

func (o *object) marshal() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, name := range o.names {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := json.Marshal(name)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(o.values[name])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
