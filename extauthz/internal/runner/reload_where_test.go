package runner

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cognito-authz/cognito-authz/internal/testkit"
)

// TestReloadRulesWhere: the rule keys for hosts, clients and token kind apply on reload, and a
// broken one is refused, named, while the last good configuration keeps answering.
func TestReloadRulesWhere(t *testing.T) {
	e := newReloadEnv(t)
	if got := outcomeOf(e.conn, e.token); got != "authenticated" {
		t.Fatalf("before: %s", got)
	}
	// The token's own client is clientID: a rule for another client forbids it.
	configFile(t, e.path, []*jwksServer{e.jwks}, "    - {path_prefix: /api/items, clients_any: [another-client]}\n")
	testkit.Eventually(t, "clients_any applied", func() bool { return outcomeOf(e.conn, e.token) == "Forbidden" })
	// The same rule for a host the request does not name (no host: every host's rules) still applies.
	configFile(t, e.path, []*jwksServer{e.jwks}, "    - {path_prefix: /api/items, hosts: [admin.example.com], token_use: id}\n")
	testkit.Eventually(t, "hosts and token_use applied", func() bool { return outcomeOf(e.conn, e.token) == "Unauthorized" })

	for _, broken := range []struct{ name, rules, key string }{
		{"a host with a port", "    - {path_prefix: /api/items, hosts: [\"a.example.com:443\"]}\n", "policy.rules[0].hosts[0]"},
		{"an unknown token_use", "    - {path_prefix: /api/items, token_use: refresh}\n", "policy.rules[0].token_use"},
		{"redirect without login_url", "    - {path_prefix: /api/items, unauthenticated: redirect}\n", "policy.login_url"},
	} {
		errorsBefore := reloads(t, e.r, "error")
		configFile(t, e.path, []*jwksServer{e.jwks}, broken.rules)
		testkit.Eventually(t, broken.name+" refused", func() bool { return reloads(t, e.r, "error") > errorsBefore })
		if got := outcomeOf(e.conn, e.token); got != "Unauthorized" {
			t.Errorf("%s: the last good rules should still answer, got %s", broken.name, got)
		}
		refused := e.logs.FilterMessageSnippet("reload refused").All()
		if len(refused) == 0 || !strings.Contains(fmt.Sprint(refused[len(refused)-1].ContextMap()), broken.key) {
			t.Errorf("%s: no refusal log naming %s", broken.name, broken.key)
		}
	}
}
