package revocation

import (
	"math"
	"strings"
	"testing"
	"time"
)

const awsIssuer = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"

// TestValidate: each broken key is named under the caller's key, every problem is reported, and
// an endpoint is required only where a check can happen for an issuer it cannot be derived for.
func TestValidate(t *testing.T) {
	const key = "issuers[1].revocation"
	const local = "http://127.0.0.1:9229/local_pool"
	tests := []struct {
		name         string
		cfg          Config
		issuer       string
		ruleMayCheck bool
		want         []string // each a whole line of the error; none: valid
	}{
		{name: "zero: off", cfg: Config{}, issuer: local},
		{name: "online, AWS issuer: endpoint derived", cfg: Config{Mode: ModeOnline}, issuer: awsIssuer},
		{name: "online, emulator with an endpoint", cfg: Config{Mode: ModeOnline, Endpoint: "http://127.0.0.1:5000/"}, issuer: local},
		{name: "every key set", cfg: Config{Mode: ModeOnline, CacheTTL: time.Minute, OnUnavailable: OnUnavailableAccept, MaxRPS: 50}, issuer: awsIssuer},
		{name: "off, emulator, no rule checks: no endpoint needed", cfg: Config{Mode: ModeOff}, issuer: local},
		{
			name: "online, emulator without an endpoint", cfg: Config{Mode: ModeOnline}, issuer: local,
			want: []string{key + `.endpoint: required: issuer "http://127.0.0.1:9229/local_pool" is not an AWS user pool, so its Cognito API cannot be derived (set the emulator's URL)`},
		},
		{
			name: "off, but a rule checks: endpoint needed", cfg: Config{Mode: ModeOff}, issuer: local, ruleMayCheck: true,
			want: []string{key + `.endpoint: required: issuer "http://127.0.0.1:9229/local_pool" is not an AWS user pool, so its Cognito API cannot be derived (set the emulator's URL)`},
		},
		{
			name: "unknown values, all reported",
			cfg:  Config{Mode: "sometimes", OnUnavailable: "deny", CacheTTL: -time.Second, MaxRPS: -1, Endpoint: "ftp://x/"},
			want: []string{
				key + `.mode: unknown value "sometimes" (online | off)`,
				key + `.on_unavailable: unknown value "deny" (accept | unavailable)`,
				key + `.cache_ttl: must not be negative, got -1s`,
				key + `.max_rps: must be a positive number of calls a second, got -1`,
				key + `.endpoint: "ftp://x/" is not an http(s) URL without query or fragment`,
			},
		},
		{name: "max_rps not a number", cfg: Config{MaxRPS: math.NaN()}, want: []string{key + `.max_rps: must be a positive number of calls a second, got NaN`}},
		{name: "endpoint with a query", cfg: Config{Endpoint: "https://x/?a=b"}, want: []string{key + `.endpoint: "https://x/?a=b" is not an http(s) URL without query or fragment`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate(key, tt.issuer, tt.ruleMayCheck)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if got := strings.Split(err.Error(), "\n"); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("errors:\n%s\nwant:\n%s", err, strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestValidateRule(t *testing.T) {
	const key = "policy.rules[3].revocation"
	for _, ok := range []RuleSetting{"", RuleCheck, RuleSkip} {
		if err := ValidateRule(key, ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	err := ValidateRule(key, "always")
	if err == nil || err.Error() != key+`: unknown value "always" (check | skip)` {
		t.Fatalf("error %v", err)
	}
}

// TestWanted: a rule's check or skip wins; without one the issuer's mode decides.
func TestWanted(t *testing.T) {
	tests := []struct {
		mode Mode
		rule RuleSetting
		want bool
	}{
		{"", "", false},
		{ModeOff, "", false},
		{ModeOnline, "", true},
		{ModeOff, RuleCheck, true},
		{ModeOnline, RuleSkip, false},
		{ModeOnline, RuleCheck, true},
		{ModeOff, RuleSkip, false},
	}
	for _, tt := range tests {
		if got := (Config{Mode: tt.mode}).Wanted(tt.rule); got != tt.want {
			t.Errorf("mode %q, rule %q: %v, want %v", tt.mode, tt.rule, got, tt.want)
		}
	}
}

func TestWithDefaults(t *testing.T) {
	got := Config{}.WithDefaults()
	want := Config{Mode: ModeOff, CacheTTL: 30 * time.Second, OnUnavailable: OnUnavailableRefuse, MaxRPS: 120}
	if got != want {
		t.Fatalf("%+v, want %+v", got, want)
	}
	set := Config{Mode: ModeOnline, Endpoint: "http://e/", CacheTTL: time.Second, OnUnavailable: OnUnavailableAccept, MaxRPS: 3}
	if set.WithDefaults() != set {
		t.Fatalf("set values replaced: %+v", set.WithDefaults())
	}
}

// TestRegionalEndpoint: the endpoint is the AWS issuer's own regional host; any other issuer has
// none (it must be configured), whatever its path or look-alike host.
func TestRegionalEndpoint(t *testing.T) {
	tests := []struct {
		issuer string
		want   string // "": none
	}{
		{awsIssuer, "https://cognito-idp.eu-west-1.amazonaws.com/"},
		{"https://issuer-cognito-idp.us-east-1.amazonaws.com/us-east-1_X", "https://cognito-idp.us-east-1.amazonaws.com/"},
		{"https://cognito-idp.us-gov-west-1.amazonaws.com/us-gov-west-1_X", "https://cognito-idp.us-gov-west-1.amazonaws.com/"},
		{"https://cognito-idp.cn-north-1.amazonaws.com.cn/cn-north-1_X", "https://cognito-idp.cn-north-1.amazonaws.com.cn/"},
		{"http://cognito-idp.us-east-1.amazonaws.com/us-east-1_X", ""},
		{"https://cognito-idp.us-east-1.amazonaws.com:8443/us-east-1_X", ""},
		{"https://cognito-idp.evil.com/us-east-1_X", ""},
		{"https://cognito-idp.us-east-1.amazonaws.com.evil.com/us-east-1_X", ""},
		{"https://cognito-idp.a.b.amazonaws.com/x", ""},
		{"https://x@cognito-idp.us-east-1.amazonaws.com/x", ""},
		{"https://cognito-idp.US-EAST-1.amazonaws.com/x", ""},
		{"http://127.0.0.1:9229/local_x", ""},
		{"", ""},
		{"::not a url", ""},
	}
	for _, tt := range tests {
		got, ok := RegionalEndpoint(tt.issuer)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("RegionalEndpoint(%q) = %q, %v; want %q", tt.issuer, got, ok, tt.want)
		}
	}
}

// TestNewRefusesBrokenConfig: New validates what it is given, so a checker never runs on a
// configuration that would not load.
func TestNewRefusesBrokenConfig(t *testing.T) {
	if _, err := New(Config{Mode: ModeOnline}, Options{Issuer: "http://127.0.0.1:1/p"}); err == nil {
		t.Fatal("New accepted an emulator issuer without an endpoint")
	}
	c, err := New(Config{Mode: ModeOnline}, Options{Issuer: awsIssuer})
	if err != nil {
		t.Fatal(err)
	}
	if c.client.endpoint != "https://cognito-idp.eu-west-1.amazonaws.com/" {
		t.Fatalf("endpoint %q", c.client.endpoint)
	}
}
