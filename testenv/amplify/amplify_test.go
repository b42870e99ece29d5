package amplify_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/testenv/backend"
	"github.com/cognito-authz/cognito-authz/testenv/e2e"
	"github.com/cognito-authz/cognito-authz/testenv/envoyproc"
	"github.com/cognito-authz/cognito-authz/testenv/npmcache"
)

// amplifyFiles are installed together; the cache key changes with any of them.
var amplifyFiles = []string{"package.json", "package-lock.json", "signin.mjs"}

// amplifySpec is `npm ci` of the pinned aws-amplify, with the sign-in script beside it.
func amplifySpec(t *testing.T) npmcache.Spec {
	t.Helper()
	files := map[string][]byte{}
	sum := sha256.New()
	for _, name := range amplifyFiles {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = b
		sum.Write([]byte(name + "\x00"))
		sum.Write(b)
	}
	return npmcache.Spec{
		Key:   "aws-amplify-" + hex.EncodeToString(sum.Sum(nil))[:16],
		Files: files,
		Args:  []string{"ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund"},
		Want:  "node_modules/aws-amplify/package.json",
	}
}

// signInResult is what signin.mjs prints.
type signInResult struct {
	IsSignedIn bool              `json:"isSignedIn"`
	NextStep   string            `json:"nextStep"`
	Stored     map[string]string `json:"stored"`
}

func TestAmplifySessionCookiesAuthenticateThroughEnvoy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Node, cognito-local and a real Envoy: not with -short")
	}
	envoyproc.RequireEnvoy(t) // before a possibly long npm install
	dir := npmcache.EnsureTest(t, amplifySpec(t))
	s := e2e.StartTest(t, e2e.Options{IdP: e2e.IdPCognitoLocal, AuthzTimeout: "5s"})
	info, user := s.Info(), s.CognitoLocal.Pool.User

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(dir, "signin.mjs"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"AMPLIFY_ENDPOINT="+info.IdPEndpoint, // through Envoy, as a page on the stack would
		"AMPLIFY_POOL_ID="+info.UserPoolID,
		"AMPLIFY_CLIENT_ID="+info.ClientID,
		"AMPLIFY_USERNAME="+user.Username,
		"AMPLIFY_PASSWORD="+user.Password,
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node signin.mjs: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	var got signInResult
	if err := json.Unmarshal(lastLine(out), &got); err != nil {
		t.Fatalf("signin.mjs printed %q: %v", out, err)
	}
	if !got.IsSignedIn || got.NextStep != "DONE" {
		t.Fatalf("Amplify did not finish signing in: %+v", got)
	}

	// The names cognito-authz looks for (docs/reference.md, amplify_cookies), as Amplify wrote them.
	prefix := "CognitoIdentityServiceProvider." + info.ClientID + "."
	for _, name := range []string{prefix + "LastAuthUser", prefix + user.Username + ".accessToken", prefix + user.Username + ".idToken"} {
		if got.Stored[name] == "" {
			t.Errorf("Amplify stored no %s; it stored %v", name, slices.Sorted(maps.Keys(got.Stored)))
		}
	}

	// Every stored key as the cookie CookieStorage would have set.
	var cookies []string
	for name, value := range got.Stored {
		cookies = append(cookies, name+"="+value)
	}
	a, err := s.Get(t.Context(), backend.HomePath, http.Header{"Cookie": {strings.Join(cookies, "; ")}})
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != http.StatusOK || a.App == nil {
		t.Fatalf("want the app's 200, got %s", a)
	}
	if st := a.Received("x-auth-status"); len(st) != 1 || st[0] != "authenticated" {
		t.Fatalf("the app saw x-auth-status %q with Amplify's cookies, want authenticated (reason %q)", st, a.Received("x-auth-reason"))
	}
	if sub := a.Received("x-user-sub"); len(sub) != 1 || sub[0] != user.Sub {
		t.Errorf("the app saw x-user-sub %q, want %s's %s", sub, user.Username, user.Sub)
	}
	if tu := a.Received("x-user-token-use"); len(tu) != 1 || tu[0] != "access" {
		t.Errorf("the app saw x-user-token-use %q, want access (the accessToken cookie)", tu)
	}
}

// lastLine is the last non-empty line of out: Amplify logs warnings to stdout before it.
func lastLine(out []byte) []byte {
	var last []byte
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			last = append(last[:0], line...)
		}
	}
	return last
}
