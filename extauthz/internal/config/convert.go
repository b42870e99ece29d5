package config

import (
	"fmt"
	"slices"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/authz"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/policy"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/tokensource"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/verifier"
)

// VerifierConfig returns the verifier's settings. The caller adds what is not configuration:
// Logger, Observer, HTTPClient, Now.
func (c *Config) VerifierConfig() verifier.Config {
	issuers := make([]verifier.IssuerConfig, len(c.Issuers))
	for i, is := range c.Issuers {
		issuers[i] = verifier.IssuerConfig{
			UserPoolID: is.UserPoolID,
			Issuer:     is.Issuer,
			JWKSURL:    is.JWKSURL,
			ClientIDs:  slices.Clone(is.ClientIDs),
			TokenUse:   is.TokenUse,
		}
	}
	return verifier.Config{
		Issuers:            issuers,
		ClockSkew:          c.ClockSkew,
		MaxTokenBytes:      c.MaxTokenBytes,
		CacheMaxEntries:    c.Cache.MaxEntries,
		RefreshInterval:    c.JWKS.RefreshInterval,
		MinRefetchInterval: c.JWKS.MinRefetchInterval,
		FetchTimeout:       c.JWKS.FetchTimeout,
		MaxJWKSBytes:       c.JWKS.MaxBytes,
	}
}

// Effective returns a copy of the configuration with the values the service derives written out,
// as check-config prints it: each issuer's jwks_url. c must be valid.
func (c *Config) Effective() (*Config, error) {
	eff := *c
	eff.Issuers = slices.Clone(c.Issuers)
	for i, is := range c.VerifierConfig().Issuers {
		url, err := verifier.JWKSURL(is)
		if err != nil {
			return nil, fmt.Errorf("issuers[%d]: %w", i, err)
		}
		eff.Issuers[i].JWKSURL = url
	}
	return &eff, nil
}

// PolicyConfig returns the policy section.
func (c *Config) PolicyConfig() policy.Config {
	rules := make([]policy.Rule, len(c.Policy.Rules))
	for i, r := range c.Policy.Rules {
		rules[i] = policy.Rule{
			PathPrefix: r.PathPrefix,
			Methods:    slices.Clone(r.Methods),
			Auth:       r.Auth,
			GroupsAny:  slices.Clone(r.GroupsAny),
			ScopesAll:  slices.Clone(r.ScopesAll),
		}
	}
	return policy.Config{Default: c.Policy.Default, InvalidToken: c.Policy.InvalidToken, Rules: rules}
}

// TokenSourceConfig returns the token_sources section. Amplify cookies are read for every
// issuer's client ids; they hold the ID token only when no issuer accepts access tokens.
func (c *Config) TokenSourceConfig() tokensource.Config {
	var clientIDs []string
	amplifyUse := string(verifier.TokenUseID)
	for _, is := range c.Issuers {
		for _, id := range is.ClientIDs {
			if !slices.Contains(clientIDs, id) {
				clientIDs = append(clientIDs, id)
			}
		}
		if is.TokenUse != verifier.TokenUseID {
			amplifyUse = string(verifier.TokenUseAccess)
		}
	}
	return tokensource.Config{
		AuthorizationHeader: c.TokenSources.AuthorizationHeader,
		Headers:             slices.Clone(c.TokenSources.Headers),
		Cookies:             slices.Clone(c.TokenSources.Cookies),
		AmplifyCookies:      c.TokenSources.AmplifyCookies,
		AmplifyClientIDs:    clientIDs,
		AmplifyTokenUse:     amplifyUse,
	}
}

// HeaderConfig returns the identity_headers section.
func (c *Config) HeaderConfig() authz.HeaderConfig {
	return authz.HeaderConfig{
		Prefix:             c.IdentityHeaders.Prefix,
		ClaimsHeader:       c.IdentityHeaders.ClaimsHeader,
		StripAuthorization: c.IdentityHeaders.StripAuthorization,
	}
}
