// Package npmcache installs pinned npm packages once into the user's cache directory, for the
// tests and the demo that run Node programs (cognito-local, aws-amplify): the first run fetches
// from the npm registry, later runs reuse the directory.
package npmcache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/testenv/childproc"
)

// ErrUnavailable wraps every reason the packages cannot be had on this machine: no Node.js or npm,
// or the registry unreachable. Tests skip on it unless childproc.RequireEnv is 1 (CI).
var ErrUnavailable = errors.New("npm packages unavailable")

// installTimeout bounds one first-run install from the registry.
const installTimeout = 4 * time.Minute

// Spec is one installation.
type Spec struct {
	// Key names the cache directory; it must change whenever what is installed changes, e.g.
	// cognito-local@3.23.3, or a name with a hash of a lock file.
	Key string
	// Files are written into the directory before npm runs, e.g. package.json and
	// package-lock.json for `npm ci`.
	Files map[string][]byte
	// Args are npm's arguments, run in the directory, e.g. ["ci"].
	Args []string
	// Want is a path under the directory that exists once the install is complete.
	Want string
}

// cacheRoot is where the installations are kept.
func cacheRoot() string {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	return filepath.Join(cache, "cognito-authz-e2e")
}

// Ensure returns the directory of spec's installation, installing it first when missing. logf,
// when not nil, is told about a first-run install.
func Ensure(ctx context.Context, spec Spec, logf func(format string, args ...any)) (string, error) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("%w: Node.js and npm are needed (npm not found: %v)", ErrUnavailable, err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		return "", fmt.Errorf("%w: Node.js is needed (node not found: %v)", ErrUnavailable, err)
	}
	parent := cacheRoot()
	dir := filepath.Join(parent, spec.Key)
	if _, err := os.Stat(filepath.Join(dir, spec.Want)); err == nil {
		return dir, nil
	}

	// Install into a fresh directory and rename it into place, so neither an interrupted install
	// nor a concurrent run ever sees half a package.
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(parent, "install-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	for name, content := range spec.Files {
		if err := os.WriteFile(filepath.Join(tmp, name), content, 0o644); err != nil {
			return "", err
		}
	}
	if logf != nil {
		logf("installing %s into %s (first run only)", spec.Key, dir)
	}
	ctx, cancel := context.WithTimeout(ctx, installTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, spec.Args...)
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false", "npm_config_fund=false", "npm_config_audit=false")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%w: npm %v: %v\n%s", ErrUnavailable, spec.Args, err, tail(out, 4096))
	}
	if _, err := os.Stat(filepath.Join(tmp, spec.Want)); err != nil {
		return "", fmt.Errorf("npm %v installed no %s", spec.Args, spec.Want)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, spec.Want)); statErr != nil { // not a concurrent install that won
			return "", fmt.Errorf("install %s: %w", spec.Key, err)
		}
	}
	return dir, nil
}

// EnsureTest is Ensure for a test: it skips the test when the packages are unavailable, or fails
// it when childproc.RequireEnv is 1 (CI), where every test must run.
func EnsureTest(t testing.TB, spec Spec) string {
	t.Helper()
	dir, err := Ensure(t.Context(), spec, t.Logf)
	switch {
	case err == nil:
		return dir
	case errors.Is(err, ErrUnavailable):
		childproc.Unavailable(t, "%v", err)
	default:
		t.Fatal(err)
	}
	return ""
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
