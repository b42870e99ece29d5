package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/authz"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/policy"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/revocation"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/tokensource"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/verifier"
)

// TestFixtures loads every fixture and checks the error names the key at fault: loadErr for
// problems Load finds (syntax, unknown keys, types), validateErr for those Validate finds.
func TestFixtures(t *testing.T) {
	tests := []struct {
		file        string
		loadErr     []string
		validateErr []string
	}{
		{file: "good_full.yaml"},
		{file: "good_minimal.yaml"},
		{file: "good_two_issuers.yaml"},
		{file: "empty.yaml", validateErr: []string{"issuers: at least one issuer is required"}},
		{file: "unknown_key.yaml", loadErr: []string{"jwks.refresh_intervall: unknown key (line 5)"}},
		{file: "unknown_issuer_key.yaml", loadErr: []string{"issuers[0].region: unknown key (line 3)"}},
		{file: "unknown_top_level_key.yaml", loadErr: []string{"log: unknown key (line 2)"}},
		{file: "bad_duration.yaml", loadErr: []string{`jwks.refresh_interval: invalid duration "10 minutes"`, "(line 5)"}},
		{file: "duration_without_unit.yaml", loadErr: []string{`clock_skew: invalid duration "30"`}},
		{file: "negative_duration.yaml", validateErr: []string{"jwks.fetch_timeout: must be positive, got -5s"}},
		{file: "bad_yaml.yaml", loadErr: []string{"bad YAML: yaml: line"}},
		{file: "two_documents.yaml", loadErr: []string{"more than one document"}},
		{file: "duplicate_key.yaml", loadErr: []string{"max_token_bytes: duplicate key (first at line 4) (line 5)"}},
		{file: "no_issuers.yaml", validateErr: []string{"issuers: at least one issuer is required"}},
		{file: "issuers_not_a_list.yaml", loadErr: []string{"issuers: want a list, got a mapping"}},
		{file: "missing_client_ids.yaml", validateErr: []string{"issuers[0].client_ids: required"}},
		{file: "bad_token_use.yaml", validateErr: []string{`issuers[0].token_use: unknown value "refresh" (access | id | any)`}},
		{file: "bad_user_pool_id.yaml", validateErr: []string{`issuers[0].user_pool_id: "AbCdEf123" is not a user pool id`}},
		{file: "pool_and_issuer.yaml", validateErr: []string{"issuers[0]: user_pool_id and issuer are mutually exclusive"}},
		{file: "neither_pool_nor_issuer.yaml", validateErr: []string{"issuers[0]: one of user_pool_id or issuer is required"}},
		{file: "bad_issuer_url.yaml", validateErr: []string{"issuers[0].issuer:", "is not an http(s) URL"}},
		{file: "duplicate_issuer.yaml", validateErr: []string{"issuers[1]: same issuer as issuers[0]"}},
		{file: "bad_max_token_bytes_type.yaml", loadErr: []string{`max_token_bytes: invalid value "lots" (want an integer) (line 4)`}},
		{file: "zero_max_token_bytes.yaml", validateErr: []string{"max_token_bytes: must be positive, got 0"}},
		{file: "bad_rule_auth.yaml", validateErr: []string{`policy.rules[1].auth: unknown value "sometimes"`}},
		{file: "rule_without_slash.yaml", validateErr: []string{`policy.rules[0].path_prefix: "api/admin" must start with /`}},
		{file: "lowercase_method.yaml", validateErr: []string{`policy.rules[0].methods[1]: "post" must be upper-case`}},
		{file: "bad_policy_default.yaml", validateErr: []string{`policy.default: "off" is not allowed`}},
		{file: "bad_invalid_token.yaml", validateErr: []string{`policy.invalid_token: unknown value "ignore"`}},
		{file: "no_token_source.yaml", validateErr: []string{"token_sources: no source is enabled"}},
		{file: "bad_header_name.yaml", validateErr: []string{`token_sources.headers[0]: "x access token" is not a header name`}},
		{file: "groups_on_optional_rule.yaml", validateErr: []string{"policy.rules[0].auth: groups_any and scopes_all need auth: required"}},
		{file: "authorization_as_custom_header.yaml", validateErr: []string{`token_sources.headers[0]: "authorization" is read by authorization_header`}},
		{file: "negative_cache.yaml", validateErr: []string{"cache.max_entries: must not be negative"}},
		{file: "zero_fetch_timeout.yaml", validateErr: []string{"jwks.fetch_timeout: must be positive, got 0s"}},
		{file: "same_pool_by_url.yaml", validateErr: []string{"issuers[1]: same issuer as issuers[0]"}},
		{file: "claims_header_is_authorization.yaml", validateErr: []string{`identity_headers.claims_header: header "authorization" is needed by the request`}},
		{file: "claim_header_upper_case.yaml", validateErr: []string{`identity_headers.claims[0].header: "Tenant-Id" must be one or more of a-z, 0-9 and -`}},
		{file: "claim_header_duplicate.yaml", validateErr: []string{`identity_headers.claims[1].header: "tenant-id" is already identity_headers.claims[0].header`}},
		{file: "claim_header_is_built_in.yaml", validateErr: []string{`identity_headers.claims[0].header: "groups" is the built-in identity header x-user-groups`}},
		{file: "claim_header_is_claims_header.yaml", validateErr: []string{`identity_headers.claims[0].header: header "x-user-payload" would be set twice`}},
		{file: "claim_without_name.yaml", validateErr: []string{"identity_headers.claims[0].claim: required"}},
		{file: "zero_max_claim_bytes.yaml", validateErr: []string{"identity_headers.max_claim_bytes: must be positive, got 0"}},
		{file: "negative_max_claim_bytes.yaml", validateErr: []string{"identity_headers.max_claim_bytes: must be positive, got -1"}},
		{file: "tls_without_key.yaml", validateErr: []string{"tls.key_file: required when tls is set"}},
		{file: "tls_missing_files.yaml", validateErr: []string{"tls.cert_file: cannot load certificate"}},
		{file: "bad_listen.yaml", validateErr: []string{`listen: "9001" is not host:port`}},
		{file: "same_listen_addresses.yaml", validateErr: []string{"admin_listen: same address as listen"}},
		{file: "bad_http_listen.yaml", validateErr: []string{`http_listen: "9002" is not host:port`}},
		{file: "http_listen_same_as_admin.yaml", validateErr: []string{"http_listen: same address as admin_listen (:9090)"}},
		{file: "request_is_original_without_http_listen.yaml", validateErr: []string{"http_request_is_original: needs http_listen"}},
		// The online revocation check.
		{file: "revocation_online.yaml"},
		{file: "bad_revocation_values.yaml", validateErr: []string{
			`issuers[0].revocation.mode: unknown value "sometimes"`, "issuers[0].revocation.cache_ttl: must not be negative",
			`issuers[0].revocation.on_unavailable: unknown value "ignore"`, "issuers[0].revocation.max_rps: must be a positive number"}},
		{file: "revocation_endpoint_needed.yaml", validateErr: []string{"issuers[0].revocation.endpoint: required"}},
		{file: "rule_revocation_check_needs_endpoint.yaml", validateErr: []string{"issuers[0].revocation.endpoint: required"}},
		{file: "bad_rule_revocation.yaml", validateErr: []string{`policy.rules[0].revocation: unknown value "always"`}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			cfg, err := Load(filepath.Join("testdata", tt.file))
			if tt.loadErr != nil {
				assertErrorContains(t, err, tt.loadErr...)
				if cfg != nil {
					t.Errorf("Load returned a config with its error")
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			err = cfg.Validate()
			if tt.validateErr == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			assertErrorContains(t, err, tt.validateErr...)
		})
	}
	// Every fixture is exercised: a fixture nobody loads tests nothing.
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".yaml") && !seen[e.Name()] {
			t.Errorf("fixture %s is not in the table", e.Name())
		}
	}
}

func assertErrorContains(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one containing %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

func TestLoadGoodFull(t *testing.T) {
	cfg, err := Load("testdata/good_full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Listen:                "127.0.0.1:7001",
		AdminListen:           "127.0.0.1:7090",
		HTTPListen:            "127.0.0.1:7002",
		HTTPRequestIsOriginal: true,
		Issuers: []verifier.IssuerConfig{
			{UserPoolID: "us-east-1_AbCdEf123", ClientIDs: []string{"abc123", "def456"}, TokenUse: verifier.TokenUseAccess},
			{
				Issuer: "http://127.0.0.1:8080/local_pool", JWKSURL: "http://127.0.0.1:8080/local_pool/keys.json",
				ClientIDs: []string{"localclient"}, TokenUse: verifier.TokenUseID,
			},
		},
		ClockSkew:     30 * time.Second,
		MaxTokenBytes: 8192,
		TokenSources: tokensource.Config{
			AuthorizationHeader: false,
			Headers:             []string{"x-access-token"}, // lower-cased
			Cookies:             []string{"access_token"},
			AmplifyCookies:      true,
		},
		Policy: goodFullPolicy,
		IdentityHeaders: authz.HeaderConfig{Prefix: "x-id-", ClaimsHeader: "x-jwt-claims", StripAuthorization: true,
			Claims: []authz.ClaimHeader{{Claim: "custom:tenant_id", Header: "tenant-id"}}, MaxClaimBytes: 2048},
		DynamicMetadata: true,
		JWKS: JWKS{
			RefreshInterval: 30 * time.Minute, MinRefetchInterval: 5 * time.Second,
			FetchTimeout: 2 * time.Second, MaxBytes: 65536,
		},
		Cache: Cache{MaxEntries: 0},
		Log:   Log{Level: "info", Format: "json"},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("Load:\n got %+v\nwant %+v", cfg, want)
	}
}

func TestDefaultsFillWhatTheFileLeavesOut(t *testing.T) {
	cfg, err := Load("testdata/good_minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Issuers = []verifier.IssuerConfig{{UserPoolID: "us-east-1_AbCdEf123", ClientIDs: []string{"fileclient"}, TokenUse: verifier.TokenUseAccess}}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("Load:\n got %+v\nwant %+v", cfg, want)
	}
}

// TestYAMLRoundTrip: what check-config prints loads back to the same configuration.
func TestYAMLRoundTrip(t *testing.T) {
	for _, file := range []string{"good_full.yaml", "good_minimal.yaml", "good_two_issuers.yaml"} {
		t.Run(file, func(t *testing.T) {
			cfg, err := Load(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			out, err := cfg.YAML()
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(out)
			if err != nil {
				t.Fatalf("Parse of printed config: %v\n%s", err, out)
			}
			if !reflect.DeepEqual(back, cfg) {
				t.Errorf("round trip changed the config:\n got %+v\nwant %+v\n%s", back, cfg, out)
			}
		})
	}
}

func TestYAMLUsesSpecKeyNames(t *testing.T) {
	out, err := Default().YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{
		"listen:", "admin_listen:", "clock_skew: 0s", "max_token_bytes: 16384", "authorization_header: true",
		"amplify_cookies:", "invalid_token: anonymous", "claims_header:", "strip_authorization:",
		"refresh_interval: 1h0m0s", "min_refetch_interval: 10s", "fetch_timeout: 5s", "max_bytes: 1048576",
		"max_entries: 10000", "client_ca_file:",
	} {
		if !strings.Contains(string(out), key) {
			t.Errorf("printed config lacks %q:\n%s", key, out)
		}
	}
}

func TestFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		parseErr string // from flag parsing
		err      string // from Resolve
		check    func(t *testing.T, cfg *Config)
	}{
		{
			name: "flags alone describe one pool",
			args: []string{"--user-pool-id", "us-east-1_X", "--client-id", "abc"},
			check: func(t *testing.T, cfg *Config) {
				want := Default()
				want.Issuers = []verifier.IssuerConfig{{UserPoolID: "us-east-1_X", ClientIDs: []string{"abc"}, TokenUse: verifier.TokenUseAccess}}
				if !reflect.DeepEqual(cfg, want) {
					t.Errorf("got %+v\nwant %+v", cfg, want)
				}
			},
		},
		{
			name: "client ids repeat and split on commas",
			args: []string{"--issuer", "http://127.0.0.1:1/pool", "--client-id", "a, b", "--client-id", "c", "--token-use", "any"},
			check: func(t *testing.T, cfg *Config) {
				is := cfg.Issuers[0]
				if is.Issuer != "http://127.0.0.1:1/pool" || !reflect.DeepEqual(is.ClientIDs, []string{"a", "b", "c"}) || is.TokenUse != verifier.TokenUseAny {
					t.Errorf("issuer %+v", is)
				}
			},
		},
		{
			name: "flags override the file",
			args: []string{
				"--config", "testdata/good_minimal.yaml", "--client-id", "flagclient", "--token-use", "id",
				"--jwks-url", "http://127.0.0.1:2/jwks.json", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
				"--log-level", "debug", "--log-format", "console", "--http-listen", "127.0.0.1:0",
			},
			check: func(t *testing.T, cfg *Config) {
				want := verifier.IssuerConfig{
					UserPoolID: "us-east-1_AbCdEf123", JWKSURL: "http://127.0.0.1:2/jwks.json",
					ClientIDs: []string{"flagclient"}, TokenUse: verifier.TokenUseID,
				}
				if !reflect.DeepEqual(cfg.Issuers, []verifier.IssuerConfig{want}) {
					t.Errorf("issuers %+v, want %+v", cfg.Issuers, want)
				}
				if cfg.Listen != "127.0.0.1:0" || cfg.AdminListen != "127.0.0.1:0" || cfg.HTTPListen != "127.0.0.1:0" {
					t.Errorf("listen %q admin %q http %q", cfg.Listen, cfg.AdminListen, cfg.HTTPListen)
				}
				if cfg.Log != (Log{Level: "debug", Format: "console"}) {
					t.Errorf("log %+v", cfg.Log)
				}
			},
		},
		{
			name: "file values stay where no flag is given",
			args: []string{"--config", "testdata/good_full.yaml", "--listen", ":7777"},
			check: func(t *testing.T, cfg *Config) {
				if cfg.Listen != ":7777" || cfg.AdminListen != "127.0.0.1:7090" || cfg.HTTPListen != "127.0.0.1:7002" || len(cfg.Issuers) != 2 || cfg.MaxTokenBytes != 8192 {
					t.Errorf("got %+v", cfg)
				}
			},
		},
		{
			name: "an issuer URL flag replaces the file's pool id",
			args: []string{"--config", "testdata/good_minimal.yaml", "--issuer", "https://issuer.example/pool"},
			check: func(t *testing.T, cfg *Config) {
				is := cfg.Issuers[0]
				if is.UserPoolID != "" || is.Issuer != "https://issuer.example/pool" || is.ClientIDs[0] != "fileclient" {
					t.Errorf("issuer %+v", is)
				}
			},
		},
		{
			name: "region completes a bare pool id",
			args: []string{"--user-pool-id", "AbC123", "--region", "eu-west-1", "--client-id", "abc"},
			check: func(t *testing.T, cfg *Config) {
				if got := cfg.Issuers[0].UserPoolID; got != "eu-west-1_AbC123" {
					t.Errorf("user pool id %q", got)
				}
			},
		},
		{
			name: "region agreeing with the pool id",
			args: []string{"--user-pool-id", "eu-west-1_AbC123", "--region", "eu-west-1", "--client-id", "abc"},
			check: func(t *testing.T, cfg *Config) {
				if got := cfg.Issuers[0].UserPoolID; got != "eu-west-1_AbC123" {
					t.Errorf("user pool id %q", got)
				}
			},
		},
		{
			name: "region contradicting the pool id",
			args: []string{"--user-pool-id", "us-east-1_AbC123", "--region", "eu-west-1", "--client-id", "abc"},
			err:  `--region: "eu-west-1" does not match user pool id "us-east-1_AbC123"`,
		},
		{
			name: "region without a pool",
			args: []string{"--issuer", "https://issuer.example/pool", "--region", "eu-west-1", "--client-id", "abc"},
			err:  "--region: needs a user pool id",
		},
		{
			name: "issuer flags against a file of two issuers",
			args: []string{"--config", "testdata/good_two_issuers.yaml", "--client-id", "abc"},
			err:  "--client-id: issuer flags describe one issuer, but the configuration has 2",
		},
		{
			name: "flags alone without a client id",
			args: []string{"--user-pool-id", "us-east-1_X"},
			err:  "issuers[0].client_ids: required",
		},
		{
			name: "no file and no flags",
			args: nil,
			err:  "issuers: at least one issuer is required",
		},
		{
			name: "a missing file",
			args: []string{"--config", "testdata/does_not_exist.yaml"},
			err:  "does_not_exist.yaml: no such file",
		},
		{
			name:     "unknown token use",
			args:     []string{"--user-pool-id", "us-east-1_X", "--client-id", "abc", "--token-use", "refresh"},
			parseErr: `invalid value "refresh" for flag -token-use: unknown value "refresh" (access | id | any)`,
		},
		{
			name:     "empty client id",
			args:     []string{"--user-pool-id", "us-east-1_X", "--client-id", "a,,b"},
			parseErr: "invalid value \"a,,b\" for flag -client-id: empty value in list",
		},
		{
			name:     "unknown log format",
			args:     []string{"--log-format", "xml"},
			parseErr: `flag -log-format: unknown value "xml" (json | console)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			o := BindFlags(fs)
			o.BindServeFlags(fs)
			err := fs.Parse(tt.args)
			if tt.parseErr != "" {
				assertErrorContains(t, err, tt.parseErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := o.Resolve()
			if tt.err != "" {
				assertErrorContains(t, err, tt.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, cfg)
		})
	}
}

func TestSectionsAsThePackagesReadThem(t *testing.T) {
	cfg, err := Load("testdata/good_full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Issuers = append(cfg.Issuers, verifier.IssuerConfig{Issuer: "https://other.example/p", ClientIDs: []string{"abc123", "other"}, TokenUse: verifier.TokenUseID})

	wantVerifier := verifier.Config{
		Issuers: []verifier.IssuerConfig{
			{UserPoolID: "us-east-1_AbCdEf123", ClientIDs: []string{"abc123", "def456"}, TokenUse: verifier.TokenUseAccess},
			{
				Issuer: "http://127.0.0.1:8080/local_pool", JWKSURL: "http://127.0.0.1:8080/local_pool/keys.json",
				ClientIDs: []string{"localclient"}, TokenUse: verifier.TokenUseID,
			},
			{Issuer: "https://other.example/p", ClientIDs: []string{"abc123", "other"}, TokenUse: verifier.TokenUseID},
		},
		ClockSkew:          30 * time.Second,
		MaxTokenBytes:      8192,
		CacheMaxEntries:    0,
		RefreshInterval:    30 * time.Minute,
		MinRefetchInterval: 5 * time.Second,
		FetchTimeout:       2 * time.Second,
		MaxJWKSBytes:       65536,
		HeaderClaims:       []string{"custom:tenant_id"},
		MaxClaimBytes:      2048,
	}
	if got := cfg.VerifierConfig(); !reflect.DeepEqual(got, wantVerifier) {
		t.Errorf("VerifierConfig:\n got %+v\nwant %+v", got, wantVerifier)
	}

	wantPolicy := goodFullPolicy
	if got := cfg.Policy; !reflect.DeepEqual(got, wantPolicy) {
		t.Errorf("Policy:\n got %+v\nwant %+v", got, wantPolicy)
	}

	wantSources := tokensource.Config{
		Headers:          []string{"x-access-token"},
		Cookies:          []string{"access_token"},
		AmplifyCookies:   true,
		AmplifyClientIDs: []string{"abc123", "def456", "localclient", "other"}, // every issuer's, once
		AmplifyTokenUse:  "access",                                             // one issuer takes access tokens
	}
	if got := cfg.TokenSourcesFor(); !reflect.DeepEqual(got, wantSources) {
		t.Errorf("TokenSourcesFor:\n got %+v\nwant %+v", got, wantSources)
	}

	wantHeaders := authz.HeaderConfig{Prefix: "x-id-", ClaimsHeader: "x-jwt-claims", StripAuthorization: true,
		Claims: []authz.ClaimHeader{{Claim: "custom:tenant_id", Header: "tenant-id"}}, MaxClaimBytes: 2048}
	if got := cfg.IdentityHeaders; !reflect.DeepEqual(got, wantHeaders) {
		t.Errorf("IdentityHeaders: got %+v want %+v", got, wantHeaders)
	}
	if !cfg.DynamicMetadata {
		t.Error("DynamicMetadata: false, want true")
	}
	if Default().DynamicMetadata {
		t.Error("dynamic_metadata is on by default: Envoy would pay for metadata nobody asked for")
	}
}

func TestAmplifyReadsIDTokensWhenEveryIssuerWantsThem(t *testing.T) {
	cfg := Default()
	cfg.Issuers = []verifier.IssuerConfig{{UserPoolID: "us-east-1_X", ClientIDs: []string{"a"}, TokenUse: verifier.TokenUseID}}
	if got := cfg.TokenSourcesFor().AmplifyTokenUse; got != "id" {
		t.Errorf("AmplifyTokenUse %q, want id", got)
	}
}

// TestTLS writes a certificate and CA at test time and checks mTLS is required once a client CA
// is set.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeSelfSigned(t, dir)
	notPEM := filepath.Join(dir, "not_pem.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		tls      TLS
		err      string
		wantMTLS bool
	}{
		{name: "server certificate", tls: TLS{CertFile: certFile, KeyFile: keyFile}},
		{name: "mutual TLS", tls: TLS{CertFile: certFile, KeyFile: keyFile, ClientCAFile: certFile}, wantMTLS: true},
		{name: "client CA that is not PEM", tls: TLS{CertFile: certFile, KeyFile: keyFile, ClientCAFile: notPEM}, err: "tls.client_ca_file:"},
		{name: "client CA that is missing", tls: TLS{CertFile: certFile, KeyFile: keyFile, ClientCAFile: filepath.Join(dir, "nope.pem")}, err: "tls.client_ca_file:"},
		{name: "key that is not a key", tls: TLS{CertFile: certFile, KeyFile: notPEM}, err: "tls.cert_file: cannot load"},
		{name: "client CA alone", tls: TLS{ClientCAFile: certFile}, err: "tls.cert_file: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			cfg.Issuers = []verifier.IssuerConfig{{UserPoolID: "us-east-1_X", ClientIDs: []string{"a"}, TokenUse: verifier.TokenUseAccess}}
			cfg.TLS = tt.tls
			err := cfg.Validate()
			if tt.err != "" {
				assertErrorContains(t, err, tt.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc, err := cfg.TLS.ServerTLSConfig()
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.ClientAuth == tls.RequireAndVerifyClientCert; got != tt.wantMTLS {
				t.Errorf("client certificates required = %v, want %v", got, tt.wantMTLS)
			}
		})
	}
}

func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		NotBefore:             time.Unix(0, 0),
		NotAfter:              time.Date(2199, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestEffectiveRevocation: check-config writes out each issuer's revocation defaults, and the
// regional endpoint that will be asked where a check can happen.
func TestEffectiveRevocation(t *testing.T) {
	cfg, err := Load(filepath.Join("testdata", "revocation_online.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Issuers[0].Revocation.CacheTTL, cfg.Issuers[0].Revocation.MaxRPS = 0, 0
	eff, err := cfg.Effective()
	if err != nil {
		t.Fatal(err)
	}
	want := revocation.Config{
		Mode: revocation.ModeOnline, Endpoint: "https://cognito-idp.us-east-1.amazonaws.com/",
		CacheTTL: revocation.DefaultCacheTTL, OnUnavailable: revocation.OnUnavailableAccept, MaxRPS: revocation.DefaultMaxRPS,
	}
	if got := eff.Issuers[0].Revocation; got != want {
		t.Errorf("effective revocation %+v, want %+v", got, want)
	}
	if cfg.Issuers[0].Revocation.Endpoint != "" {
		t.Error("Effective changed the configuration it was given")
	}
}

// goodFullPolicy is the policy section of testdata/good_full.yaml as loaded.
var goodFullPolicy = policy.Config{
	Default:      policy.AuthRequired,
	InvalidToken: policy.InvalidTokenDeny,
	Rules: []policy.Rule{
		{
			PathPrefix: "/api/admin", Methods: []string{"GET", "POST"}, Auth: policy.AuthRequired,
			GroupsAny: []string{"admin"}, ScopesAll: []string{"aws.cognito.signin.user.admin"},
			RuleWhere: policy.RuleWhere{
				Hosts: []string{"admin.example.com", "*.admin.example.com"}, ClientsAny: []string{"abc123"},
				TokenUse: verifier.TokenUseAccess, Unauthenticated: policy.UnauthenticatedRedirect,
			},
		},
		{PathPrefix: "/healthz", Auth: policy.AuthOff},
	},
	SignIn: policy.SignIn{Unauthenticated: policy.UnauthenticatedDeny, LoginURL: "/signin?from=edge"},
}
