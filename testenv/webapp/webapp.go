// Package webapp is the demo's browser front end: a plain HTML/CSS/JS page (no build step, no npm
// at run time) that signs a user up, in (with SMS MFA) and out against a Cognito user pool's JSON
// API, keeps the session in Amplify's cookie names, and shows the demo backend's home feed and
// admin page through Envoy and cognito-authz. It is served on an auth-off route; the page itself
// decides nothing about who may see what, the backend behind cognito-authz does.
package webapp

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/url"

	"github.com/cognito-authz/cognito-authz/testenv/cognitoapi"
)

// Paths served.
const (
	IndexPath     = "/"
	StaticPrefix  = "/static/"
	AppConfigPath = "/app-config.json"
	// AdminPagePath is the admin page at its own URL, a route that requires group admin and sends
	// a signed-out browser to SignInPagePath (DemoSignIn); the page shows its admin view there.
	AdminPagePath = "/admin"
	// SignInPagePath is the sign-in page at its own URL, policy.login_url of the demo. It reads
	// the path to return to from the query (extauthz.ReturnParam) and follows only a same-site one.
	SignInPagePath = "/signin"
)

// PagePaths are the paths at which the page itself is served.
var PagePaths = []string{IndexPath, AdminPagePath, SignInPagePath}

// Config is what the page needs to reach the identity provider; it is served as JSON at
// AppConfigPath and read by the page at start.
type Config struct {
	// IdP names the identity provider: "cognito-local", "aws" or "builtin".
	IdP string `json:"idp"`
	// Region is the user pool's region, e.g. us-east-1.
	Region string `json:"region"`
	// UserPoolID and ClientID name the pool and the app client the page signs in with.
	UserPoolID string `json:"userPoolId"`
	ClientID   string `json:"clientId"`
	// Endpoint is where the page POSTs Cognito user-pool JSON API calls (X-Amz-Target style):
	// "/cognito-idp/" for cognito-local reached same-origin through Envoy, or
	// https://cognito-idp.<region>.amazonaws.com/ for a real pool.
	Endpoint string `json:"endpoint"`
	// PasswordPolicy, when known, is the pool's password policy, which the page states where a
	// password is chosen, before the user types one. (A real pool's policy needs AWS credentials
	// to read: unknown with --idp aws.)
	PasswordPolicy *cognitoapi.PasswordPolicy `json:"passwordPolicy,omitempty"`
	// OutboxURL, when set, is where the codes the identity provider "sends" can be read (the
	// local stack's outbox); the page's messages about a code point there.
	OutboxURL string `json:"outboxUrl,omitempty"`
}

//go:embed static
var staticFiles embed.FS

// Handler serves the page at IndexPath, its assets under StaticPrefix and cfg at AppConfigPath.
func Handler(cfg Config) http.Handler {
	assets, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	configJSON, err := json.Marshal(cfg)
	if err != nil {
		panic(err) // strings, bools and ints always marshal
	}
	csp := contentSecurityPolicy(cfg.Endpoint)
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+AppConfigPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(configJSON)
	})
	mux.Handle("GET "+StaticPrefix, http.StripPrefix(StaticPrefix, noDirListing(http.FileServerFS(assets))))
	page := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, assets, "index.html")
	}
	mux.HandleFunc("GET /{$}", page)
	mux.HandleFunc("GET "+AdminPagePath, page)
	mux.HandleFunc("GET "+SignInPagePath, page)
	return securityHeaders(mux, csp)
}

// contentSecurityPolicy lets the page run only its own script and style, and talk only to its own
// origin and to the identity provider's endpoint: a page that holds tokens runs nothing else.
func contentSecurityPolicy(endpoint string) string {
	connect := "'self'"
	if u, err := url.Parse(endpoint); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
		connect += " " + u.Scheme + "://" + u.Host
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src " + connect +
		"; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// noDirListing answers 404 for a directory, so /static/ lists nothing.
func noDirListing(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || r.URL.Path[len(r.URL.Path)-1] == '/' {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// securityHeaders keeps the page from being framed, sniffed or made to run someone else's code:
// it handles tokens.
func securityHeaders(h http.Handler, csp string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}
