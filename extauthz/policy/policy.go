// Package policy decides what a request needs (route rules, Envoy context_extensions, the default)
// and turns a verification outcome into a result, per SPEC sections 1, 4 and 5. It knows nothing
// of Envoy or gRPC.
package policy

// Auth is how much a route asks of the caller.
type Auth string

// Route auth modes.
const (
	AuthOptional Auth = "optional"
	AuthRequired Auth = "required"
	AuthOff      Auth = "off"
)

// InvalidTokenMode is what an invalid token gets on an optional route.
type InvalidTokenMode string

// Invalid-token modes.
const (
	InvalidTokenAnonymous InvalidTokenMode = "anonymous"
	InvalidTokenDeny      InvalidTokenMode = "deny"
)

// Rule is one route rule; the first that matches wins.
type Rule struct {
	PathPrefix string
	Methods    []string // empty: all
	Auth       Auth
	GroupsAny  []string
	ScopesAll  []string
}

// Config is the policy section of the configuration.
type Config struct {
	Default      Auth             // default optional
	InvalidToken InvalidTokenMode // default anonymous
	Rules        []Rule
}
