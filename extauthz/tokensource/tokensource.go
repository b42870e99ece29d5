// Package tokensource finds the bearer token in a request's headers and cookies (SPEC section 4,
// token_sources). It knows nothing of Envoy: it reads a lower-cased header map.
package tokensource

// Config lists where tokens are looked for; the first source that yields a token wins.
type Config struct {
	AuthorizationHeader bool     // Authorization: Bearer <jwt>
	Headers             []string // e.g. x-access-token
	Cookies             []string // e.g. access_token
	AmplifyCookies      bool     // Amplify CookieStorage cookies
	// AmplifyClientIDs are the client ids whose Amplify cookies are read (the issuers' client_ids).
	AmplifyClientIDs []string
	// AmplifyTokenUse selects the .accessToken (access, any) or .idToken (id) cookie.
	AmplifyTokenUse string
}
