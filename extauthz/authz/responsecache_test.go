package authz

import (
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/cognito-authz/cognito-authz/extauthz/verifier"
)

func TestResponseCacheAnswersForTheSameClaimsOnly(t *testing.T) {
	c := newResponseCache()
	alice, twin := &verifier.Claims{Subject: "alice"}, &verifier.Claims{Subject: "alice"}
	resp := &authv3.CheckResponse{}
	if got := c.get(alice); got != nil {
		t.Fatalf("empty cache answered %v", got)
	}
	c.put(alice, resp)
	if got := c.get(alice); got != resp {
		t.Errorf("get(alice) = %p, want %p", got, resp)
	}
	// Equal claims from another verification are another token: never someone else's answer.
	if got := c.get(twin); got != nil {
		t.Errorf("get(equal claims, other pointer) = %p, want nil", got)
	}
}

// TestResponseCacheKeepsMostOfAThousandClients: the slots are sized so that a thousand active
// clients mostly keep their answers. Over 1024 slots about a third were lost to collisions (642
// of 1000 kept); this fails below 850.
func TestResponseCacheKeepsMostOfAThousandClients(t *testing.T) {
	c := newResponseCache()
	clients := make([]*verifier.Claims, 1000)
	resp := &authv3.CheckResponse{}
	for i := range clients {
		clients[i] = &verifier.Claims{}
		c.put(clients[i], resp)
	}
	kept := 0
	for _, claims := range clients {
		if c.get(claims) != nil {
			kept++
		}
	}
	if kept < 850 {
		t.Errorf("%d of %d clients' answers kept, want at least 850", kept, len(clients))
	}
}
