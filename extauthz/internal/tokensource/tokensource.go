// Package tokensource finds the bearer token in a request's headers and cookies
// (docs/reference.md#token-sources, token_sources). It knows nothing of Envoy: it reads a
// lower-cased header map.
//
// Sources are tried in a fixed order, and the first that holds a credential wins: the
// Authorization header, then Headers in order, then Cookies in order, then Amplify cookies.
// A source "holds a credential" when it has something that claims to be our token; if that
// something cannot be one, Find stops there and reports it (the request then carries a malformed
// token, not no token):
//
//   - Authorization: only the Bearer scheme (any case) is ours; another scheme (Basic, ...) is not a
//     credential and the next source is tried. Bearer with no token is malformed. Envoy joins
//     repeated headers with commas, so a value with several comma-separated credentials of which
//     one is Bearer is malformed: several Authorization headers are ambiguous and never guessed.
//   - Headers: the value is the token, with an optional "Bearer " prefix. An empty value is no
//     credential. A comma (repeated header) or inner whitespace is malformed.
//   - Cookies: the Cookie header is split at ";" (and at "," in case repeated Cookie headers were
//     comma-joined); pairs without "=" and other junk are skipped, never an error. Surrounding
//     double quotes are dropped and percent escapes in names and values decoded. The first
//     non-empty cookie of a name wins.
//   - Amplify: for each client id, cookie CognitoIdentityServiceProvider.<clientId>.LastAuthUser
//     names the user and CognitoIdentityServiceProvider.<clientId>.<user>.accessToken (idToken when
//     the token use is id) holds the token.
//
// Header names are looked up lower-cased, as Envoy sends them; a map that holds a differently
// cased key instead (not from Envoy) is searched case-insensitively, and several keys that differ
// only in case count as a repeated header.
package tokensource

import (
	"fmt"
	"strings"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/httptext"
)

// Config is the token_sources section: where tokens are looked for; the first source that yields
// a token wins.
type Config struct {
	AuthorizationHeader bool     `yaml:"authorization_header"` // Authorization: Bearer <jwt>
	Headers             []string `yaml:"headers"`              // e.g. x-access-token
	Cookies             []string `yaml:"cookies"`              // e.g. access_token
	AmplifyCookies      bool     `yaml:"amplify_cookies"`      // Amplify CookieStorage cookies
	// AmplifyClientIDs are the client ids whose Amplify cookies are read (the issuers' client_ids:
	// no key of their own, config.Config.TokenSourcesFor fills them).
	AmplifyClientIDs []string `yaml:"-"`
	// AmplifyTokenUse selects the .accessToken (access, any) or .idToken (id) cookie (likewise).
	AmplifyTokenUse string `yaml:"-"`
}

// Validate reports the first broken key, named as in the configuration file, e.g.
// `token_sources.headers[1]: "X-Token" must be lower-case`.
func (c Config) Validate() error {
	if !c.AuthorizationHeader && len(c.Headers) == 0 && len(c.Cookies) == 0 && !c.AmplifyCookies {
		return fmt.Errorf("token_sources: no source is enabled (set authorization_header, headers, cookies or amplify_cookies)")
	}
	for i, h := range c.Headers {
		switch {
		case !httptext.IsToken(h):
			return fmt.Errorf("token_sources.headers[%d]: %q is not a header name", i, h)
		case h != strings.ToLower(h):
			return fmt.Errorf("token_sources.headers[%d]: %q must be lower-case", i, h)
		case h == "authorization":
			return fmt.Errorf("token_sources.headers[%d]: %q is read by authorization_header", i, h)
		case h == "cookie":
			return fmt.Errorf("token_sources.headers[%d]: %q is read by cookies", i, h)
		}
	}
	for i, name := range c.Cookies {
		if !httptext.IsToken(name) {
			return fmt.Errorf("token_sources.cookies[%d]: %q is not a cookie name", i, name)
		}
	}
	if c.AmplifyCookies {
		if len(c.AmplifyClientIDs) == 0 {
			return fmt.Errorf("token_sources.amplify_cookies: no client ids to read cookies for (set the issuers' client_ids)")
		}
		for _, id := range c.AmplifyClientIDs {
			if !httptext.IsToken(id) {
				return fmt.Errorf("token_sources.amplify_cookies: client id %q cannot be part of a cookie name", id)
			}
		}
		switch c.AmplifyTokenUse {
		case "", "access", "id", "any":
		default:
			return fmt.Errorf("token_sources.amplify_cookies: unknown token_use %q (want access, id or any)", c.AmplifyTokenUse)
		}
	}
	return nil
}

// Error says why a credential cannot be a token. It names the source, never the credential.
type Error struct {
	Source  string // e.g. "authorization header", "header x-access-token", "cookie access_token"
	Message string
}

func (e *Error) Error() string { return e.Source + ": " + e.Message }

// Finder finds tokens per one validated Config. It is safe for concurrent use.
type Finder struct {
	authorization bool
	headers       []string
	cookies       []string
	amplify       []amplifyNames
}

// amplifyNames are one client id's Amplify cookie names, built once.
type amplifyNames struct {
	lastAuthUser string // CognitoIdentityServiceProvider.<clientId>.LastAuthUser
	userPrefix   string // CognitoIdentityServiceProvider.<clientId>.
	tokenSuffix  string // .accessToken or .idToken
}

// New validates cfg and returns a Finder.
func New(cfg Config) (*Finder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f := &Finder{
		authorization: cfg.AuthorizationHeader,
		headers:       append([]string(nil), cfg.Headers...),
		cookies:       append([]string(nil), cfg.Cookies...),
	}
	if cfg.AmplifyCookies {
		suffix := ".accessToken"
		if cfg.AmplifyTokenUse == "id" {
			suffix = ".idToken"
		}
		for _, id := range cfg.AmplifyClientIDs {
			prefix := "CognitoIdentityServiceProvider." + id + "."
			f.amplify = append(f.amplify, amplifyNames{lastAuthUser: prefix + "LastAuthUser", userPrefix: prefix, tokenSuffix: suffix})
		}
	}
	return f, nil
}

// Find returns the token of the first source that holds a credential. found is false when no
// source holds one; err (an *Error) is set when the credential found cannot be a token, and then
// found is true and token empty.
func (f *Finder) Find(headers map[string]string) (token string, found bool, err error) {
	h := headerMap{m: headers}
	if f.authorization {
		if v, ok := h.get("authorization"); ok {
			if token, found, err = fromAuthorization(v); found {
				return token, found, err
			}
		}
	}
	for _, name := range f.headers {
		if v, ok := h.get(name); ok {
			if token, found, err = fromHeader(name, v); found {
				return token, found, err
			}
		}
	}
	if len(f.cookies) == 0 && len(f.amplify) == 0 {
		return "", false, nil
	}
	cookieHeader, ok := h.get("cookie")
	if !ok {
		return "", false, nil
	}
	for _, name := range f.cookies {
		if v, ok := cookie(cookieHeader, name); ok {
			return fromCookie("cookie "+name, v)
		}
	}
	for _, a := range f.amplify {
		user, ok := cookie(cookieHeader, a.lastAuthUser)
		if !ok {
			continue
		}
		if v, ok := cookie(cookieHeader, a.userPrefix+user+a.tokenSuffix); ok {
			return fromCookie("amplify cookie", v)
		}
	}
	return "", false, nil
}

// headerMap looks lower-case names up in a request's headers. Envoy's keys are lower-case, so a
// miss is final; only a map holding some other casing (checked once, on the first miss) is
// searched case-insensitively.
type headerMap struct {
	m         map[string]string
	checked   bool
	mixedCase bool
}

func (h *headerMap) get(name string) (string, bool) {
	if v, ok := h.m[name]; ok {
		return v, true
	}
	if !h.checked {
		h.checked, h.mixedCase = true, hasUpperCaseKey(h.m)
	}
	if !h.mixedCase {
		return "", false
	}
	// Collected, then joined once: linear however many casings of the name the map holds.
	var values []string
	for k, v := range h.m {
		if len(k) == len(name) && strings.EqualFold(k, name) {
			values = append(values, v)
		}
	}
	return strings.Join(values, ","), len(values) > 0
}

func hasUpperCaseKey(m map[string]string) bool {
	for k := range m {
		for i := 0; i < len(k); i++ {
			if 'A' <= k[i] && k[i] <= 'Z' {
				return true
			}
		}
	}
	return false
}

func fromAuthorization(v string) (string, bool, error) {
	if strings.IndexByte(v, ',') >= 0 {
		for part := range strings.SplitSeq(v, ",") {
			if _, ok := CutBearer(strings.TrimSpace(part)); ok {
				return "", true, &Error{Source: "authorization header", Message: "several Authorization headers (or a comma in the token)"}
			}
		}
		return "", false, nil
	}
	cred, ok := CutBearer(strings.TrimSpace(v))
	if !ok {
		return "", false, nil // another scheme: not ours
	}
	return checkToken("authorization header", cred)
}

// CutBearer returns the credentials after a case-insensitive "Bearer" scheme (RFC 6750), the one
// reading of a bearer credential: the Authorization header's, and `cognito-authz verify`'s.
func CutBearer(v string) (string, bool) {
	const scheme = "bearer"
	if len(v) < len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", false
	}
	rest := v[len(scheme):]
	if rest == "" {
		return "", true
	}
	if rest[0] != ' ' && rest[0] != '\t' {
		return "", false // e.g. "Bearerx": some other scheme
	}
	return strings.TrimLeft(rest, " \t"), true
}

func fromHeader(name, v string) (string, bool, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", false, nil
	}
	if strings.IndexByte(v, ',') >= 0 {
		return "", true, &Error{Source: "header " + name, Message: "repeated header (or a comma in the token)"}
	}
	if cred, ok := CutBearer(v); ok {
		v = cred
	}
	return checkToken("header "+name, v)
}

func fromCookie(source, v string) (string, bool, error) {
	if strings.IndexByte(v, ',') >= 0 { // decoded from %2C: the other sources reject it before
		return "", true, badToken(source)
	}
	return checkToken(source, v)
}

// checkToken rejects credentials that cannot be one compact JWS; the verifier judges the rest.
// The caller has rejected a comma already: each source says why in its own way, and a token is
// long enough that reading it once more costs.
func checkToken(source, cred string) (string, bool, error) {
	if cred == "" {
		return "", true, &Error{Source: source, Message: "no token after the scheme"}
	}
	if strings.IndexByte(cred, ' ') >= 0 || strings.IndexByte(cred, '\t') >= 0 {
		return "", true, badToken(source)
	}
	return cred, true, nil
}

func badToken(source string) error {
	return &Error{Source: source, Message: "whitespace or a comma in the token"}
}

// cookie returns the first non-empty value of cookie name in a Cookie header, without allocating
// unless a name or value carries percent escapes.
func cookie(cookieHeader, name string) (string, bool) {
	rest := cookieHeader
	for rest != "" {
		var pair string
		if i := indexCookieSeparator(rest); i >= 0 {
			pair, rest = rest[:i], rest[i+1:]
		} else {
			pair, rest = rest, ""
		}
		k, v, ok := strings.Cut(pair, "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		if k != name && (strings.IndexByte(k, '%') < 0 || httptext.PercentDecode(k) != name) {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		if strings.IndexByte(v, '%') >= 0 {
			v = httptext.PercentDecode(v)
		}
		if v != "" {
			return v, true
		}
	}
	return "", false
}

// indexCookieSeparator finds the next ";" or ",": a hand loop, since strings.IndexAny builds a
// character set on every call and this runs per cookie.
func indexCookieSeparator(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == ';' || s[i] == ',' {
			return i
		}
	}
	return -1
}
