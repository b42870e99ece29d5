// Package testkit is the one home of the fixtures tests need to verify tokens: RSA signing keys and
// their JWKs, signed tokens, a JWKS endpoint a test can change, take down or hold back, and waiting
// on a condition with a deadline. The product's tests use it, and so does testenv/issuer (the local
// Cognito stand-in), which builds its keys on it.
//
// Only tests and testenv import it: no package of the product does (TestOnlyTestsImportTestkit).
package testkit
