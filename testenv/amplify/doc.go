// Package amplify holds the test that signs in with real aws-amplify v6 (npm, pinned in
// package.json and package-lock.json beside it) against the local stack's cognito-local, through
// Envoy, and sends the session Amplify stored as the cookies its CookieStorage would write: the
// cookie names cognito-authz reads (amplify_cookies) are checked against the library itself.
package amplify
