package e2e

import (
	"errors"
	"strings"

	"github.com/cognito-authz/cognito-authz/extauthz"
	"github.com/cognito-authz/cognito-authz/testenv/envoyconf"
	"github.com/cognito-authz/cognito-authz/testenv/webapp"
)

// The stack's identity providers (Options.IdP).
const (
	// IdPBuiltin is the local Cognito-compatible issuer (testenv/issuer): tokens are minted, not
	// signed in for; no Node.js needed. The default, which tests and benchmarks use.
	IdPBuiltin = "builtin"
	// IdPCognitoLocal is the npm Cognito emulator (testenv/cognitolocal), seeded with the demo's
	// pool; the web app signs in against it through Envoy, same-origin, at
	// envoyconf.CognitoAPIPrefix. What `make demo` runs.
	IdPCognitoLocal = "cognito-local"
	// IdPAWS is a real user pool (Options.AWS): the web app talks to Cognito itself.
	IdPAWS = "aws"
)

// IdPs lists the identity providers, the default first.
var IdPs = []string{IdPBuiltin, IdPCognitoLocal, IdPAWS}

// OutboxPath is where the stack serves the codes cognito-local delivered (auth off).
const OutboxPath = "/outbox"

// Info describes a running stack to programs that drive it (`testenv up --info FILE`): where the
// app is and how to sign in to its identity provider, e.g. as Amplify's configuration.
type Info struct {
	// AppURL is Envoy's listener, where the app is reached.
	AppURL string `json:"app_url"`
	// IdP is one of IdPs.
	IdP string `json:"idp"`
	// IdPEndpoint is where the Cognito user-pool JSON API is reached (X-Amz-Target style): Amplify's
	// userPoolEndpoint. Empty for IdPBuiltin, which has none.
	IdPEndpoint string `json:"idp_endpoint"`
	Region      string `json:"region"`
	UserPoolID  string `json:"user_pool_id"`
	ClientID    string `json:"client_id"`
	// Issuer is what the pool's tokens carry as iss.
	Issuer string `json:"issuer"`
	// OutboxURL serves the codes the identity provider would have sent; empty but for
	// IdPCognitoLocal.
	OutboxURL string `json:"outbox_url"`
}

// AWSPool is a real Cognito user pool and its app client (no client secret: a browser app's).
type AWSPool struct {
	UserPoolID string
	ClientID   string
	// APIEndpoint, when set, is where the pool's user-pool API is reached instead of the region's
	// (an emulator that signs tokens with the AWS issuer form, such as moto).
	APIEndpoint string
}

// Region is the pool's region, from its id.
func (p AWSPool) Region() string { return extauthz.RegionOf(p.UserPoolID) }

// Endpoint is the region's Cognito user-pool API, which the web app calls cross-origin (Cognito
// answers CORS itself).
func (p AWSPool) Endpoint() string {
	if p.APIEndpoint != "" {
		return p.APIEndpoint
	}
	return "https://cognito-idp." + p.Region() + ".amazonaws.com/"
}

// Check reports what is missing or malformed.
func (p AWSPool) Check() error {
	var errs []error
	switch {
	case p.UserPoolID == "":
		errs = append(errs, errors.New("a user pool id is required"))
	case p.Region() == "":
		errs = append(errs, errors.New("user pool id "+p.UserPoolID+" is not of the form <region>_<id>, e.g. us-east-1_AbCdEf123"))
	}
	if strings.TrimSpace(p.ClientID) == "" {
		errs = append(errs, errors.New("an app client id is required"))
	}
	return errors.Join(errs...)
}

// AWSSetup is what the stack tells cognito-authz and the web app about a real pool, and the
// stack's Info but for AppURL. It needs no network: a test checks it where AWS cannot be reached.
func AWSSetup(p AWSPool) (*extauthz.Config, webapp.Config, Info, error) {
	if err := p.Check(); err != nil {
		return nil, webapp.Config{}, Info{}, err
	}
	cfg := DemoConfig("", "")
	cfg.Issuers = []extauthz.Issuer{{UserPoolID: p.UserPoolID, ClientIDs: []string{p.ClientID}, TokenUse: extauthz.TokenUseAny}}
	issuer := "https://cognito-idp." + p.Region() + ".amazonaws.com/" + p.UserPoolID // what the tokens carry, wherever the API is
	web := webapp.Config{IdP: IdPAWS, Region: p.Region(), UserPoolID: p.UserPoolID, ClientID: p.ClientID, Endpoint: p.Endpoint()}
	info := Info{IdP: IdPAWS, IdPEndpoint: p.Endpoint(), Region: p.Region(), UserPoolID: p.UserPoolID,
		ClientID: p.ClientID, Issuer: issuer}
	return cfg, web, info, nil
}

// cognitoAPIEndpoint is where a page on the stack reaches cognito-local: same-origin, through Envoy.
var cognitoAPIEndpoint = envoyconf.CognitoAPIPrefix
