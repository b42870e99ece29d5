package policy

import (
	"github.com/cognito-authz/cognito-authz/extauthz/internal/reason"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/verifier"
)

// Result is one of the results of docs/reference.md#results, plus Skipped for routes with auth:
// off.
type Result string

// Results, as used in the cognito_authz_checks_total{result} label.
const (
	Authenticated   Result = "authenticated"
	Anonymous       Result = "anonymous"
	Unauthenticated Result = "unauthenticated"
	Forbidden       Result = "forbidden"
	Unavailable     Result = "unavailable"
	Skipped         Result = "skipped"
)

// Results lists every result, in the order of docs/reference.md#results (Skipped last).
var Results = []Result{Authenticated, Anonymous, Unauthenticated, Forbidden, Unavailable, Skipped}

// Outcomes lists every decision Decide gives but Authenticated, whose answer depends on the
// claims: each reason code as anonymous and as unauthenticated, auth: off, the forbidden
// reasons and keys that cannot be had. Answers to them can be built once.
func Outcomes() []Decision {
	var out []Decision
	for _, code := range reason.All {
		out = append(out, Decision{Result: Anonymous, Reason: code}, Decision{Result: Unauthenticated, Reason: code})
	}
	return append(out,
		Decision{Result: Skipped},
		Decision{Result: Forbidden, Reason: reason.InsufficientGroup},
		Decision{Result: Forbidden, Reason: reason.InsufficientScope},
		Decision{Result: Forbidden, Reason: reason.ClientNotAllowed},
		Decision{Result: Forbidden, Reason: reason.AmbiguousPath},
		Decision{Result: Unavailable, Reason: reason.JWKSUnavailable},
		Decision{Result: Unavailable, Reason: reason.RevocationUnavailable})
}

// Decision is a result and the reason for it (empty for Authenticated and Skipped).
type Decision struct {
	Result Result
	Reason reason.Code
}

// Decide turns what was found and verified into a result, per the table of
// docs/reference.md#policy.
//
// tokenPresent reports that a token source held a credential; claims are its verified claims, or
// nil with failure naming why it was rejected (a credential a token source could not read counts
// as malformed). Claims without a failure are trusted only with tokenPresent; nil claims without a
// failure count as malformed, so a confused caller fails closed.
//
// Off routes are Skipped whatever the token. jwks_unavailable (and revocation_unavailable) is Unavailable where a token would
// be denied (a required route, or invalid_token: deny) and Anonymous elsewhere. A token_use that
// the route does not accept is an invalid token (wrong_token_use). A valid token lacking the
// app client (clients_any), groups (any of) or scopes (all of) is Forbidden, in that order.
func (c *Config) Decide(req *Requirement, tokenPresent bool, claims *verifier.Claims, failure reason.Code) Decision {
	if req.Auth == AuthOff {
		return Decision{Result: Skipped}
	}
	if !tokenPresent {
		return c.invalid(req, reason.Missing, false)
	}
	if failure == "" && claims == nil {
		failure = reason.Malformed
	}
	if failure != "" {
		return c.invalid(req, failure, true)
	}
	if !tokenUseAccepted(req.TokenUse, claims.TokenUse) {
		return c.invalid(req, reason.WrongTokenUse, true)
	}
	if req.unsatisfiable != "" {
		return Decision{Result: Forbidden, Reason: req.unsatisfiable}
	}
	if !req.clientAllowed(claims.ClientID) {
		return Decision{Result: Forbidden, Reason: reason.ClientNotAllowed}
	}
	// req.groupLists(), read in place: Decide runs for every request with a token.
	if len(req.GroupsAny) > 0 && !anyOf(claims.Groups, req.GroupsAny) {
		return Decision{Result: Forbidden, Reason: reason.InsufficientGroup}
	}
	for _, groups := range req.alsoGroupsAny {
		if !anyOf(claims.Groups, groups) {
			return Decision{Result: Forbidden, Reason: reason.InsufficientGroup}
		}
	}
	if !allOf(claims.Scopes, req.ScopesAll) {
		return Decision{Result: Forbidden, Reason: reason.InsufficientScope}
	}
	return Decision{Result: Authenticated}
}

// invalid is the answer for a missing or invalid token.
func (c *Config) invalid(req *Requirement, why reason.Code, presented bool) Decision {
	deny := req.Auth != AuthOptional || (presented && c.InvalidToken == InvalidTokenDeny)
	switch {
	case !deny:
		return Decision{Result: Anonymous, Reason: why}
	case why == reason.JWKSUnavailable || why == reason.RevocationUnavailable:
		return Decision{Result: Unavailable, Reason: why}
	default:
		return Decision{Result: Unauthenticated, Reason: why}
	}
}

func tokenUseAccepted(want, got verifier.TokenUse) bool {
	switch want {
	case "", verifier.TokenUseAny:
		return true
	case verifier.TokenUseAccess, verifier.TokenUseID:
		return got == want
	}
	return false
}

func anyOf(have, want []string) bool {
	for _, w := range want {
		for _, h := range have {
			if h == w {
				return true
			}
		}
	}
	return false
}

func allOf(have, want []string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			if h == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
