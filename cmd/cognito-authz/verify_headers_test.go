package main

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVerifyPrintsHeaders: verify prints the request headers the token would produce under the
// configuration's identity_headers, chosen claims included, and a claim over the cap is its reason.
func TestVerifyPrintsHeaders(t *testing.T) {
	pool := newTestIssuer(t, poolOptions{})
	config := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(config, []byte(strings.Join([]string{
		"identity_headers:",
		"  claims:",
		`    - {claim: "custom:tenant_id", header: tenant-id}`,
		"    - {claim: entitlements, header: entitlements}",
		"    - {claim: absent, header: absent}",
		"  max_claim_bytes: 64",
	}, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	spec := aliceAccess()
	spec.Set = map[string]any{"custom:tenant_id": "acme", "entitlements": []string{"read", "write all"}}
	r := runCLI(t, "", append(append([]string{"verify", "--config", config}, issuerFlags(pool)...), pool.MustMint(t, spec))...)
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	var out struct {
		Headers map[string]string `json:"headers"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"x-user-sub": sub("alice"), "x-user-name": "alice", "x-user-groups": "admin", "x-user-scopes": "openid profile",
		"x-user-client-id": testClientID, "x-user-token-use": "access", "x-auth-status": "authenticated",
		"x-user-tenant-id": "acme", "x-user-entitlements": "read,write%20all",
	}
	if !maps.Equal(out.Headers, want) {
		t.Errorf("headers %v\nwant    %v", out.Headers, want)
	}

	spec.Set = map[string]any{"custom:tenant_id": strings.Repeat("t", 65)}
	r = runCLI(t, "", append(append([]string{"verify", "--config", config}, issuerFlags(pool)...), pool.MustMint(t, spec))...)
	if r.code != 1 || !strings.Contains(r.stdout, `"reason":"claim_too_large"`) || strings.Contains(r.stdout, `"headers"`) {
		t.Fatalf("over the cap: exit %d, %s", r.code, r.stdout)
	}
}

// TestCheckConfigPrintsClaimHeaders: check-config prints the chosen claims and their cap.
func TestCheckConfigPrintsClaimHeaders(t *testing.T) {
	config := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(config, []byte("issuers:\n  - user_pool_id: us-east-1_AbCdEf123\n    client_ids: [abc123]\n"+
		"identity_headers:\n  claims:\n    - {claim: \"custom:tenant_id\", header: tenant-id}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "", "check-config", "--config", config)
	want := "  claims:\n    - claim: custom:tenant_id\n      header: tenant-id\n  max_claim_bytes: 4096\n"
	if r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Fatalf("exit %d, stdout:\n%s\nwant it to contain:\n%s\nstderr: %s", r.code, r.stdout, want, r.stderr)
	}
}
