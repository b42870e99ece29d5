package browser_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cognito-authz/cognito-authz/internal/poll"
	"github.com/cognito-authz/cognito-authz/testenv/browser"
	"github.com/cognito-authz/cognito-authz/testenv/envoyproc"
)

func TestFindBinaryHonoursTheEnvironment(t *testing.T) {
	t.Setenv(browser.BinaryEnv, "/nonexistent/chromium")
	if bin, err := browser.FindBinary(); err == nil {
		t.Fatalf("FindBinary = %q with %s naming no file, want an error", bin, browser.BinaryEnv)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(browser.BinaryEnv, self)
	if bin, err := browser.FindBinary(); err != nil || bin != self {
		t.Fatalf("FindBinary = %q, %v; want %q", bin, err, self)
	}
}

func TestStartRendersAPageAndScreenshotsIt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real Chromium: not with -short")
	}
	bin := browser.Require(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<!doctype html><title>t</title><p id="p">rendered</p><script>document.getElementById('p').dataset.js='ran'</script>`))
	}))
	defer srv.Close()
	t.Setenv(browser.ScreenshotDirEnv, t.TempDir())

	ctx := browser.Start(t, bin, time.Minute)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL), chromedp.WaitVisible(chromedp.CSS(`#p[data-js="ran"]`))); err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#p`)))
	if err != nil {
		t.Fatal(err)
	}
	if text != "rendered" {
		t.Fatalf("text %q", text)
	}
	path := browser.Screenshot(ctx, t, "page")
	b, err := os.ReadFile(path)
	if err != nil || len(b) < 8 || string(b[1:4]) != "PNG" {
		t.Fatalf("screenshot %s is no PNG: %v", path, err)
	}
}

// fakeTB records how Require ends a test instead of ending it.
type fakeTB struct {
	testing.TB
	failed, skipped bool
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Fatalf(string, ...any) { f.failed = true }
func (f *fakeTB) Skipf(string, ...any)  { f.skipped = true }

func TestRequireFailsInCIAndSkipsElsewhere(t *testing.T) {
	t.Setenv(browser.BinaryEnv, "/nonexistent/chromium")
	for _, tc := range []struct {
		require            string
		wantFail, wantSkip bool
	}{
		{"1", true, false},
		{"", false, true},
		{"0", false, true},
	} {
		t.Setenv(envoyproc.RequireEnv, tc.require)
		f := &fakeTB{TB: t}
		if bin := browser.Require(f); bin != "" || f.failed != tc.wantFail || f.skipped != tc.wantSkip {
			t.Errorf("%s=%q: Require = %q, failed %v, skipped %v; want failed %v, skipped %v",
				envoyproc.RequireEnv, tc.require, bin, f.failed, f.skipped, tc.wantFail, tc.wantSkip)
		}
	}
}

func TestConsoleCollectsExceptionsAndErrorsButNotFailedAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real Chromium: not with -short")
	}
	bin := browser.Require(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/denied" {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<!doctype html><title>t</title><script>
			fetch('/denied').then(() => {
				console.error('the page says so');
				setTimeout(() => { document.body.dataset.done = 'yes'; throw new Error('thrown'); });
			});
		</script>`))
	}))
	defer srv.Close()

	ctx := browser.Start(t, bin, time.Minute)
	console := browser.RecordConsole(ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL), chromedp.WaitReady(chromedp.CSS(`body[data-done="yes"]`))); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := poll.Until(ctx, 10*time.Second, func() bool { got = console.Problems(); return len(got) >= 2 }); err != nil {
		t.Fatalf("collected %q, want the console.error and the exception", got)
	}
	joined := strings.Join(got, "\n")
	if len(got) != 2 || !strings.Contains(joined, "the page says so") || !strings.Contains(joined, "thrown") || strings.Contains(joined, "403") {
		t.Fatalf("collected %q, want the console.error and the exception and not the 403", got)
	}
}
