package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"sigs.k8s.io/yaml"
)

// testVersion is stamped into the binaries built the way the Dockerfile builds them.
const testVersion = "v0.0.0-deploy-test"

// repoPath joins elem onto the repository root, the parent of this module.
func repoPath(elem ...string) string {
	root, err := filepath.Abs("..")
	if err != nil {
		panic(err)
	}
	return filepath.Join(append([]string{root}, elem...)...)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// dockerfile is the repository's Dockerfile as BuildKit reads it.
type dockerfile struct {
	stages   []instructions.Stage
	metaArgs []instructions.ArgCommand
	// warnings from the parser and BuildKit's parse-time lint rules.
	warnings []string
}

func parseDockerfile() (*dockerfile, error) {
	f, err := os.Open(repoPath("Dockerfile"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("parse Dockerfile: %w", err)
	}
	df := &dockerfile{}
	for _, w := range res.Warnings {
		df.warnings = append(df.warnings, w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, _ []parser.Range) {
		df.warnings = append(df.warnings, rule+": "+msg)
	}})
	df.stages, df.metaArgs, err = instructions.Parse(res.AST, lint)
	if err != nil {
		return nil, fmt.Errorf("Dockerfile instructions: %w", err)
	}
	return df, nil
}

func mustParseDockerfile(t *testing.T) *dockerfile {
	t.Helper()
	df, err := parseDockerfile()
	if err != nil {
		t.Fatal(err)
	}
	return df
}

func (df *dockerfile) stage(name string) (*instructions.Stage, bool) {
	for i := range df.stages {
		if df.stages[i].Name == name {
			return &df.stages[i], true
		}
	}
	return nil, false
}

// goBuildRun returns the shell command line of the stage's RUN that calls `go build`.
func (df *dockerfile) goBuildRun(stageName string) (string, error) {
	st, ok := df.stage(stageName)
	if !ok {
		return "", fmt.Errorf("Dockerfile has no stage %q", stageName)
	}
	var found []string
	for _, c := range st.Commands {
		if run, ok := c.(*instructions.RunCommand); ok {
			line := strings.Join(run.CmdLine, " ")
			if strings.Contains(line, "go build") {
				found = append(found, line)
			}
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("stage %q: want exactly one RUN with go build, found %d", stageName, len(found))
	}
	return found[0], nil
}

var outputFlag = regexp.MustCompile(`(^|\s)-o\s+(\S+)`)

var cdFirst = regexp.MustCompile(`^\s*cd\s+(\S+)\s+&&`)

// built is one binary compiled by a Dockerfile stage's own go build command.
type built struct {
	path string
	skip string
	err  error
}

var (
	buildDirOnce sync.Once
	buildDir     string
	buildDirErr  error

	buildsMu sync.Mutex
	builds   = map[string]*built{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// dockerBuilt runs, on this machine, the go build command of the Dockerfile stage that compiles
// the binary <name> (the very command line, for this machine's platform, with only the output path
// moved), once per test binary, and returns the binary. Until its package has code, it skips.
func dockerBuilt(t *testing.T, stage, name string) string {
	t.Helper()
	buildsMu.Lock()
	b, ok := builds[stage]
	if !ok {
		b = buildFromDockerfile(stage, name)
		builds[stage] = b
	}
	buildsMu.Unlock()
	if b.skip != "" {
		t.Skip(b.skip)
	}
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

func buildFromDockerfile(stage, name string) *built {
	df, err := parseDockerfile()
	if err != nil {
		return &built{err: err}
	}
	cmdline, err := df.goBuildRun(stage)
	if err != nil {
		return &built{err: err}
	}
	// The package is the command's last argument, in the module the command may cd into first
	// (testenv is a module of its own).
	dir := ""
	if m := cdFirst.FindStringSubmatch(cmdline); m != nil {
		dir = m[1]
	}
	fields := strings.Fields(cmdline)
	pkg := filepath.Join(dir, fields[len(fields)-1])
	if !hasGoCode(repoPath(pkg)) {
		return &built{skip: pkg + " has no code yet: nothing to build"}
	}
	outs := outputFlag.FindAllStringSubmatch(cmdline, -1)
	if len(outs) != 1 {
		return &built{err: fmt.Errorf("stage %q: want one -o in %q", stage, cmdline)}
	}
	buildDirOnce.Do(func() { buildDir, buildDirErr = os.MkdirTemp("", "deploy-test-bin-") })
	if buildDirErr != nil {
		return &built{err: buildDirErr}
	}
	out := filepath.Join(buildDir, filepath.Base(outs[0][2]))
	cmdline = strings.Replace(cmdline, outs[0][0], outs[0][1]+"-o "+out, 1)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", cmdline)
	cmd.Dir = repoPath()
	cmd.Env = append(os.Environ(),
		"TARGETOS="+runtime.GOOS, "TARGETARCH="+runtime.GOARCH, "VERSION="+testVersion)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return &built{err: fmt.Errorf("the Dockerfile's build of stage %q fails: %s: %v\n%s", stage, cmdline, err, stderr.String())}
	}
	return &built{path: out}
}

func hasGoCode(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".go") && !strings.HasSuffix(e.Name(), "_test.go") {
			return true
		}
	}
	return false
}

// checkConfig runs `cognito-authz check-config --config path`: the service's own validation.
func checkConfig(t *testing.T, bin, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "check-config", "--config", path).CombinedOutput()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Errorf("check-config %s: exit %d\n%s", path, exit.ExitCode(), out)
			return
		}
		t.Fatalf("check-config %s: %v", path, err)
	}
}

// writeTemp writes data to a fresh file named name and returns its path.
func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// serviceConfig is the part of a cognito-authz configuration file
// (docs/reference.md#configuration-file) the manifests around it must agree with.
type serviceConfig struct {
	Listen      string `json:"listen"`
	AdminListen string `json:"admin_listen"`
	HTTPListen  string `json:"http_listen"`
	Issuers     []struct {
		UserPoolID string   `json:"user_pool_id"`
		Issuer     string   `json:"issuer"`
		JWKSURL    string   `json:"jwks_url"`
		ClientIDs  []string `json:"client_ids"`
		TokenUse   string   `json:"token_use"`
	} `json:"issuers"`
	Policy struct {
		Default      string       `json:"default"`
		InvalidToken string       `json:"invalid_token"`
		Rules        []policyRule `json:"rules"`
	} `json:"policy"`
}

type policyRule struct {
	PathPrefix string   `json:"path_prefix"`
	Methods    []string `json:"methods"`
	Auth       string   `json:"auth"`
	GroupsAny  []string `json:"groups_any"`
	ScopesAll  []string `json:"scopes_all"`
}

// parseServiceConfig reads the fields of serviceConfig, ignoring the others: the service's own
// strict validation is check-config's job.
func parseServiceConfig(t *testing.T, data []byte) serviceConfig {
	t.Helper()
	var c serviceConfig
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("cognito-authz config: %v", err)
	}
	return c
}

// portOf returns the port of a listen address such as ":9001" or "0.0.0.0:9001".
func portOf(t *testing.T, addr string) string {
	t.Helper()
	i := strings.LastIndex(addr, ":")
	if i < 0 || i == len(addr)-1 {
		t.Fatalf("listen address %q has no port", addr)
	}
	return addr[i+1:]
}
