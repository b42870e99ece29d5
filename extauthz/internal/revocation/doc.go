// Package revocation asks Amazon Cognito whether a token that passed every local check is still
// live: signed out everywhere (GlobalSignOut, AdminUserGlobalSignOut), its refresh token revoked
// (RevokeToken), its user disabled or deleted. A signature cannot say so: Cognito keeps such
// tokens valid to any JWT library until they expire, up to a day later. It knows nothing of the
// verifier, Envoy or metrics: plain values go in (Token), a Verdict comes out, and an Observer
// hears of every check and call; the caller maps them to reason codes, answers and metrics.
//
// The question is Cognito's GetUser, which the access token authorises itself (no AWS
// credentials), POSTed to the issuer's regional endpoint (https://cognito-idp.<region>.amazonaws.com/)
// or a configured one (an emulator). A 200 with a user is live. NotAuthorizedException is revoked
// ("Access Token has been revoked"; moto says "Invalid token"), except when its message says the
// token has expired (Cognito's clock is past exp while ours, with its skew, is not): that token is
// refused as expired, but its sign-in is not taken for revoked. UserNotFoundException (the user
// was deleted) is revoked too. Throttling, 5xx, timeouts, no connection, and any answer that is
// none of these (a 200 without a user, a page from a proxy) are no answer: unavailable.
//
// Revoked sign-ins. Every token of one sign-in carries the same origin_jti, ID tokens and the
// access tokens refreshed later included. Once a token is found revoked its origin_jti is
// remembered until the latest exp seen of its tokens, and every token carrying it is refused
// without a call: this is how an ID token, which GetUser cannot check, is refused after a sign-out.
//
// What cannot be checked is counted as not_checkable and let through: an ID token whose sign-in
// is not known revoked, and a client-credentials (M2M) token, which names no user for GetUser to
// answer for. An access token without origin_jti (an app client with token revocation turned off)
// is checked like any other: GlobalSignOut revokes it too; only its sign-in cannot be remembered.
//
// The cost, and the trade-off. A live answer is cached per token for cache_ttl (default 30 s), so
// each token costs one call per cache period, and a revocation reaches the edge within cache_ttl
// (the staleness window a team accepts) plus the call's own time. Concurrent checks of one token
// share one call. The calls are held to max_rps (default 120 a second, Cognito's default quota
// for user reads; a quota is per account and region, shared by every pool and every caller of its
// operations there, so the issuers' max_rps and the apps' own calls must fit in it together): at
// the default, about 120 × 30 = 3,600 tokens in use at once stay warm; past that, new tokens wait
// in line while their deadline allows, then are unavailable.
// A check ends a margin before its caller's deadline, as the key waits do, and a check that got
// no answer by then is unavailable, which on_unavailable turns into a refusal (`unavailable`, the
// default: the guarantee over availability) or a pass (`accept`: the locally valid token is let
// through). The checker applies it and says so in Verdict.Refuse; the result is reported either
// way. The call itself goes on (bounded by its own timeout) for the checks that join it and the
// cache.
//
// Memory is bounded: at most DefaultMaxCachedTokens live answers, keyed by a hash of the token
// (never its text), and DefaultMaxRevokedFamilies revoked sign-ins, the oldest going first. A
// caller that keeps a Memo beside a token spares its warm checks the hash and the lookups; the
// answers stay those of the caches.
package revocation
