package deploy

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"debug/buildinfo"
	"debug/elf"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"
)

// serviceStage is the image users run: the Dockerfile's last stage, so a plain `docker build .` makes it.
const serviceStage = "cognito-authz"

func TestDockerfileParsesWithoutWarnings(t *testing.T) {
	df := mustParseDockerfile(t)
	for _, w := range df.warnings {
		t.Errorf("BuildKit warns: %s", w)
	}
}

func TestDockerfileStages(t *testing.T) {
	df := mustParseDockerfile(t)
	var names []string
	for _, st := range df.stages {
		names = append(names, st.Name)
	}
	want := []string{"build", "build-testenv", "testenv", serviceStage}
	if !slices.Equal(names, want) {
		t.Fatalf("stages %q, want %q (the service image last, the default target)", names, want)
	}
	// Each stage builds only from a base image or an earlier stage.
	for i, st := range df.stages {
		if j := slices.Index(names, st.BaseName); j >= i {
			t.Errorf("stage %q builds FROM %q, which is not an earlier stage", st.Name, st.BaseName)
		}
	}
	build, _ := df.stage("build")
	if build.Platform != "$BUILDPLATFORM" {
		t.Errorf("build stage platform %q: want $BUILDPLATFORM, cross-compiling for the target instead of emulating it", build.Platform)
	}
}

func TestDockerfileBaseImagesArePinned(t *testing.T) {
	df := mustParseDockerfile(t)
	mainGo := mainModuleGoVersion(t)
	bookworm := regexp.MustCompile(`^(\d+\.\d+\.\d+)-bookworm$`)
	for _, st := range df.stages {
		if _, isStage := df.stage(st.BaseName); isStage {
			continue
		}
		t.Run(st.Name, func(t *testing.T) {
			if strings.Contains(st.BaseName, "$") {
				t.Fatalf("base %q comes from a build argument: it is not pinned in the file", st.BaseName)
			}
			ref, err := reference.ParseNormalizedNamed(st.BaseName)
			if err != nil {
				t.Fatalf("base %q: %v", st.BaseName, err)
			}
			tagged, ok := ref.(reference.Tagged)
			if !ok {
				t.Fatalf("base %q has no tag", st.BaseName)
			}
			tag := tagged.Tag()
			switch name := reference.FamiliarName(ref); name {
			case "golang":
				m := bookworm.FindStringSubmatch(tag)
				if m == nil {
					t.Fatalf("golang tag %q: want a full patch version on bookworm, like 1.26.8-bookworm", tag)
				}
				if semver.Compare("v"+m[1], "v"+mainGo) < 0 {
					t.Errorf("golang %s is older than the go %s that go.mod requires", m[1], mainGo)
				}
			case "gcr.io/distroless/static-debian12":
				if st.Name != serviceStage || tag != "nonroot" {
					t.Errorf("stage %s on distroless %q, want the service's stage on nonroot", st.Name, tag)
				}
			case "node":
				// The demo image runs cognito-local under Node.js 20 (the line it supports), slim.
				if st.Name != "testenv" || !regexp.MustCompile(`^20\.\d+\.\d+-bookworm-slim$`).MatchString(tag) {
					t.Errorf("stage %s on node %q, want the testenv stage on a pinned 20.x.y-bookworm-slim", st.Name, tag)
				}
			default:
				t.Errorf("base image %q is none this project chose", name)
			}
		})
	}
}

func mainModuleGoVersion(t *testing.T) string {
	t.Helper()
	mf, err := modfile.ParseLax("go.mod", readFile(t, repoPath("go.mod")), nil)
	if err != nil {
		t.Fatal(err)
	}
	if mf.Go == nil {
		t.Fatal("../go.mod has no go directive")
	}
	return mf.Go.Version
}

func TestDockerfileStaticBuildFlags(t *testing.T) {
	df := mustParseDockerfile(t)
	tests := []struct {
		stage string
		want  []string
	}{
		{"build", []string{"CGO_ENABLED=0", "GOOS=$TARGETOS", "GOARCH=$TARGETARCH", "go build", "-trimpath", `-X main.version=${VERSION}`, "./cmd/cognito-authz"}},
		{"build-testenv", []string{"CGO_ENABLED=0", "GOOS=$TARGETOS", "GOARCH=$TARGETARCH", "go build", "-trimpath", "./cmd/testenv"}},
	}
	for _, tt := range tests {
		t.Run(tt.stage, func(t *testing.T) {
			line, err := df.goBuildRun(tt.stage)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(line, w) {
					t.Errorf("go build command lacks %q:\n%s", w, line)
				}
			}
			st, _ := df.stage(tt.stage)
			for _, arg := range []string{"TARGETOS", "TARGETARCH"} {
				if !stageDeclaresArg(st, arg) {
					t.Errorf("stage %q uses $%s without declaring ARG %s", tt.stage, arg, arg)
				}
			}
		})
	}
	build, _ := df.stage("build")
	if !stageDeclaresArg(build, "VERSION") {
		t.Error("stage build stamps ${VERSION} without declaring ARG VERSION")
	}
}

func stageDeclaresArg(st *instructions.Stage, name string) bool {
	for _, c := range st.Commands {
		if a, ok := c.(*instructions.ArgCommand); ok {
			for _, kv := range a.Args {
				if kv.Key == name {
					return true
				}
			}
		}
	}
	return false
}

// The healthcheck command of the service image, from the Dockerfile.
func serviceHealthcheck(t *testing.T, df *dockerfile) []string {
	t.Helper()
	st, ok := df.stage(serviceStage)
	if !ok {
		t.Fatalf("no stage %q", serviceStage)
	}
	for _, c := range st.Commands {
		if hc, ok := c.(*instructions.HealthCheckCommand); ok {
			return hc.Health.Test
		}
	}
	t.Fatal("the service stage has no HEALTHCHECK")
	return nil
}

func TestDockerfileServiceImage(t *testing.T) {
	df := mustParseDockerfile(t)
	st, ok := df.stage(serviceStage)
	if !ok {
		t.Fatalf("no stage %q", serviceStage)
	}
	var (
		user       string
		entrypoint *instructions.EntrypointCommand
		copies     []*instructions.CopyCommand
		exposed    []string
	)
	for _, c := range st.Commands {
		switch c := c.(type) {
		case *instructions.RunCommand:
			t.Errorf("RUN %q in the service stage: the distroless base has no shell to run it", c.CmdLine)
		case *instructions.UserCommand:
			user = c.User
		case *instructions.EntrypointCommand:
			entrypoint = c
		case *instructions.CopyCommand:
			copies = append(copies, c)
		case *instructions.ExposeCommand:
			exposed = append(exposed, c.Ports...)
		}
	}

	uid, gid, found := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %q: want a numeric non-root uid (Kubernetes verifies runAsNonRoot only on numbers)", user)
	}
	if n, err := strconv.Atoi(gid); !found || err != nil || n == 0 {
		t.Errorf("USER %q: want a numeric non-root gid too", user)
	}

	if entrypoint == nil || entrypoint.PrependShell || !slices.Equal(entrypoint.CmdLine, []string{"/cognito-authz"}) {
		t.Errorf("ENTRYPOINT: want exec form [\"/cognito-authz\"], got %+v", entrypoint)
	}
	if len(copies) != 1 || copies[0].From != "build" || !slices.Equal(copies[0].SourcePaths, []string{"/out/cognito-authz"}) || copies[0].DestPath != "/cognito-authz" {
		t.Errorf("want exactly COPY --from=build /out/cognito-authz /cognito-authz, got %d COPY", len(copies))
	}
	for _, p := range []string{"9001", "9090"} {
		if !slices.Contains(exposed, p) {
			t.Errorf("EXPOSE lacks %s (got %q)", p, exposed)
		}
	}

	hc := serviceHealthcheck(t, df)
	want := []string{"CMD", "/cognito-authz", "healthcheck", "--addr", "127.0.0.1:9001"}
	if !slices.Equal(hc, want) {
		t.Errorf("HEALTHCHECK %q, want %q: exec form (no shell in the image), probing the gRPC port", hc, want)
	}
}

func TestDockerfileBuildsStaticStampedBinaries(t *testing.T) {
	tests := []struct {
		stage, name string
		version     bool
	}{
		{"build", "cognito-authz", true},
		{"build-testenv", "testenv", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := dockerBuilt(t, tt.stage, tt.name)
			if runtime.GOOS == "linux" {
				assertStaticELF(t, bin)
			}
			info, err := buildinfo.ReadFile(bin)
			if err != nil {
				t.Fatal(err)
			}
			settings := map[string]string{}
			for _, s := range info.Settings {
				settings[s.Key] = s.Value
			}
			if settings["CGO_ENABLED"] != "0" {
				t.Errorf("CGO_ENABLED=%q, want 0", settings["CGO_ENABLED"])
			}
			if settings["-trimpath"] != "true" {
				t.Errorf("-trimpath=%q, want true", settings["-trimpath"])
			}
			if !tt.version {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, bin, "version").CombinedOutput()
			if err != nil {
				t.Fatalf("version: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), testVersion) {
				t.Errorf("version prints %q: the stamped %q is missing", out, testVersion)
			}
		})
	}
}

func assertStaticELF(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s asks for a dynamic loader: not static, it would not start on distroless static", filepath.Base(path))
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s needs shared libraries %q", filepath.Base(path), libs)
	}
}

// The HEALTHCHECK's very command reports a serving service healthy and a missing one unhealthy,
// and the service stops cleanly on the SIGTERM that `docker stop` sends.
func TestDockerfileHealthcheckProbesTheService(t *testing.T) {
	bin := dockerBuilt(t, "build", "cognito-authz")
	hc := serviceHealthcheck(t, mustParseDockerfile(t))
	addrAt := slices.Index(hc, "--addr") + 1
	if addrAt == 0 || addrAt >= len(hc) {
		t.Fatalf("HEALTHCHECK %q names no --addr", hc)
	}
	probe := func(addr string) (int, string) {
		args := slices.Clone(hc[2:])
		args[addrAt-2] = addr
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		var exit *exec.ExitError
		switch {
		case err == nil:
			return 0, string(out)
		case errors.As(err, &exit):
			return exit.ExitCode(), string(out)
		default:
			t.Fatalf("healthcheck: %v", err)
			return -1, ""
		}
	}

	if code, _ := probe(closedAddr(t)); code == 0 {
		t.Error("healthcheck reports healthy with nothing listening")
	}

	jwks := httptest.NewServer(jwksHandler(t, "/local_pool/.well-known/jwks.json"))
	t.Cleanup(jwks.Close)
	addrs := closedAddrs(t, 2)
	grpcAddr, adminAddr := addrs[0], addrs[1]
	var logs bytes.Buffer
	serve := exec.Command(bin, "serve",
		"--issuer", jwks.URL+"/local_pool", "--client-id", "demo-client", "--token-use", "any",
		"--listen", grpcAddr, "--admin-listen", adminAddr)
	serve.Stdout, serve.Stderr = &logs, &logs
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- serve.Wait() }()
	stopped := false // set once exited has been received from
	t.Cleanup(func() {
		if !stopped {
			_ = serve.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("service log:\n%s", logs.String())
		}
	})

	deadline := time.Now().Add(30 * time.Second)
	for {
		code, out := probe(grpcAddr)
		if code == 0 {
			break
		}
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("service exited before it was healthy: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthcheck still exits %d at the deadline: %s", code, out)
		}
		time.Sleep(100 * time.Millisecond) // poll interval of the wait, not a synchronisation
	}

	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("after SIGTERM the service exits with %v, want 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("the service has not exited 30s after SIGTERM")
	}
}

// closedAddr returns a loopback address on which nothing listens (a free port, for a moment).
func closedAddr(t *testing.T) string {
	t.Helper()
	return closedAddrs(t, 1)[0]
}

// closedAddrs returns n distinct loopback addresses that were free a moment ago: every listener is
// held until all n are chosen, so that two of them can never be the same port.
func closedAddrs(t *testing.T, n int) []string {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		addrs[i] = l.Addr().String()
	}
	return addrs
}

// jwksHandler serves one freshly generated RSA signing key at path.
func jwksHandler(t *testing.T, path string) http.Handler {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	body, err := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": "deploy-test", "use": "sig", "alg": "RS256",
		"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+path, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	return mux
}

// .dockerignore keeps every file go build needs in the context, and keeps out what must not
// reach an image layer.
func TestDockerignore(t *testing.T) {
	f, err := os.Open(repoPath(".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	patterns, err := ignorefile.ReadAll(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	excluded := func(rel string) bool {
		ex, err := pm.MatchesOrParentMatches(filepath.ToSlash(rel))
		if err != nil {
			t.Fatal(err)
		}
		return ex
	}

	for _, rel := range []string{".git", ".git/config", "deploy/go.mod", "Dockerfile"} {
		if !excluded(rel) {
			t.Errorf("%s is sent to the build context", rel)
		}
	}
	for _, rel := range []string{"go.mod", "go.sum"} {
		if excluded(rel) {
			t.Errorf("%s is excluded, but the build copies it", rel)
		}
	}
	// Every file of a package directory may be compiled or embedded (go:embed), except tests.
	var checked int
	err = filepath.WalkDir(repoPath(), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoPath(), path)
		if d.IsDir() && (rel == ".git" || rel == "deploy" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || strings.HasSuffix(rel, "_test.go") || !hasGoCode(filepath.Dir(path)) {
			return nil
		}
		checked++
		if excluded(rel) {
			t.Errorf("%s is excluded from the build context, but go build may need it", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Error("found no package file to check")
	}
}
