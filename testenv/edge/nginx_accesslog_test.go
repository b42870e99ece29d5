package edge_test

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/cognito-authz/cognito-authz/testenv/edge"
)

// TestNginxAccessLogHasNoQueryString: a token a client puts in the query string (?access_token=)
// lands in no nginx log through deploy/forwardauth/nginx.conf; its access log names the request
// by its path alone (as envoyconf's TestAccessLogHasNoQueryString does for Envoy).
func TestNginxAccessLogHasNoQueryString(t *testing.T) {
	edge.NginxTool.Require(t)
	const secret = "SECRET-in-the-query-7f3c"
	w := startWorld(t)
	n := edge.StartNginxTest(t, w.params(t))
	paths := []string{"/healthz", "/api/admin/users"}
	for _, path := range paths {
		resp, err := http.Get(n.URL() + path + "?access_token=" + secret + "&page=2")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if err := n.Stop(); err != nil { // nginx writes each line at once; stopping settles it all the same
		t.Fatal(err)
	}
	b, err := os.ReadFile(n.AccessLogPath())
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	if strings.Contains(log, secret) || strings.Contains(n.Log(), secret) {
		t.Errorf("nginx's logs hold the query's token:\n%s\n%s", log, n.Log())
	}
	for _, path := range paths {
		if !strings.Contains(log, "\"GET "+path+" HTTP/1.1\"") {
			t.Errorf("no access log line names GET %s, its path alone:\n%s", path, log)
		}
	}
}
