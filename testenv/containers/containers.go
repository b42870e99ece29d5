// Package containers runs the repository's real Dockerfile and docker-compose.yml under podman and
// podman-compose for the tests, on the stand-in base images of testenv/images: the stack is
// brought up as a user would, waited for through the compose file's own health checks, and taken
// down with a check that nothing it created is left.
//
// Two limits of podman 4.3 shape this (the compose file stays right for Docker, which has
// neither): podman-compose ignores depends_on's condition: service_healthy, and health checks do
// not run by themselves (they need systemd timers), so Up runs each one with `podman healthcheck
// run` until it passes.
package containers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/internal/poll"
	"github.com/cognito-authz/cognito-authz/testenv/childproc"
	"github.com/cognito-authz/cognito-authz/testenv/images"
)

// The tools, found on PATH (pip's scripts directory for podman-compose; .ci/install-deps installs
// them all).
var (
	Podman        = childproc.Tool{Name: "podman", InstallHint: "apt-get install podman runc (or .ci/install-deps)"}
	PodmanCompose = childproc.Tool{Name: "podman-compose", InstallHint: "pip install podman-compose (or .ci/install-deps)"}
)

// Project is the compose project, docker-compose.yml's name.
const Project = "cognito-authz"

// URL is Envoy's listener as docker-compose.yml publishes it.
const URL = "http://127.0.0.1:8000"

// projectLabel marks what podman-compose creates for a project.
const projectLabel = "io.podman.compose.project"

// Timeouts: the first build of both targets on a fresh machine is the long one.
const (
	UpTimeout      = 10 * time.Minute
	HealthyTimeout = 3 * time.Minute
	DownTimeout    = 2 * time.Minute
)

// Stack is the compose stack under podman-compose.
type Stack struct {
	// Root is the repository, where docker-compose.yml is.
	Root    string
	Podman  string
	Compose string
	t       testing.TB
}

// RepoRoot is the repository root, found from the working directory (a package of testenv).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "docker-compose.yml")); err == nil {
			return dir
		}
	}
	t.Fatal("no docker-compose.yml above the working directory")
	return ""
}

// Prepare finds podman and podman-compose and builds the stand-in base images, or skips the test
// when a tool is missing (fails it with childproc.RequireEnv=1). It also takes a lock held until
// the test ends: the stack's name and port are fixed, so one test at a time, in any package.
func Prepare(t testing.TB) *Stack {
	t.Helper()
	s := &Stack{Root: RepoRoot(t), Podman: Podman.Require(t), Compose: PodmanCompose.Require(t), t: t}
	lock(t)
	ctx, cancel := context.WithTimeout(t.Context(), UpTimeout)
	defer cancel()
	if _, err := images.Ensure(ctx, images.Options{Engine: s.Podman, Logf: t.Logf}); err != nil {
		if errors.Is(err, images.ErrUnavailable) {
			childproc.Unavailable(t, "%v", err)
		}
		t.Fatal(err)
	}
	return s
}

// lock holds an exclusive lock on a file in the temporary directory until the test ends.
func lock(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "cognito-authz-compose.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() }) // closing releases the lock
}

// UpTest brings the stack up (`podman-compose up --build -d`), waits until every service's health
// check passes and Envoy answers on URL, and takes it down when the test ends, failing the test if
// anything the project created is left.
func UpTest(t testing.TB) *Stack {
	t.Helper()
	s := Prepare(t)
	s.Up()
	return s
}

// Up is UpTest for a prepared stack.
func (s *Stack) Up() {
	t := s.t
	t.Helper()
	s.Down() // a stack left by an interrupted run
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := s.Run(context.Background(), s.Compose, "logs")
			t.Logf("podman-compose logs:\n%s", tail(out, 64<<10))
		}
		s.Down()
		s.CheckNothingLeft()
	})
	ctx, cancel := context.WithTimeout(t.Context(), UpTimeout)
	defer cancel()
	start := time.Now()
	if out, err := s.Run(ctx, s.Compose, "up", "--build", "-d"); err != nil {
		t.Fatalf("podman-compose up: %v\n%s", err, tail(out, 16<<10))
	}
	t.Logf("podman-compose up --build -d: %s", time.Since(start).Round(time.Second))
	s.WaitHealthy(t.Context())
	t.Logf("every service healthy after %s", time.Since(start).Round(time.Second))
	// What CheckNothingLeft looks for is there to be seen while the stack is up.
	if len(s.Created("containers")) < 3 || len(s.Created("networks")) == 0 {
		t.Fatalf("the project's containers %q and networks %q are not found by label %s", s.Created("containers"), s.Created("networks"), projectLabel)
	}
}

// Containers are the project's containers, running or not, by service.
func (s *Stack) Containers() map[string]string {
	s.t.Helper()
	out, err := s.Run(context.Background(), s.Podman, "ps", "-a", "--filter", "label="+projectLabel+"="+Project,
		"--format", `{{.Names}} {{index .Labels "com.docker.compose.service"}}`)
	if err != nil {
		s.t.Fatalf("podman ps: %v\n%s", err, out)
	}
	byService := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if name, service, ok := strings.Cut(line, " "); ok {
			byService[service] = name
		}
	}
	return byService
}

// WaitHealthy runs each service's health check (the compose file's own) until it passes, services
// in the order they start, then waits for Envoy's listener to answer.
func (s *Stack) WaitHealthy(ctx context.Context) {
	s.t.Helper()
	containers := s.Containers()
	for _, service := range []string{"demo", "authz", "envoy"} {
		name, ok := containers[service]
		if !ok {
			s.t.Fatalf("no container for service %s (have %v)", service, containers)
		}
		var last string
		err := poll.Until(ctx, HealthyTimeout, func() bool {
			out, err := s.Run(ctx, s.Podman, "healthcheck", "run", name)
			last = out
			return err == nil
		})
		if err != nil {
			s.t.Fatalf("%s (%s) not healthy within %s: %v; last answer %q", service, name, HealthyTimeout, err, last)
		}
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	ready := childproc.HTTPReady(client, URL+"/healthz")
	if err := poll.Until(ctx, HealthyTimeout, func() bool { return ready(ctx) }); err != nil {
		s.t.Fatalf("Envoy does not answer %s/healthz: %v", URL, err)
	}
}

// Down runs `podman-compose down`.
func (s *Stack) Down() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), DownTimeout)
	defer cancel()
	if out, err := s.Run(ctx, s.Compose, "down"); err != nil {
		s.t.Errorf("podman-compose down: %v\n%s", err, out)
	}
}

// listings are the podman commands that list what the project created, by kind.
func listings() map[string][]string {
	filter := "label=" + projectLabel + "=" + Project
	return map[string][]string{
		"containers": {"ps", "-a", "--filter", filter, "--format", "{{.Names}}"},
		"networks":   {"network", "ls", "--filter", filter, "--format", "{{.Name}}"},
		"volumes":    {"volume", "ls", "--filter", filter, "--format", "{{.Name}}"},
	}
}

// Created lists what of kind ("containers", "networks", "volumes") the project has now.
func (s *Stack) Created(kind string) []string {
	s.t.Helper()
	args := listings()[kind]
	out, err := s.Run(context.Background(), s.Podman, args...)
	if err != nil {
		s.t.Errorf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.Fields(out)
}

// CheckNothingLeft fails the test if a container, network or volume of the project remains.
func (s *Stack) CheckNothingLeft() {
	s.t.Helper()
	for kind := range listings() {
		if left := s.Created(kind); len(left) > 0 {
			s.t.Errorf("%s left after down: %s", kind, strings.Join(left, ", "))
		}
	}
}

// Run runs a command in the repository root and returns its combined output.
func (s *Stack) Run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = s.Root
	out, err := cmd.CombinedOutput()
	if err != nil {
		err = fmt.Errorf("%s %s: %w", filepath.Base(name), strings.Join(args, " "), err)
	}
	return string(out), err
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
