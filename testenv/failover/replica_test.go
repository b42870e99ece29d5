package failover

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"gopkg.in/yaml.v3"

	"github.com/cognito-authz/cognito-authz/testenv/childproc"
)

// binDir holds the cognito-authz binary built once for every test of the package.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "failover-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var build struct {
	once sync.Once
	path string
	err  error
}

// serviceBinary builds ./cmd/cognito-authz once: a replica must be a process of its own, so one
// can be killed the way a crashed pod is.
func serviceBinary(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		goBin, err := exec.LookPath("go") // go test puts its own GOROOT/bin first on PATH
		if err != nil {
			build.err = err
			return
		}
		build.path = filepath.Join(binDir, "cognito-authz")
		out, err := exec.Command(goBin, "build", "-o", build.path, "github.com/cognito-authz/cognito-authz/cmd/cognito-authz").CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build ./cmd/cognito-authz: %w\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// replicaConfig is the configuration file (docs/reference.md#configuration-file) each replica
// reads: one issuer, loopback listeners on ports the kernel picks (the replica logs which).
type replicaConfig struct {
	Listen      string          `yaml:"listen"`
	AdminListen string          `yaml:"admin_listen"`
	Issuers     []replicaIssuer `yaml:"issuers"`
}

type replicaIssuer struct {
	Issuer    string   `yaml:"issuer"`
	JWKSURL   string   `yaml:"jwks_url"`
	ClientIDs []string `yaml:"client_ids"`
	TokenUse  string   `yaml:"token_use"`
}

// writeReplicaConfig writes the configuration every replica shares: replicas are stateless, so
// they are identical but for the ports they bind.
func writeReplicaConfig(t *testing.T, issuerURL, jwksURL string, clientIDs []string) string {
	t.Helper()
	b, err := yaml.Marshal(replicaConfig{
		Listen:      "127.0.0.1:0",
		AdminListen: "127.0.0.1:0",
		Issuers:     []replicaIssuer{{Issuer: issuerURL, JWKSURL: jwksURL, ClientIDs: clientIDs, TokenUse: "access"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cognito-authz.yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// replica is one running `cognito-authz serve` process.
type replica struct {
	name     string
	proc     *childproc.Proc
	grpcAddr string
}

// startReplica runs the binary with the config, waits until it logs the gRPC address it bound,
// and kills it when the test ends (printing its log when the test failed).
func startReplica(t *testing.T, bin, config, name string) *replica {
	t.Helper()
	r := &replica{name: name}
	var mu sync.Mutex
	cmd := exec.Command(bin, "serve", "--config", config, "--log-level", "info", "--log-format", "json")
	proc, err := childproc.Start(cmd, childproc.Options{
		Name:    name,
		LogPath: filepath.Join(t.TempDir(), name+".log"),
		// Pick the bound address out of the "serving" line.
		OnStderrLine: func(line string) {
			var entry struct {
				Msg  string `json:"msg"`
				GRPC string `json:"grpc"`
			}
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "serving" && entry.GRPC != "" {
				mu.Lock()
				if r.grpcAddr == "" {
					r.grpcAddr = entry.GRPC
				}
				mu.Unlock()
			}
		},
		// The tests end replicas on purpose; whatever is left at the end needs no grace.
		StopSignal: syscall.SIGKILL,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.proc = proc
	childproc.StopAtEnd(t, name, proc, t.Logf)
	err = proc.WaitReady(t.Context(), 30*time.Second, func(context.Context) bool {
		mu.Lock()
		defer mu.Unlock()
		return r.grpcAddr != ""
	})
	if err != nil {
		t.Fatalf("%s logged no gRPC address: %v", name, err) // StopAtEnd prints the log
	}
	return r // grpcAddr is written once, before WaitReady saw it under mu
}

// waitServing polls grpc.health.v1 until the replica reports SERVING (its keys are loaded).
func (r *replica) waitServing(t *testing.T, within time.Duration) {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///"+r.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	var last string
	err = r.proc.WaitReady(t.Context(), within, func(ctx context.Context) bool {
		callCtx, callCancel := context.WithTimeout(ctx, time.Second)
		defer callCancel()
		resp, err := client.Check(callCtx, &healthpb.HealthCheckRequest{})
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return true
		}
		last = fmt.Sprintf("%v %v", resp.GetStatus(), err)
		return false
	})
	if err != nil {
		t.Fatalf("%s not SERVING: %v (last: %s)", r.name, err, last)
	}
}

// logContains reports whether the replica's log has a line containing s.
func (r *replica) logContains(s string) bool {
	b, err := os.ReadFile(r.proc.LogPath())
	return err == nil && bytes.Contains(b, []byte(s))
}
