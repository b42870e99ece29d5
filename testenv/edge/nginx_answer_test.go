package edge_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/cognito-authz/cognito-authz/extauthz"
	"github.com/cognito-authz/cognito-authz/testenv/backend"
	"github.com/cognito-authz/cognito-authz/testenv/edge"
	"github.com/cognito-authz/cognito-authz/testenv/envoyconf"
	"github.com/cognito-authz/cognito-authz/testenv/issuer"
)

// largestAnswerToken mints a token of exactly max_token_bytes whose answer is as large as
// cognito-authz makes one: its groups are 128-byte names (Cognito's longest) made of ',' and '%',
// each of which the x-user-groups header percent-encodes into three bytes. It returns the token
// and the x-user-groups value the app must see.
func largestAnswerToken(t *testing.T, is *issuer.Issuer, maxTokenBytes int) (token, groupsHeader string) {
	t.Helper()
	user, err := is.SetGroups("max-groups")
	if err != nil {
		t.Fatal(err)
	}
	// Group i: 128 bytes of ',' and '%' spelling i in binary, so that every name differs.
	name := func(i, length int) string {
		b := []byte(strings.Repeat(",", length))
		for bit := 0; bit < length && i>>bit > 0; bit++ {
			if i>>bit&1 == 1 {
				b[bit] = '%'
			}
		}
		return string(b)
	}
	mint := func(groups []string) string {
		return is.MustMint(t, issuer.TokenSpec{Username: user.Username, Groups: groups})
	}
	var groups []string
	for len(mint(append(groups, name(len(groups), 128)))) <= maxTokenBytes {
		groups = append(groups, name(len(groups), 128))
	}
	// The last group fills what is left, to the byte if base64 allows.
	for length := 128; length > 0; length-- {
		if last := append(slices.Clone(groups), name(len(groups), length)); len(mint(last)) <= maxTokenBytes {
			groups = last
			break
		}
	}
	token = mint(groups)
	encoded := make([]string, len(groups))
	for i, g := range groups {
		encoded[i] = strings.NewReplacer(",", "%2C", "%", "%25").Replace(g)
	}
	return token, strings.Join(encoded, ",")
}

// TestNginxPassesTheLargestAnswer: the largest answer cognito-authz can give (a token of
// max_token_bytes, its groups percent-encoded, the claims header on) fits nginx's buffers for it,
// and the request reaches the app with every group; nginx's default 4 KB answered 500.
func TestNginxPassesTheLargestAnswer(t *testing.T) {
	edge.NginxTool.Require(t)
	w := startWorld(t, func(cfg *extauthz.Config) { cfg.IdentityHeaders.ClaimsHeader = envoyconf.ClaimsHeader })
	n := edge.StartNginxTest(t, w.params(t))
	token, groups := largestAnswerToken(t, w.issuer, extauthz.DefaultMaxTokenBytes)

	// The answer's size, straight from cognito-authz's HTTP endpoint, asked as a proxy asks it.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+w.authz.HTTPAddr().String()+"/auth", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Forwarded-Uri", backend.HomePath)
	req.Header.Set("X-Forwarded-Method", http.MethodGet)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-User-Groups"); got != groups {
		t.Fatalf("cognito-authz answered %d with x-user-groups of %d bytes, want the token's %d", resp.StatusCode, len(got), len(groups))
	}
	answerBytes := 0
	for name, values := range resp.Header {
		for _, v := range values {
			answerBytes += len(name) + len(": \r\n") + len(v)
		}
	}
	bound := edge.MaxAuthAnswerBytes(extauthz.DefaultMaxTokenBytes)
	t.Logf("token %d bytes, x-user-groups %d bytes, answer headers %d bytes, bound %d", len(token), len(groups), answerBytes, bound)
	if answerBytes > bound {
		t.Errorf("the answer's headers are %d bytes, over the bound of %d the nginx buffers are sized for", answerBytes, bound)
	}
	if answerBytes <= 32<<10 {
		t.Errorf("the answer's headers are only %d bytes: not the largest answer", answerBytes)
	}

	a := get(t, n.URL(), backend.HomePath, bearer(token))
	if a.status != http.StatusOK || a.app == nil {
		t.Fatalf("through nginx: status %d, reached the app: %v; nginx's log:\n%s", a.status, a.app != nil, n.Log())
	}
	if got := a.app.Headers["x-user-groups"]; !slices.Equal(got, []string{groups}) {
		t.Errorf("the app saw x-user-groups of %s, want the token's %d bytes", describeValues(got), len(groups))
	}
	if got := a.app.Headers["x-auth-status"]; !slices.Equal(got, []string{"authenticated"}) {
		t.Errorf("the app saw x-auth-status %q, want authenticated", got)
	}
	if got := a.app.Headers[envoyconf.ClaimsHeader]; len(got) != 1 || got[0] != strings.Split(token, ".")[1] {
		t.Errorf("the app saw %s %s, want the token's payload", envoyconf.ClaimsHeader, describeValues(got))
	}
}

func describeValues(vs []string) string {
	lens := make([]string, len(vs))
	for i, v := range vs {
		lens[i] = fmt.Sprintf("%d bytes", len(v))
	}
	return fmt.Sprintf("%d values %v", len(vs), lens)
}
