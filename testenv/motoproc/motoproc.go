// Package motoproc runs moto (PyPI moto[server], pinned in .ci/install-deps) for tests: a second
// Cognito emulator nobody here wrote, whose tokens carry the AWS issuer form and whose GetUser
// refuses tokens after GlobalSignOut and AdminUserGlobalSignOut.
package motoproc

import (
	"net/http"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/testenv/childproc"
)

// Region is the region moto's pools are made in.
const Region = "us-east-1"

const startTimeout = 30 * time.Second

// Tool is moto's server; a missing one skips the test, or fails it in CI.
var Tool = childproc.Tool{Name: "moto_server", InstallHint: "pip install moto[server], pinned in .ci/install-deps"}

// StartTest runs moto_server on a free loopback port until the test ends and returns its URL,
// e.g. http://127.0.0.1:40123.
func StartTest(t *testing.T, client *http.Client) string {
	t.Helper()
	bin := Tool.Require(t)
	port, err := childproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	childproc.StartTest(t, cmd, childproc.Options{Name: "moto"}, startTimeout, childproc.HTTPReady(client, url+"/moto-api/config"))
	return url
}
