package config

import (
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/verifier"
)

// Overrides are the command-line flags (docs/reference.md#commands), as parsed; Apply lays them
// over a configuration. Only flags that were given override anything.
type Overrides struct {
	// ConfigFile is --config: the YAML file to read, or "" for flags alone.
	ConfigFile string

	userPoolID, region, issuer, jwksURL stringFlag
	clientIDs                           listFlag
	tokenUse                            stringFlag

	listen, adminListen, httpListen stringFlag
	logLevel, logFormat             stringFlag
}

// BindFlags defines the flags shared by every subcommand on fs.
func BindFlags(fs *flag.FlagSet) *Overrides {
	o := &Overrides{}
	fs.StringVar(&o.ConfigFile, "config", "", "YAML configuration `file` (see docs/reference.md)")
	fs.Var(&o.userPoolID, "user-pool-id", "Cognito user pool `id`, e.g. us-east-1_AbCdEf123")
	fs.Var(&o.region, "region", "AWS `region` of the user pool (default: from the pool id)")
	fs.Var(&o.issuer, "issuer", "issuer `URL`, instead of --user-pool-id (a non-AWS issuer)")
	fs.Var(&o.jwksURL, "jwks-url", "JWKS `URL` (default: <issuer>/.well-known/jwks.json)")
	fs.Var(&o.clientIDs, "client-id", "app client `id` whose tokens are accepted (repeatable or comma-separated)")
	o.tokenUse.allowed = []string{string(verifier.TokenUseAccess), string(verifier.TokenUseID), string(verifier.TokenUseAny)}
	fs.Var(&o.tokenUse, "token-use", "token kind accepted: access | id | any (default "+string(verifier.DefaultTokenUse)+")")
	return o
}

// BindServeFlags defines the flags only serving needs (listeners, logging) on fs.
func (o *Overrides) BindServeFlags(fs *flag.FlagSet) {
	def := Default()
	fs.Var(&o.listen, "listen", "gRPC ext_authz and health `address` (default "+def.Listen+")")
	fs.Var(&o.adminListen, "admin-listen", "admin HTTP `address` for /metrics /healthz /readyz (default "+def.AdminListen+")")
	fs.Var(&o.httpListen, "http-listen", "HTTP forward-auth `address` for nginx auth_request, Traefik ForwardAuth and Envoy's HTTP ext_authz (default off)")
	o.logLevel.allowed = LogLevels
	fs.Var(&o.logLevel, "log-level", "log level: "+strings.Join(LogLevels, " | ")+" (default "+def.Log.Level+"; debug logs every decision)")
	o.logFormat.allowed = LogFormats
	fs.Var(&o.logFormat, "log-format", "log format: "+strings.Join(LogFormats, " | ")+" (default "+def.Log.Format+")")
}

// Resolve reads --config (or starts from the defaults when it is not given), applies the flags and
// validates the result.
func (o *Overrides) Resolve() (*Config, error) {
	cfg := Default()
	if o.ConfigFile != "" {
		var err error
		if cfg, err = Load(o.ConfigFile); err != nil {
			return nil, err
		}
	}
	return o.resolve(cfg)
}

// ResolveData is Resolve with data as the content of --config (ignored when it is not given).
func (o *Overrides) ResolveData(data []byte) (*Config, error) {
	cfg := Default()
	if o.ConfigFile != "" {
		var err error
		if cfg, err = LoadData(o.ConfigFile, data); err != nil {
			return nil, err
		}
	}
	return o.resolve(cfg)
}

// resolve applies the flags over cfg and validates the result.
func (o *Overrides) resolve(cfg *Config) (*Config, error) {
	if err := o.Apply(cfg); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Apply lays the given flags over cfg. Issuer flags describe one issuer: with no issuer in cfg
// they create it, with one they override its fields, with more they are an error, since they
// could not say which issuer they mean.
func (o *Overrides) Apply(cfg *Config) error {
	if given := o.issuerFlagsGiven(); len(given) > 0 {
		if n := len(cfg.Issuers); n > 1 {
			return &KeyError{Key: given[0], Problem: fmt.Sprintf("issuer flags describe one issuer, but the configuration has %d; set it in the file", n)}
		}
		if len(cfg.Issuers) == 0 {
			cfg.Issuers = []verifier.IssuerConfig{{}}
		}
		if err := o.applyIssuer(&cfg.Issuers[0]); err != nil {
			return err
		}
	}
	o.listen.apply(&cfg.Listen)
	o.adminListen.apply(&cfg.AdminListen)
	o.httpListen.apply(&cfg.HTTPListen)
	o.logLevel.apply(&cfg.Log.Level)
	o.logFormat.apply(&cfg.Log.Format)
	cfg.normalize()
	return nil
}

func (o *Overrides) issuerFlagsGiven() []string {
	var given []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"--user-pool-id", o.userPoolID.set}, {"--issuer", o.issuer.set}, {"--region", o.region.set},
		{"--jwks-url", o.jwksURL.set}, {"--client-id", o.clientIDs.set}, {"--token-use", o.tokenUse.set},
	} {
		if f.set {
			given = append(given, f.name)
		}
	}
	return given
}

func (o *Overrides) applyIssuer(is *verifier.IssuerConfig) error {
	// A pool id and an issuer URL name the same thing: the one given replaces the other.
	if o.userPoolID.set && !o.issuer.set {
		is.Issuer = ""
	}
	if o.issuer.set && !o.userPoolID.set {
		is.UserPoolID = ""
	}
	o.userPoolID.apply(&is.UserPoolID)
	o.issuer.apply(&is.Issuer)
	if o.region.set {
		if err := applyRegion(is, o.region.value); err != nil {
			return err
		}
	}
	o.jwksURL.apply(&is.JWKSURL)
	if o.clientIDs.set {
		is.ClientIDs = slices.Clone(o.clientIDs.values)
	}
	if o.tokenUse.set {
		is.TokenUse = verifier.TokenUse(o.tokenUse.value)
	}
	return nil
}

// applyRegion completes a bare pool id (AbCdEf123) to <region>_<id>, or checks that the region
// agrees with the one a full pool id already carries.
func applyRegion(is *verifier.IssuerConfig, region string) error {
	if is.UserPoolID == "" {
		return &KeyError{Key: "--region", Problem: "needs a user pool id (--user-pool-id)"}
	}
	if !strings.Contains(is.UserPoolID, "_") {
		is.UserPoolID = region + "_" + is.UserPoolID
		return nil
	}
	if have := verifier.RegionOf(is.UserPoolID); have != "" && have != region {
		return &KeyError{Key: "--region", Problem: fmt.Sprintf("%q does not match user pool id %q (region %s)", region, is.UserPoolID, have)}
	}
	return nil
}

// stringFlag is a string flag that remembers whether it was given and, when allowed is set,
// accepts only those values.
type stringFlag struct {
	value   string
	set     bool
	allowed []string
}

func (f *stringFlag) String() string { return f.value }

func (f *stringFlag) Set(s string) error {
	if f.allowed != nil && !slices.Contains(f.allowed, s) {
		return fmt.Errorf("unknown value %q (%s)", s, strings.Join(f.allowed, " | "))
	}
	f.value, f.set = s, true
	return nil
}

func (f *stringFlag) apply(dst *string) {
	if f.set {
		*dst = f.value
	}
}

// listFlag collects a repeatable, comma-separated flag.
type listFlag struct {
	values []string
	set    bool
}

func (f *listFlag) String() string { return strings.Join(f.values, ",") }

func (f *listFlag) Set(s string) error {
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return errors.New("empty value in list")
		}
		f.values = append(f.values, part)
	}
	f.set = true
	return nil
}
