package verifier

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/cognito-authz/cognito-authz/extauthz/jwks"
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
	_, jwksURL, err := issuerURLs(c)
	return jwksURL, err
}

// issuerURLs returns the issuer URLs a configuration accepts and the JWKS URL for it.
func issuerURLs(c IssuerConfig) (accepted []string, jwksURL string, err error) {
	switch {
	case c.UserPoolID != "" && c.Issuer != "":
		return nil, "", fmt.Errorf("set user_pool_id or issuer, not both")
	case c.UserPoolID != "":
		region := RegionOf(c.UserPoolID)
		if region == "" {
			return nil, "", fmt.Errorf("user_pool_id %q is not of the form <region>_<id>, e.g. us-east-1_AbCdEf123", c.UserPoolID)
		}
		if c.Region != "" && c.Region != region {
			return nil, "", fmt.Errorf("region %q does not match user_pool_id %q", c.Region, c.UserPoolID)
		}
		// AWS names a pool's issuer in two forms; tokens may carry either.
		primary := "https://cognito-idp." + region + ".amazonaws.com/" + c.UserPoolID
		accepted = []string{primary, "https://issuer-cognito-idp." + region + ".amazonaws.com/" + c.UserPoolID}
		jwksURL = primary + "/.well-known/jwks.json"
	case c.Issuer != "":
		u, perr := url.Parse(c.Issuer)
		if perr != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, "", fmt.Errorf("issuer %q is not an http(s) URL", c.Issuer)
		}
		accepted = []string{c.Issuer}
		jwksURL = strings.TrimSuffix(c.Issuer, "/") + "/.well-known/jwks.json"
	default:
		return nil, "", fmt.Errorf("user_pool_id or issuer is required")
	}
	if c.JWKSURL != "" {
		u, perr := url.Parse(c.JWKSURL)
		if perr != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, "", fmt.Errorf("jwks_url %q is not an http(s) URL", c.JWKSURL)
		}
		jwksURL = c.JWKSURL
	}
	return accepted, jwksURL, nil
}

func checkIssuerConfig(c IssuerConfig) error {
	if len(c.ClientIDs) == 0 {
		return fmt.Errorf("client_ids: at least one client id is required")
	}
	if slices.Contains(c.ClientIDs, "") {
		return fmt.Errorf("client_ids: empty client id")
	}
	switch c.TokenUse {
	case "", TokenUseAccess, TokenUseID, TokenUseAny:
	default:
		return fmt.Errorf("token_use %q must be access, id or any", c.TokenUse)
	}
	return nil
}
