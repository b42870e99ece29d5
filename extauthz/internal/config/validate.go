package config

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/authz"
)

// Validate checks the whole configuration and returns every problem found, each naming its key
// path (joined with errors.Join), or nil. The sections other packages read are checked by those
// packages (see the package comment). It reads the TLS files, so a certificate that does not
// load is caught here rather than at the first handshake.
func (c *Config) Validate() error {
	v := &validation{}
	v.listen("listen", c.Listen)
	v.listen("admin_listen", c.AdminListen)
	if c.HTTPListen != "" {
		v.listen("http_listen", c.HTTPListen)
	} else if c.HTTPRequestIsOriginal {
		v.add("http_request_is_original", "needs http_listen: it shapes the HTTP forward-auth endpoint, which is off")
	}
	v.distinct("admin_listen", c.AdminListen, "listen", c.Listen)
	v.distinct("http_listen", c.HTTPListen, "listen", c.Listen)
	v.distinct("http_listen", c.HTTPListen, "admin_listen", c.AdminListen)
	// The sections other packages read are judged by those packages, whose messages name the key
	// path: one source of truth for what a valid issuer, token source or rule is.
	v.owned(c.VerifierConfig().Validate())
	c.validateRevocation(v)
	c.validateNoZeros(v)
	if c.Cache.MaxEntries < 0 {
		// The verifier reads a negative size as its default; in the file it is a mistake.
		v.add("cache.max_entries", "must not be negative (0 disables the cache), got %d", c.Cache.MaxEntries)
	}
	v.owned(c.TokenSourcesFor().Validate(), c.Policy.Validate())
	c.validateIdentityHeaders(v)
	c.validateTLS(v)
	v.oneOf("log.level", c.Log.Level, LogLevels)
	v.oneOf("log.format", c.Log.Format, LogFormats)
	return errors.Join(v.problems...)
}

// validateNoZeros applies the file's own rule (see the package comment) to the values the verifier
// would read as "take the default"; their other rules are the verifier's.
func (c *Config) validateNoZeros(v *validation) {
	if c.MaxTokenBytes == 0 {
		v.add("max_token_bytes", "must be positive, got 0")
	}
	for _, d := range []struct {
		key   string
		value time.Duration
	}{
		{"jwks.refresh_interval", c.JWKS.RefreshInterval},
		{"jwks.min_refetch_interval", c.JWKS.MinRefetchInterval},
		{"jwks.fetch_timeout", c.JWKS.FetchTimeout},
	} {
		if d.value == 0 {
			v.add(d.key, "must be positive, got 0s")
		}
	}
	if c.JWKS.MaxBytes == 0 {
		v.add("jwks.max_bytes", "must be positive, got 0")
	}
	if c.IdentityHeaders.MaxClaimBytes == 0 {
		v.add("identity_headers.max_claim_bytes", "must be positive, got 0")
	}
}

// validateIdentityHeaders refuses an empty prefix (the file's rule: see the package comment) and
// defers the rest to authz, which owns what an identity header may be.
func (c *Config) validateIdentityHeaders(v *validation) {
	if c.IdentityHeaders.Prefix == "" {
		v.add("identity_headers.prefix", "required (e.g. %s)", authz.DefaultPrefix)
		return
	}
	v.owned(c.IdentityHeaders.Validate(c.TokenSources.Headers))
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
	_, err := t.ServerTLSConfig()
	v.owned(err)
}

// validation gathers problems so one run reports all of them.
type validation struct{ problems []error }

func (v *validation) add(key, format string, args ...any) {
	v.problems = append(v.problems, &KeyError{Key: key, Problem: fmt.Sprintf(format, args...)})
}

// owned adds the problems other packages found, each already naming its key.
func (v *validation) owned(errs ...error) {
	for _, err := range errs {
		if err != nil {
			v.problems = append(v.problems, err)
		}
	}
}

func (v *validation) oneOf(key, value string, allowed []string) {
	if value == "" {
		v.add(key, "required (%s)", strings.Join(allowed, " | "))
	} else if !slices.Contains(allowed, value) {
		v.add(key, "unknown value %q (%s)", value, strings.Join(allowed, " | "))
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
