// Package config is the service's settings: the YAML file (docs/reference.md#configuration-file),
// the command-line flags (docs/reference.md#commands) laid over it, the defaults, and validation
// whose every message names the key at fault. It knows nothing of how the work is done.
//
// Each package that does the work owns its section, and the file is made of those very structs
// (verifier.IssuerConfig, policy.Config, tokensource.Config, authz.HeaderConfig, with their YAML
// tags), so a section is written once and read by its package as loaded. The package also owns
// the section's defaults (exported constants, which Default copies and never restates) and what a
// valid value is (its Validate, which names the file's keys and which Config.Validate defers to). This package validates only what no other
// package reads (listeners, TLS, log) and adds one rule of the file's own: a value written in the
// file is used as written, so a zero or empty value where a package would substitute its default
// is refused rather than silently replaced (`fetch_timeout: 0s` is not five seconds).
package config

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/authz"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/jwks"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/policy"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/tokensource"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/verifier"
)

// Config is the whole configuration. Its YAML form uses the reference's key names, so
// check-config can print it back.
type Config struct {
	Listen      string `yaml:"listen"`
	AdminListen string `yaml:"admin_listen"`
	HTTPListen  string `yaml:"http_listen"` // HTTP forward-auth endpoint; "" is off
	// HTTPRequestIsOriginal: a forward-auth request without the forwarded headers is the original
	// request (Envoy's HTTP ext_authz); otherwise it is refused.
	HTTPRequestIsOriginal bool                    `yaml:"http_request_is_original"`
	Issuers               []verifier.IssuerConfig `yaml:"issuers"`
	ClockSkew             time.Duration           `yaml:"clock_skew"`
	MaxTokenBytes         int                     `yaml:"max_token_bytes"`
	TokenSources          tokensource.Config      `yaml:"token_sources"`
	Policy                policy.Config           `yaml:"policy"`
	IdentityHeaders       authz.HeaderConfig      `yaml:"identity_headers"`
	// DynamicMetadata: every answer also sets Envoy dynamic metadata (off: none, which Envoy
	// then neither decodes nor keeps per request).
	DynamicMetadata bool  `yaml:"dynamic_metadata"`
	JWKS            JWKS  `yaml:"jwks"`
	Cache           Cache `yaml:"cache"`
	TLS             TLS   `yaml:"tls"`
	// Log is set by flags only: the file has no log section.
	Log Log `yaml:"-"`
}

// JWKS tunes key fetching.
type JWKS struct {
	RefreshInterval    time.Duration `yaml:"refresh_interval"`
	MinRefetchInterval time.Duration `yaml:"min_refetch_interval"`
	FetchTimeout       time.Duration `yaml:"fetch_timeout"`
	MaxBytes           int64         `yaml:"max_bytes"`
}

// Cache bounds the verified-token cache.
type Cache struct {
	MaxEntries int `yaml:"max_entries"` // 0 disables
}

// TLS secures the gRPC listener; all empty means plaintext.
type TLS struct {
	CertFile     string `yaml:"cert_file"`
	KeyFile      string `yaml:"key_file"`
	ClientCAFile string `yaml:"client_ca_file"` // set: client certificates are required (mTLS)
}

// Enabled reports whether the gRPC listener serves TLS.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" || t.ClientCAFile != "" }

// Log configures the logger.
type Log struct {
	Level  string // debug | info | warn | error
	Format string // json | console
}

// Log levels and formats accepted by --log-level and --log-format.
var (
	LogLevels  = []string{"debug", "info", "warn", "error"}
	LogFormats = []string{"json", "console"}
)

// Default returns the configuration with every default of docs/reference.md#configuration-file and
// no issuers.
func Default() *Config {
	return &Config{
		Listen:        ":9001",
		AdminListen:   ":9090",
		MaxTokenBytes: verifier.DefaultMaxTokenBytes,
		TokenSources:  tokensource.Config{AuthorizationHeader: true},
		Policy: policy.Config{
			Default:      policy.DefaultAuth,
			InvalidToken: policy.DefaultInvalidToken,
			SignIn:       policy.SignIn{Unauthenticated: policy.DefaultUnauthenticated},
		},
		IdentityHeaders: authz.HeaderConfig{Prefix: authz.DefaultPrefix, MaxClaimBytes: verifier.DefaultMaxClaimBytes},
		JWKS: JWKS{
			RefreshInterval:    jwks.DefaultRefreshInterval,
			MinRefetchInterval: jwks.DefaultMinRefetchInterval,
			FetchTimeout:       jwks.DefaultFetchTimeout,
			MaxBytes:           jwks.DefaultMaxBytes,
		},
		Cache: Cache{MaxEntries: verifier.DefaultCacheMaxEntries},
		Log:   Log{Level: "info", Format: "json"},
	}
}

// normalize sets the defaults that live inside list entries, which Default cannot pre-fill,
// lower-cases header names (Envoy hands them over lower-cased) and makes every empty list nil, so
// `headers: []` and no key at all read the same.
func (c *Config) normalize() {
	for i := range c.Issuers {
		is := &c.Issuers[i]
		if is.TokenUse == "" {
			is.TokenUse = verifier.DefaultTokenUse
		}
		emptyToNil(&is.ClientIDs)
	}
	emptyToNil(&c.Issuers)
	emptyToNil(&c.TokenSources.Headers)
	emptyToNil(&c.TokenSources.Cookies)
	for i := range c.Policy.Rules {
		r := &c.Policy.Rules[i]
		emptyToNil(&r.Methods)
		emptyToNil(&r.GroupsAny)
		emptyToNil(&r.ScopesAll)
		emptyToNil(&r.Hosts)
		emptyToNil(&r.ClientsAny)
	}
	emptyToNil(&c.Policy.Rules)
	emptyToNil(&c.IdentityHeaders.Claims)
	for i, h := range c.TokenSources.Headers {
		c.TokenSources.Headers[i] = strings.ToLower(h)
	}
	c.IdentityHeaders.Prefix = strings.ToLower(c.IdentityHeaders.Prefix)
	c.IdentityHeaders.ClaimsHeader = strings.ToLower(c.IdentityHeaders.ClaimsHeader)
}

// VerifierConfig returns the verifier's settings: the issuers as loaded and the keys of the other
// sections the verifier reads. The caller adds what is not configuration: Logger, Observer,
// HTTPClient, Now, Previous.
func (c *Config) VerifierConfig() verifier.Config {
	return verifier.Config{
		Issuers:            c.Issuers,
		ClockSkew:          c.ClockSkew,
		MaxTokenBytes:      c.MaxTokenBytes,
		CacheMaxEntries:    c.Cache.MaxEntries,
		RefreshInterval:    c.JWKS.RefreshInterval,
		MinRefetchInterval: c.JWKS.MinRefetchInterval,
		FetchTimeout:       c.JWKS.FetchTimeout,
		MaxJWKSBytes:       c.JWKS.MaxBytes,
		HeaderClaims:       c.IdentityHeaders.ClaimNames(),
		MaxClaimBytes:      c.IdentityHeaders.MaxClaimBytes,
	}
}

// Effective returns a copy of the configuration with the values the service derives written out,
// as check-config prints it: each issuer's jwks_url. c must be valid.
func (c *Config) Effective() (*Config, error) {
	eff := *c
	eff.Issuers = slices.Clone(c.Issuers)
	for i, is := range c.Issuers {
		url, err := verifier.JWKSURL(is)
		if err != nil {
			return nil, fmt.Errorf("issuers[%d]: %w", i, err)
		}
		eff.Issuers[i].JWKSURL = url
	}
	eff.effectiveRevocation()
	return &eff, nil
}

// TokenSourcesFor returns the token_sources section with what the Amplify cookie source reads of
// the issuers: every issuer's client ids, and the ID token only when no issuer accepts access
// tokens.
func (c *Config) TokenSourcesFor() tokensource.Config {
	ts := c.TokenSources
	ts.AmplifyClientIDs, ts.AmplifyTokenUse = nil, string(verifier.TokenUseID)
	for _, is := range c.Issuers {
		for _, id := range is.ClientIDs {
			if !slices.Contains(ts.AmplifyClientIDs, id) {
				ts.AmplifyClientIDs = append(ts.AmplifyClientIDs, id)
			}
		}
		if is.TokenUse != verifier.TokenUseID {
			ts.AmplifyTokenUse = string(verifier.TokenUseAccess)
		}
	}
	return ts
}

// YAML renders the configuration with the reference's key names, defaults included: what
// check-config prints. Log settings, which have no key, are left out.
func (c *Config) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func emptyToNil[T any](s *[]T) {
	if len(*s) == 0 {
		*s = nil
	}
}
