package runner

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"

	"github.com/cognito-authz/cognito-authz/internal/testkit"
)

// TestReloadClaimHeaders: identity_headers.claims and max_claim_bytes take effect on a reload, over
// gRPC and HTTP, for a token already cached; a broken entry is refused, naming its key, and the
// last good configuration keeps serving.
func TestReloadClaimHeaders(t *testing.T) {
	key := testkit.MustNewKey(t, "k1")
	jwks := newJWKSServer(t, key)
	path := configFile(t, filepath.Join(t.TempDir(), "config.yaml"), []*jwksServer{jwks}, optionalItems)
	r, logs := startReloading(t, path, nil)
	conn := dial(t, r.GRPCAddr(), nil)
	claims := accessClaims(jwks.URL+"/pool", clientID)
	claims["custom:tenant_id"] = "acme"
	token := key.Sign(t, claims)
	withClaims := func(extra string) string {
		return optionalItems + "identity_headers:\n  claims:\n    - {claim: \"custom:tenant_id\", header: tenant-id}\n" + extra
	}

	if got := grpcHeader(t, conn, token, "x-user-tenant-id"); got != "" {
		t.Fatalf("x-user-tenant-id %q before it is configured", got)
	}
	configFile(t, path, []*jwksServer{jwks}, withClaims(""))
	testkit.Eventually(t, "the claim header over gRPC", func() bool { return grpcHeader(t, conn, token, "x-user-tenant-id") == "acme" })
	if got := httpHeader(t, r.HTTPAddr().String(), token, "X-User-Tenant-Id"); got != "acme" {
		t.Errorf("HTTP endpoint: x-user-tenant-id %q, want acme", got)
	}

	configFile(t, path, []*jwksServer{jwks}, withClaims("  max_claim_bytes: 3\n"))
	testkit.Eventually(t, "the smaller cap", func() bool { return grpcHeader(t, conn, token, "x-auth-reason") == "claim_too_large" })

	errorsBefore := reloads(t, r, "error")
	configFile(t, path, []*jwksServer{jwks}, optionalItems+"identity_headers:\n  claims:\n    - {claim: \"custom:tenant_id\", header: Tenant}\n")
	testkit.Eventually(t, "the broken entry refused", func() bool { return reloads(t, r, "error") > errorsBefore })
	refused := logs.FilterMessageSnippet("reload refused").All()
	if len(refused) == 0 || !strings.Contains(fmt.Sprint(refused[len(refused)-1].ContextMap()), "identity_headers.claims[0].header") {
		t.Errorf("no refusal log naming identity_headers.claims[0].header: %v", refused)
	}
	if got := grpcHeader(t, conn, token, "x-auth-reason"); got != "claim_too_large" {
		t.Errorf("after a refused reload: x-auth-reason %q, want the last good configuration's claim_too_large", got)
	}
}

// grpcHeader is the value a Check of token on /api/items sets for name, or "".
func grpcHeader(t *testing.T, conn *grpc.ClientConn, token, name string) string {
	t.Helper()
	resp, err := checkItems(conn, token)
	if err != nil {
		t.Fatal(err)
	}
	return okHeader(resp, name)
}

// httpHeader is the same question to the HTTP endpoint.
func httpHeader(t *testing.T, addr, token, name string) string {
	t.Helper()
	resp, err := httpCheckItems(http.DefaultClient, addr, token)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get(name)
}
