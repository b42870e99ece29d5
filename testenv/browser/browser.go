// Package browser runs the headless Chromium that the web app's tests drive with chromedp: Debian's
// chromium package, never a downloaded browser. It knows nothing of the app; it finds the binary,
// starts it on loopback only, and saves screenshots.
package browser

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cognito-authz/cognito-authz/testenv/childproc"
)

// Environment variables read here.
const (
	// BinaryEnv names the Chromium to run, overriding the search of SearchPath.
	BinaryEnv = "CHROMIUM_BIN"
	// ScreenshotDirEnv, when set, is where Screenshot writes, instead of the test's artifact
	// directory (which `go test -artifacts` keeps and otherwise is removed).
	ScreenshotDirEnv = "COGNITO_AUTHZ_SCREENSHOTS"
	// InstallHint says how to get the browser the tests are written for.
	InstallHint = "apt-get install -y chromium (Debian's package; set " + BinaryEnv + ")"
)

// Tool is Chromium, as the tests find it: $CHROMIUM_BIN when set, else the first of its names on
// PATH.
var Tool = childproc.Tool{Name: "chromium", Aliases: []string{"chromium-browser", "google-chrome"}, Env: BinaryEnv, InstallHint: InstallHint}

// The browser's viewport, which is also the size of every screenshot.
const (
	windowWidth  = 1024
	windowHeight = 720
)

// FindBinary returns the Chromium to run (see Tool).
func FindBinary() (string, error) { return Tool.Find() }

// Require returns the Chromium binary, or skips the test when there is none; with
// COGNITO_AUTHZ_REQUIRE_ENVOY=1 (CI, where every end-to-end tool must be present) it fails instead.
func Require(t testing.TB) string {
	t.Helper()
	return Tool.Require(t)
}

// Start runs headless Chromium bin with a fresh profile and returns a chromedp context for one
// tab, bounded by timeout; the browser is stopped when the test ends.
func Start(t testing.TB, bin string, timeout time.Duration) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests run as root, where Chromium's sandbox cannot start
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.DisableGPU,
		chromedp.WindowSize(windowWidth, windowHeight),
		chromedp.Flag("no-proxy-server", true), // only loopback is reachable
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("password-store", "basic"),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tab, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	// The first action starts the browser, which then lives as long as that action's context:
	// start it on the tab's own context, and bound only what follows.
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	ctx, cancelTimeout := context.WithTimeout(tab, timeout)
	t.Cleanup(cancelTimeout)
	return ctx
}

// ScreenshotDir is where Screenshot writes for t: ScreenshotDirEnv when set, else t.ArtifactDir().
func ScreenshotDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv(ScreenshotDirEnv); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.ArtifactDir()
}

// Screenshot saves the viewport as <dir>/<name>.png and returns the file's path.
func Screenshot(ctx context.Context, t *testing.T, name string) string {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(ScreenshotDir(t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Console collects what a tab reports as going wrong: uncaught exceptions, console.error calls and
// error entries of the browser log (a refused Content-Security-Policy, a blocked request, ...).
// Failed HTTP answers the page expects, such as a 401 or 403 it handles, are left out: Chromium
// logs each as a "network" error.
type Console struct {
	mu       sync.Mutex
	problems []string
}

// RecordConsole starts collecting from the tab in ctx until ctx ends.
func RecordConsole(ctx context.Context) *Console {
	c := &Console{}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == "error" && m.Source != "network" {
				c.mu.Lock()
				c.problems = append(c.problems, m.String())
				c.mu.Unlock()
			}
		}
	}()
	return c
}

// Problems returns what was collected so far.
func (c *Console) Problems() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.problems...)
}
