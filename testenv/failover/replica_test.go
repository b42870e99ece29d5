package failover

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"gopkg.in/yaml.v3"
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
	cmd      *exec.Cmd
	grpcAddr string
	logPath  string
	exited   chan struct{} // closed once the process has exited and its log is flushed
	waitErr  error         // set before exited is closed
}

// startReplica runs the binary with the config, waits until it logs the gRPC address it bound,
// and kills it when the test ends (printing its log when the test failed).
func startReplica(t *testing.T, bin, config, name string) *replica {
	t.Helper()
	r := &replica{name: name, exited: make(chan struct{}), logPath: filepath.Join(t.TempDir(), name+".log")}
	logFile, err := os.Create(r.logPath)
	if err != nil {
		t.Fatal(err)
	}
	r.cmd = exec.Command(bin, "serve", "--config", config, "--log-level", "info", "--log-format", "json")
	r.cmd.SysProcAttr = replicaProcAttr()
	stderr, err := r.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	r.cmd.Stdout = logFile
	if err := r.cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	addr := make(chan string, 1)
	go func() {
		// Copy the log to the file and pick the bound address out of the "serving" line.
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			logFile.Write(append(line, '\n'))
			var entry struct {
				Msg  string `json:"msg"`
				GRPC string `json:"grpc"`
			}
			if json.Unmarshal(line, &entry) == nil && entry.Msg == "serving" && entry.GRPC != "" {
				select {
				case addr <- entry.GRPC:
				default:
				}
			}
		}
		_, _ = io.Copy(logFile, stderr) // a line too long for the scanner
		r.waitErr = r.cmd.Wait()
		logFile.Close()
		close(r.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-r.exited:
		default:
			_ = r.cmd.Process.Kill()
			<-r.exited
		}
		if t.Failed() {
			b, _ := os.ReadFile(r.logPath)
			t.Logf("--- %s log ---\n%s", name, b)
		}
	})
	select {
	case r.grpcAddr = <-addr:
	case <-r.exited:
		b, _ := os.ReadFile(r.logPath)
		t.Fatalf("%s exited while starting: %v\n%s", name, r.waitErr, b)
	case <-time.After(30 * time.Second):
		t.Fatalf("%s logged no gRPC address within 30s", name)
	}
	return r
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
	ctx, cancel := context.WithTimeout(t.Context(), within)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		callCtx, callCancel := context.WithTimeout(ctx, time.Second)
		resp, err := client.Check(callCtx, &healthpb.HealthCheckRequest{})
		callCancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return
		}
		last = fmt.Sprintf("%v %v", resp.GetStatus(), err)
		select {
		case <-ctx.Done():
			t.Fatalf("%s not SERVING within %v (last: %s)", r.name, within, last)
		case <-r.exited:
			t.Fatalf("%s exited before SERVING: %v", r.name, r.waitErr)
		case <-tick.C:
		}
	}
}

// waitExit waits for the process to end and returns how it ended.
func (r *replica) waitExit(within time.Duration) (exitCode int, err error) {
	select {
	case <-r.exited:
	case <-time.After(within):
		return -1, fmt.Errorf("%s still running after %v", r.name, within)
	}
	var exitErr *exec.ExitError
	switch {
	case r.waitErr == nil:
		return 0, nil
	case errors.As(r.waitErr, &exitErr):
		return exitErr.ExitCode(), nil
	default:
		return -1, r.waitErr
	}
}

// logContains reports whether the replica's log has a line containing s.
func (r *replica) logContains(s string) bool {
	b, err := os.ReadFile(r.logPath)
	return err == nil && bytes.Contains(b, []byte(s))
}
