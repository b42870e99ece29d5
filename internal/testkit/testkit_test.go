package testkit_test

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/cognito-authz/cognito-authz/internal/testkit"
)

const kitPath = "github.com/cognito-authz/cognito-authz/internal/testkit"

// TestOnlyTestsImportTestkit keeps the kit out of the product: no non-test package of the module
// imports it, or the poll loop beneath it.
func TestOnlyTestsImportTestkit(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", "vtprotobuf", "-f", "{{.ImportPath}} {{join .Imports \" \"}}",
		"github.com/cognito-authz/cognito-authz/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, " ")
		if pkg == kitPath {
			continue
		}
		for _, imp := range strings.Fields(imports) {
			if imp == kitPath || imp == "github.com/cognito-authz/cognito-authz/internal/poll" {
				t.Errorf("%s imports %s: only tests may", pkg, imp)
			}
		}
	}
}

func TestSignVerifiesWithThePublishedKey(t *testing.T) {
	k := testkit.SharedKey("kid-1")
	if testkit.SharedKey("kid-1") != k || testkit.SharedKey("kid-2") == k {
		t.Fatal("SharedKey does not give one key per name")
	}
	token := k.Sign(t, map[string]any{"sub": "alice"})
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", token)
	}
	var header map[string]string
	raw, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if err := json.Unmarshal(raw, &header); err != nil || header["kid"] != "kid-1" || header["alg"] != "RS256" {
		t.Fatalf("header %s (%v)", raw, err)
	}

	srv := testkit.NewKeysServer(t, k)
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var set testkit.JWKS
	if err := json.Unmarshal(body, &set); err != nil || len(set.Keys) != 1 || set.Keys[0].Kid != "kid-1" {
		t.Fatalf("JWKS %s (%v)", body, err)
	}
	n, _ := base64.RawURLEncoding.DecodeString(set.Keys[0].N)
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: k.Private.E}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		t.Errorf("signature does not verify with the served key: %v", err)
	}
}

func TestJWKSServerFailsHoldsAndCounts(t *testing.T) {
	srv := testkit.NewJWKSServer(t, testkit.JWKSBody())
	get := func() int {
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	srv.Fail(http.StatusServiceUnavailable)
	if got := get(); got != http.StatusServiceUnavailable {
		t.Errorf("down: status %d", got)
	}
	srv.Serve(testkit.JWKSBody())
	release := srv.Hold()
	t.Cleanup(release)
	done := make(chan int)
	go func() { done <- get() }()
	testkit.Eventually(t, "the held request", func() bool { return srv.Hits.Load() == 2 })
	select {
	case <-done:
		t.Fatal("a held request was answered")
	default:
	}
	release()
	if got := <-done; got != http.StatusOK {
		t.Errorf("released: status %d", got)
	}
}
