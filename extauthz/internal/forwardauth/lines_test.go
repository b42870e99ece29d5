package forwardauth_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/authz"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/forwardauth"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/policy"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/tokensource"
)

// TestLongRequestNotReadFromItsFirstLines: a request of more than authz.MaxHeaderLines lines,
// counted without its Host line (the endpoint sends the host as :authority), is not read at all,
// never read from its first lines: an override header past them would go unjudged.
func TestLongRequestNotReadFromItsFirstLines(t *testing.T) {
	s, err := authz.New(authz.Options{
		Verifier: standInVerifier{},
		Policy: policy.Config{
			Default: policy.AuthOptional, InvalidToken: policy.InvalidTokenAnonymous,
			Rules: []policy.Rule{
				{PathPrefix: "/api/items", Methods: []string{"DELETE"}, Auth: policy.AuthRequired, GroupsAny: []string{"admin"}},
				{PathPrefix: "/api/items", Auth: policy.AuthRequired},
			},
		},
		TokenSources: tokensource.Config{AuthorizationHeader: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := forwardauth.New(s, forwardauth.Options{})
	tests := []struct {
		name       string
		lines      int // besides Host
		wantStatus int
		wantBody   string
	}{
		{"at the cap: read, the override judged", authz.MaxHeaderLines, 403, `{"error":"forbidden","reason":"insufficient_group"}`},
		{"one over the cap: not read", authz.MaxHeaderLines + 1, 401, `{"error":"unauthenticated","reason":"malformed"}`},
		{"far over the cap: not read", authz.MaxHeaderLines + 100, 401, `{"error":"unauthenticated","reason":"malformed"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			headers := [][2]string{{"X-Forwarded-Uri", "/api/items/1"}, {"X-Forwarded-Method", "GET"}, {"Authorization", "Bearer user-token"}}
			for i := len(headers); i < tt.lines-1; i++ {
				headers = append(headers, [2]string{fmt.Sprintf("X-Filler-%d", i), "1"})
			}
			headers = append(headers, [2]string{"X-HTTP-Method-Override", "DELETE"})
			got := serve(t, h, http.MethodGet, "/auth", headers)
			if got.status != tt.wantStatus || got.body != tt.wantBody {
				t.Fatalf("%d %s, want %d %s", got.status, got.body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

// lineChecker asks Check and records a check whose lines are not all its own request's (x-id and
// x-echo agree), before Check and after it.
type lineChecker struct {
	forwardauth.Checker
	mu     sync.Mutex
	mixups []string
}

func (c *lineChecker) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	lines := func() (id, echo string) {
		for _, hv := range req.GetAttributes().GetRequest().GetHttp().GetHeaderMap().GetHeaders() {
			switch hv.Key {
			case "x-id":
				id = hv.Value
			case "x-echo":
				echo = hv.Value
			}
		}
		return id, echo
	}
	id, echo := lines()
	resp, err := c.Checker.Check(ctx, req)
	if after, _ := lines(); echo != "echo-"+id || after != id {
		c.mu.Lock()
		c.mixups = append(c.mixups, fmt.Sprintf("%q %q %q", id, echo, after))
		c.mu.Unlock()
	}
	return resp, err
}

// TestChecksNeverShareARequest: the endpoint reuses a check's request for the next one; checks
// on many connections at once, with line counts on both sides of what a reused request keeps,
// each see only their own lines while Check runs.
func TestChecksNeverShareARequest(t *testing.T) {
	c := &lineChecker{Checker: newService(t)}
	addr := startServer(t, forwardauth.New(c, forwardauth.Options{}))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			br := bufio.NewReader(conn)
			for i := range 300 {
				id := fmt.Sprintf("%d-%d", g, i)
				padding := strings.Repeat(fmt.Sprintf("X-Pad: %d\r\n", i), i%80)
				fmt.Fprintf(conn, "GET /auth HTTP/1.1\r\nHost: h\r\nX-Forwarded-Uri: /x\r\nX-Forwarded-Method: GET\r\nX-Id: %s\r\n%sX-Echo: echo-%s\r\n\r\n", id, padding, id)
				res, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Error(err)
					return
				}
				res.Body.Close()
			}
		})
	}
	wg.Wait()
	if len(c.mixups) > 0 {
		t.Fatalf("%d checks saw another request's lines: %v", len(c.mixups), c.mixups[:min(5, len(c.mixups))])
	}
}
