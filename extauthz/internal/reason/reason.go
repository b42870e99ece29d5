// Package reason holds the stable reason codes of docs/reference.md#reason-codes. They are part of
// the product contract: metric labels, log fields, `verify` output and the 401 error_description
// all use them.
package reason

// Code is one stable reason why a token did not lead to an authenticated request.
type Code string

// The reason codes, in the order the reference lists them.
const (
	Missing           Code = "missing"
	Malformed         Code = "malformed"
	TooLarge          Code = "too_large"
	UnsupportedAlg    Code = "unsupported_alg"
	UnknownKid        Code = "unknown_kid"
	BadSignature      Code = "bad_signature"
	Expired           Code = "expired"
	NotYetValid       Code = "not_yet_valid"
	IssuedInFuture    Code = "issued_in_future"
	WrongIssuer       Code = "wrong_issuer"
	WrongTokenUse     Code = "wrong_token_use"
	WrongClient       Code = "wrong_client"
	JWKSUnavailable   Code = "jwks_unavailable"
	InsufficientGroup Code = "insufficient_group"
	InsufficientScope Code = "insufficient_scope"
	ClaimTooLarge     Code = "claim_too_large"
	AmbiguousPath     Code = "ambiguous_path"
	// ClientNotAllowed: the token's app client (client_id, or aud of an ID token) is not one of
	// the route's clients_any.
	ClientNotAllowed Code = "client_not_allowed"
)

// The reason codes of the online revocation check (issuers[].revocation).
const (
	// Revoked: Cognito says the token is no longer live (signed out, revoked, user gone), or its
	// sign-in is known revoked.
	Revoked Code = "revoked"
	// RevocationUnavailable: Cognito could not be asked in time and on_unavailable is unavailable.
	RevocationUnavailable Code = "revocation_unavailable"
)

// All lists every code, so metrics can be pre-registered and tests can check coverage.
var All = []Code{
	Missing, Malformed, TooLarge, UnsupportedAlg, UnknownKid, BadSignature, Expired, NotYetValid,
	IssuedInFuture, WrongIssuer, WrongTokenUse, WrongClient, JWKSUnavailable, Revoked,
	RevocationUnavailable, InsufficientGroup, InsufficientScope, ClaimTooLarge, AmbiguousPath,
	ClientNotAllowed,
}
