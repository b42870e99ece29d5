package verifier

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/jwks"
)

// userPoolIDPattern is the shape AWS gives user pool ids: <region>_<id>, e.g. us-east-1_AbCdEf123
// or us-gov-west-1_Xyz.
var userPoolIDPattern = regexp.MustCompile(`^([a-z]{2}(?:-[a-z]+)+-\d+)_([0-9A-Za-z]+)$`)

// RegionOf returns the region of a user pool id, or "" when userPoolID is not one.
func RegionOf(userPoolID string) string {
	m := userPoolIDPattern.FindStringSubmatch(userPoolID)
	if m == nil {
		return ""
	}
	return m[1]
}

// issuer is one configured user pool with its keys.
type issuer struct {
	name      string   // the canonical issuer URL, used in metrics and messages
	urls      []string // every accepted issuer URL (both AWS forms), name first
	clientIDs []string
	tokenUse  TokenUse
	keys      *jwks.Cache
}

// JWKSURL returns the key URL the verifier uses for c: c.JWKSURL, or the one derived from the
// issuer (<issuer>/.well-known/jwks.json). check-config prints it.
func JWKSURL(c IssuerConfig) (string, error) {
	if problems := c.problems(); len(problems) > 0 {
		return "", problems[0].under("")
	}
	_, jwksURL := issuerURLs(c)
	return jwksURL, nil
}

// IssuerURLs returns the issuer URLs tokens of a valid c may carry (both AWS forms for a user
// pool, the canonical one first), as Claims.Issuer gives them.
func IssuerURLs(c IssuerConfig) []string {
	accepted, _ := issuerURLs(c)
	return accepted
}

// issuerURLs returns the issuer URLs a valid configuration accepts and the JWKS URL for it.
func issuerURLs(c IssuerConfig) (accepted []string, jwksURL string) {
	if c.UserPoolID != "" {
		region := RegionOf(c.UserPoolID)
		// AWS names a pool's issuer in two forms; tokens may carry either.
		primary := "https://cognito-idp." + region + ".amazonaws.com/" + c.UserPoolID
		accepted = []string{primary, "https://issuer-cognito-idp." + region + ".amazonaws.com/" + c.UserPoolID}
		jwksURL = primary + "/.well-known/jwks.json"
	} else {
		accepted = []string{c.Issuer}
		jwksURL = strings.TrimSuffix(c.Issuer, "/") + "/.well-known/jwks.json"
	}
	if c.JWKSURL != "" {
		jwksURL = c.JWKSURL
	}
	return accepted, jwksURL
}

// problem is one broken key of an IssuerConfig: key is relative to the issuer, "" for the issuer
// as a whole.
type problem struct{ key, text string }

// under names p's key below prefix, e.g. issuers[0] and client_ids give issuers[0].client_ids.
func (p problem) under(prefix string) error {
	key := prefix
	switch {
	case key == "":
		key = p.key
	case p.key != "":
		key += "." + p.key
	}
	if key == "" {
		return errors.New(p.text)
	}
	return fmt.Errorf("%s: %s", key, p.text)
}

// problems lists every broken key of c, named as in the configuration file.
func (c IssuerConfig) problems() []problem {
	var out []problem
	add := func(key, format string, args ...any) {
		out = append(out, problem{key, fmt.Sprintf(format, args...)})
	}
	switch {
	case c.UserPoolID == "" && c.Issuer == "":
		add("", "one of user_pool_id or issuer is required")
	case c.UserPoolID != "" && c.Issuer != "":
		add("", "user_pool_id and issuer are mutually exclusive; set one")
	case c.UserPoolID != "":
		region := RegionOf(c.UserPoolID)
		if region == "" {
			add("user_pool_id", "%q is not a user pool id (want <region>_<id>, e.g. us-east-1_AbCdEf123)", c.UserPoolID)
		} else if c.Region != "" && c.Region != region {
			add("region", "%q does not match user_pool_id %q", c.Region, c.UserPoolID)
		}
	case !isHTTPURL(c.Issuer):
		add("issuer", "%q is not an http(s) URL without query or fragment", c.Issuer)
	}
	if c.JWKSURL != "" && !isHTTPURL(c.JWKSURL) {
		add("jwks_url", "%q is not an http(s) URL without query or fragment", c.JWKSURL)
	}
	if len(c.ClientIDs) == 0 {
		add("client_ids", "required (at least one app client id)")
	}
	for j, id := range c.ClientIDs {
		if strings.TrimSpace(id) == "" || strings.ContainsAny(id, " \t,") {
			add(fmt.Sprintf("client_ids[%d]", j), "%q is not a client id", id)
		}
	}
	switch c.TokenUse {
	case "", TokenUseAccess, TokenUseID, TokenUseAny:
	default:
		add("token_use", "unknown value %q (access | id | any)", c.TokenUse)
	}
	return out
}

func isHTTPURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.RawQuery == "" && u.Fragment == ""
}
