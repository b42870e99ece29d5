package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cognito-authz/cognito-authz/extauthz/authz"
	"github.com/cognito-authz/cognito-authz/extauthz/verifier"
)

// Validate checks the whole configuration and returns every problem found, each a *KeyError
// naming its key path (joined with errors.Join), or nil. It reads the TLS files, so a certificate
// that does not load is caught here rather than at the first handshake.
func (c *Config) Validate() error {
	v := &validation{}
	v.listen("listen", c.Listen)
	v.listen("admin_listen", c.AdminListen)
	if c.HTTPListen != "" {
		v.listen("http_listen", c.HTTPListen)
	}
	v.distinct("admin_listen", c.AdminListen, "listen", c.Listen)
	v.distinct("http_listen", c.HTTPListen, "listen", c.Listen)
	v.distinct("http_listen", c.HTTPListen, "admin_listen", c.AdminListen)
	c.validateIssuers(v)
	if c.ClockSkew < 0 {
		v.add("clock_skew", "must not be negative, got %s", c.ClockSkew)
	}
	if c.MaxTokenBytes <= 0 {
		v.add("max_token_bytes", "must be positive, got %d", c.MaxTokenBytes)
	}
	c.validateTokenSources(v)
	c.validatePolicy(v)
	c.validateIdentityHeaders(v)
	v.positive("jwks.refresh_interval", c.JWKS.RefreshInterval)
	v.positive("jwks.min_refetch_interval", c.JWKS.MinRefetchInterval)
	v.positive("jwks.fetch_timeout", c.JWKS.FetchTimeout)
	if c.JWKS.MaxBytes <= 0 {
		v.add("jwks.max_bytes", "must be positive, got %d", c.JWKS.MaxBytes)
	}
	if c.Cache.MaxEntries < 0 {
		v.add("cache.max_entries", "must not be negative (0 disables the cache), got %d", c.Cache.MaxEntries)
	}
	c.validateTLS(v)
	v.oneOf("log.level", c.Log.Level, LogLevels)
	v.oneOf("log.format", c.Log.Format, LogFormats)
	return errors.Join(v.problems...)
}

func (c *Config) validateIssuers(v *validation) {
	if len(c.Issuers) == 0 {
		v.add("issuers", "at least one issuer is required (in the file, or --user-pool-id or --issuer with --client-id)")
		return
	}
	seen := map[string]int{}
	for i, is := range c.Issuers {
		key := fmt.Sprintf("issuers[%d]", i)
		switch {
		case is.UserPoolID == "" && is.Issuer == "":
			v.add(key, "one of user_pool_id or issuer is required (flags --user-pool-id or --issuer)")
		case is.UserPoolID != "" && is.Issuer != "":
			v.add(key, "user_pool_id and issuer are mutually exclusive; set one")
		case is.UserPoolID != "":
			if verifier.RegionOf(is.UserPoolID) == "" {
				v.add(key+".user_pool_id", "%q is not a user pool id (want <region>_<id>, e.g. us-east-1_AbCdEf123)", is.UserPoolID)
			}
		default:
			v.url(key+".issuer", is.Issuer)
		}
		if id := is.UserPoolID + is.Issuer; id != "" {
			if first, dup := seen[id]; dup {
				v.add(key, "same issuer as issuers[%d]", first)
			} else {
				seen[id] = i
			}
		}
		if is.JWKSURL != "" {
			v.url(key+".jwks_url", is.JWKSURL)
		}
		if len(is.ClientIDs) == 0 {
			v.add(key+".client_ids", "required (at least one app client id; flag --client-id)")
		}
		for j, id := range is.ClientIDs {
			if strings.TrimSpace(id) == "" || strings.ContainsAny(id, " \t,") {
				v.add(fmt.Sprintf("%s.client_ids[%d]", key, j), "%q is not a client id", id)
			}
		}
		v.oneOf(key+".token_use", string(is.TokenUse), []string{
			string(verifier.TokenUseAccess), string(verifier.TokenUseID), string(verifier.TokenUseAny),
		})
	}
}

// validateTokenSources and validatePolicy defer to the packages that own those sections, whose
// messages already name the key path; one source of truth for what a valid rule is.
func (c *Config) validateTokenSources(v *validation) {
	if err := c.TokenSourceConfig().Validate(); err != nil {
		v.problems = append(v.problems, err)
	}
}

func (c *Config) validatePolicy(v *validation) {
	if err := c.PolicyConfig().Validate(); err != nil {
		v.problems = append(v.problems, err)
	}
}

// validateIdentityHeaders refuses an empty prefix (the file's rule: see the package comment) and
// defers the rest to authz, which owns what an identity header may be.
func (c *Config) validateIdentityHeaders(v *validation) {
	if c.IdentityHeaders.Prefix == "" {
		v.add("identity_headers.prefix", "required (e.g. %s)", authz.DefaultPrefix)
		return
	}
	if err := c.HeaderConfig().Validate(c.TokenSources.Headers); err != nil {
		v.problems = append(v.problems, err)
	}
}

func (c *Config) validateTLS(v *validation) {
	t := c.TLS
	if !t.Enabled() {
		return
	}
	if t.CertFile == "" {
		v.add("tls.cert_file", "required when tls is set")
	}
	if t.KeyFile == "" {
		v.add("tls.key_file", "required when tls is set")
	}
	if t.CertFile == "" || t.KeyFile == "" {
		return
	}
	if _, err := t.ServerTLSConfig(); err != nil {
		v.problems = append(v.problems, err)
	}
}

// validation gathers problems so one run reports all of them.
type validation struct{ problems []error }

func (v *validation) add(key, format string, args ...any) {
	v.problems = append(v.problems, &KeyError{Key: key, Problem: fmt.Sprintf(format, args...)})
}

func (v *validation) oneOf(key, value string, allowed []string) {
	if value == "" {
		v.add(key, "required (%s)", strings.Join(allowed, " | "))
	} else if !slices.Contains(allowed, value) {
		v.add(key, "unknown value %q (%s)", value, strings.Join(allowed, " | "))
	}
}

func (v *validation) positive(key string, d time.Duration) {
	if d <= 0 {
		v.add(key, "must be positive, got %s", d)
	}
}

func (v *validation) listen(key, addr string) {
	if addr == "" {
		v.add(key, "required (host:port, e.g. :9001)")
		return
	}
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		v.add(key, "%q is not host:port", addr)
	}
}

// distinct reports two listeners on the same address; port 0 (any free port) never clashes.
func (v *validation) distinct(key, addr, otherKey, other string) {
	if addr != "" && addr == other && !strings.HasSuffix(addr, ":0") {
		v.add(key, "same address as %s (%s)", otherKey, addr)
	}
}

func (v *validation) url(key, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		v.add(key, "%q is not an http(s) URL without query or fragment", raw)
	}
}
