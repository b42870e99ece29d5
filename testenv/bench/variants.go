package bench

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cognito-authz/cognito-authz/extauthz"
)

// Variants of the cognito-authz setup, each changing one setting of the committed configuration
// (envoy/envoy.yaml, the service's defaults), so a lever is measured alone, in the same run, beside
// the setup it changes. Their setups are named CognitoAuthz + "/" + the variant.
var variants = map[string]variant{
	// Envoy sends the request's headers as a map of strings instead of raw bytes (header_map):
	// without encode_raw_headers, as before it was committed.
	"map-headers": {edit: removeLine("              encode_raw_headers: true\n")},
	// Envoy's gRPC client is Google's (google_grpc) instead of its own (envoy_grpc).
	"google-grpc": {edit: googleGRPC},
	// The service sets dynamic metadata on every answer (dynamic_metadata: true).
	"metadata": {configure: func(cfg *extauthz.Config, _ string) { cfg.DynamicMetadata = true }},
	// Three claims mapped to headers and two rules for other hosts, which every request's host is
	// matched against.
	"claims-hosts": {configure: claimsAndHosts},
	// The online revocation check on every token, against a stand-in for Cognito's GetUser that
	// answers every token live; its answers outlast the run, so what is measured is a warm cache.
	"revocation": {configure: onlineRevocation},
}

// variant is one lever: an edit of the rendered Envoy configuration, or a service setting.
type variant struct {
	edit func(rendered []byte, authzAddr string) ([]byte, error)
	// configure, when set, changes the configuration of a cognito-authz of the variant's own;
	// cognitoAPI is the stand-in Cognito API's URL.
	configure func(cfg *extauthz.Config, cognitoAPI string)
}

func claimsAndHosts(cfg *extauthz.Config, _ string) {
	cfg.IdentityHeaders.Claims = []extauthz.ClaimHeader{
		{Claim: "origin_jti", Header: "origin-jti"}, {Claim: "event_id", Header: "event-id"},
		{Claim: "auth_time", Header: "auth-time"},
	}
	admin := extauthz.Rule{PathPrefix: "/", Auth: extauthz.AuthRequired, GroupsAny: []string{"admin"}}
	admin.Hosts = []string{"admin.example.com"}
	internal := extauthz.Rule{PathPrefix: "/", Auth: extauthz.AuthRequired}
	internal.Hosts = []string{"*.internal.example.com"}
	cfg.Policy.Rules = append([]extauthz.Rule{admin, internal}, cfg.Policy.Rules...)
}

func onlineRevocation(cfg *extauthz.Config, cognitoAPI string) {
	for i := range cfg.Issuers {
		cfg.Issuers[i].Revocation = extauthz.Revocation{Mode: extauthz.RevocationOnline, Endpoint: cognitoAPI,
			CacheTTL: time.Hour, MaxRPS: 1e6}
	}
}

// VariantNames lists the variants --variants accepts.
func VariantNames() []string {
	names := make([]string, 0, len(variants))
	for n := range variants {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// CheckVariants refuses a name VariantNames does not list, or one given twice.
func CheckVariants(names []string) error {
	for i, n := range names {
		if _, ok := variants[n]; !ok {
			return fmt.Errorf("variant %q: want one of %s", n, strings.Join(VariantNames(), ", "))
		}
		if slices.Contains(names[:i], n) {
			return fmt.Errorf("variant %q given twice", n)
		}
	}
	return nil
}

// VariantSetup is the name of variant's setup.
func VariantSetup(variant string) string { return CognitoAuthz + "/" + variant }

// removeLine returns an edit that removes the first line equal to line.
func removeLine(line string) func([]byte, string) ([]byte, error) {
	return func(rendered []byte, _ string) ([]byte, error) {
		i := bytes.Index(rendered, []byte(line))
		if i < 0 {
			return nil, fmt.Errorf("no %q in the rendered configuration", strings.TrimSpace(line))
		}
		return slices.Concat(rendered[:i], rendered[i+len(line):]), nil
	}
}

// googleGRPC replaces the ext_authz filter's envoy_grpc block (cluster and skip_envoy_headers)
// with google_grpc toward the same address.
func googleGRPC(rendered []byte, authzAddr string) ([]byte, error) {
	start := bytes.Index(rendered, []byte("                envoy_grpc:\n"))
	end := bytes.Index(rendered, []byte("                  skip_envoy_headers: true\n"))
	if start < 0 || end < start {
		return nil, fmt.Errorf("no envoy_grpc block in the rendered configuration")
	}
	end += len("                  skip_envoy_headers: true\n")
	block := fmt.Sprintf("                google_grpc:\n                  target_uri: %q\n                  stat_prefix: cognito_authz\n", authzAddr)
	return slices.Concat(rendered[:start], []byte(block), rendered[end:]), nil
}
