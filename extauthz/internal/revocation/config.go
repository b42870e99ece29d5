package revocation

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"
)

// Mode is whether an issuer's tokens are checked with Cognito by default (issuers[].revocation.mode).
type Mode string

// Modes.
const (
	ModeOnline Mode = "online"
	ModeOff    Mode = "off"

	// DefaultMode is the mode when Config.Mode is empty: the check costs a call per token, so
	// it is asked for, never assumed.
	DefaultMode = ModeOff
)

// OnUnavailable is what a check that got no answer from Cognito in time comes to
// (issuers[].revocation.on_unavailable).
type OnUnavailable string

// On-unavailable behaviours.
const (
	// OnUnavailableAccept lets the locally valid token through: availability over the guarantee.
	OnUnavailableAccept OnUnavailable = "accept"
	// OnUnavailableRefuse refuses it as unavailable: the guarantee over availability.
	OnUnavailableRefuse OnUnavailable = "unavailable"

	// DefaultOnUnavailable fails closed: a team that turns the check on asked for the guarantee.
	DefaultOnUnavailable = OnUnavailableRefuse
)

// RuleSetting is a route rule's say in the check (policy.rules[].revocation): empty follows the
// issuer's mode.
type RuleSetting string

// Rule settings.
const (
	RuleCheck RuleSetting = "check" // checked even where the issuer's mode is off
	RuleSkip  RuleSetting = "skip"  // not checked even where the issuer's mode is online
)

// Defaults of Config's zero values.
const (
	// DefaultCacheTTL is how long a live answer is trusted: the staleness a revocation may have
	// at the edge.
	DefaultCacheTTL = 30 * time.Second
	// DefaultMaxRPS is Cognito's default quota for user reads (GetUser among them), per account
	// and region.
	DefaultMaxRPS = 120
)

// Config is one issuer's revocation section (issuers[].revocation). Zero values take the
// defaults above.
type Config struct {
	Mode Mode `yaml:"mode"`
	// Endpoint is the Cognito user-pool API to ask, e.g. an emulator's http://127.0.0.1:9229/;
	// empty is the issuer's regional endpoint (RegionalEndpoint).
	Endpoint      string        `yaml:"endpoint"`
	CacheTTL      time.Duration `yaml:"cache_ttl"`
	OnUnavailable OnUnavailable `yaml:"on_unavailable"`
	MaxRPS        float64       `yaml:"max_rps"`
}

// WithDefaults returns c with every zero value replaced by its default.
func (c Config) WithDefaults() Config {
	if c.Mode == "" {
		c.Mode = DefaultMode
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = DefaultCacheTTL
	}
	if c.OnUnavailable == "" {
		c.OnUnavailable = DefaultOnUnavailable
	}
	if c.MaxRPS == 0 {
		c.MaxRPS = DefaultMaxRPS
	}
	return c
}

// Wanted reports whether a token of this issuer is checked on a route whose rule says rule.
func (c Config) Wanted(rule RuleSetting) bool {
	switch rule {
	case RuleCheck:
		return true
	case RuleSkip:
		return false
	}
	return c.Mode == ModeOnline
}

// Validate reports every broken key of c, each named below key (e.g. issuers[0].revocation),
// joined with errors.Join, or nil. issuer is the issuer's URL (its canonical form for a
// user_pool_id), from which the endpoint is derived when none is set; ruleMayCheck says whether
// some route rule has revocation: check, which needs an endpoint even where the mode is off.
func (c Config) Validate(key, issuer string, ruleMayCheck bool) error {
	var errs []error
	add := func(sub, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", key, sub, fmt.Sprintf(format, args...)))
	}
	oneOf(add, "mode", string(c.Mode), string(ModeOnline), string(ModeOff))
	oneOf(add, "on_unavailable", string(c.OnUnavailable), string(OnUnavailableAccept), string(OnUnavailableRefuse))
	if c.CacheTTL < 0 {
		add("cache_ttl", "must not be negative, got %s", c.CacheTTL)
	}
	if c.MaxRPS < 0 || math.IsNaN(c.MaxRPS) || math.IsInf(c.MaxRPS, 0) {
		add("max_rps", "must be a positive number of calls a second, got %v", c.MaxRPS)
	}
	switch {
	case c.Endpoint != "":
		if !isHTTPURL(c.Endpoint) {
			add("endpoint", "%q is not an http(s) URL without query or fragment", c.Endpoint)
		}
	case c.Mode == ModeOnline || ruleMayCheck:
		if _, ok := RegionalEndpoint(issuer); !ok {
			add("endpoint", "required: issuer %q is not an AWS user pool, so its Cognito API cannot be derived (set the emulator's URL)", issuer)
		}
	}
	return errors.Join(errs...)
}

// ValidateRule reports a broken policy.rules[].revocation value, named key, or nil.
func ValidateRule(key string, r RuleSetting) error {
	var err error
	oneOf(func(_, format string, args ...any) {
		err = fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...))
	}, "", string(r), string(RuleCheck), string(RuleSkip))
	return err
}

// oneOf reports value when it is set and not one of allowed, in the configuration file's words.
func oneOf(add func(sub, format string, args ...any), sub, value string, allowed ...string) {
	for _, a := range allowed {
		if value == a {
			return
		}
	}
	if value != "" {
		add(sub, "unknown value %q (%s)", value, strings.Join(allowed, " | "))
	}
}

// endpointFor returns the API URL c asks for tokens of issuer: c.Endpoint, or the issuer's
// regional endpoint. Validate has reported it when there is none.
func (c Config) endpointFor(issuer string) (string, error) {
	if c.Endpoint != "" {
		return c.Endpoint, nil
	}
	if u, ok := RegionalEndpoint(issuer); ok {
		return u, nil
	}
	return "", fmt.Errorf("no endpoint for issuer %q, which is not an AWS user pool", issuer)
}

// RegionalEndpoint returns the Cognito user-pool API of an AWS issuer URL, e.g.
// https://cognito-idp.eu-west-1.amazonaws.com/ for
// https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC (or its issuer-cognito-idp form), and
// false for any other issuer: the endpoint is the issuer's own host, never one a token names.
func RegionalEndpoint(issuer string) (string, bool) {
	u, err := url.Parse(issuer)
	if err != nil || u.Scheme != "https" || u.Port() != "" || u.User != nil {
		return "", false
	}
	host := strings.TrimPrefix(u.Hostname(), "issuer-")
	region, ok := strings.CutPrefix(host, "cognito-idp.")
	if !ok {
		return "", false
	}
	for _, suffix := range []string{".amazonaws.com", ".amazonaws.com.cn"} {
		if r, ok := strings.CutSuffix(region, suffix); ok && isRegion(r) {
			return "https://" + host + "/", true
		}
	}
	return "", false
}

// isRegion reports whether s has a region's shape: lower-case letters and digits in
// dash-separated parts, e.g. us-gov-west-1.
func isRegion(s string) bool {
	if !strings.Contains(s, "-") {
		return false
	}
	for _, part := range strings.Split(s, "-") {
		if part == "" || strings.Trim(part, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
			return false
		}
	}
	return true
}

func isHTTPURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.RawQuery == "" && u.Fragment == ""
}
