package authz_test

import (
	"context"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/authz"
)

// TestAnswerKeptWithTheToken: a repeated token gets the very answer built for it the first time
// (kept in the verifier's cache entry), a different token with equal claims its own, and two
// Servers sharing one verifier each answer with their own identity headers.
func TestAnswerKeptWithTheToken(t *testing.T) {
	env := newIssuerEnv(t)
	newServer := func(prefix string) *authz.Server {
		s, err := authz.New(authz.Options{Verifier: env.verifier, Policy: testPolicy, TokenSources: testSources,
			Headers: authz.HeaderConfig{Prefix: prefix}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	plain, custom := newServer(""), newServer("x-id-")
	claims := env.accessClaims("alice", []string{"users"}, "openid")
	alice, twin := sign(t, claims), sign(t, with(claims, "jti", "another"))
	check := func(s *authz.Server, token string) *authz.Answer {
		t.Helper()
		a, err := s.CheckAnswer(context.Background(), request("GET", "/api/me", bearer(token), nil))
		if err != nil || read(t, a.Response()).set["x-auth-status"] != "authenticated" {
			t.Fatalf("not authenticated: %v", err)
		}
		return a
	}
	first := check(plain, alice)
	if check(plain, alice) != first {
		t.Error("a repeated token's answer was built again")
	}
	if check(plain, twin) == first {
		t.Error("another token with equal claims got the same answer")
	}
	// Once encoded, the answer lets go of its response and builds an equal one when asked.
	resp := first.Response()
	authz.SetEncoded(first, []byte("encoded"))
	if again := first.Response(); again == resp || !proto.Equal(again, resp) {
		t.Errorf("the response after encoding: %v (same pointer %v), want an equal one built again", again, again == resp)
	}
	if string(authz.Encoded(check(plain, alice)).Materialize()) != "encoded" {
		t.Error("the encoding is not kept with the token")
	}
	other := check(custom, alice)
	if other == first || read(t, other.Response()).set["x-id-sub"] != "alice" {
		t.Errorf("a second Server on the same verifier answered with the first's headers: %v", read(t, other.Response()).set)
	}
}
