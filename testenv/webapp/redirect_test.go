package webapp_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/cognito-authz/cognito-authz/internal/poll"
	"github.com/cognito-authz/cognito-authz/testenv/browser"
	"github.com/cognito-authz/cognito-authz/testenv/webapp"
)

// TestSignInRedirectInChromium: signed out, opening the admin page at its own URL leads to the
// sign-in page (cognito-authz's 302), and signing in as the admin (SMS code from the outbox) leads
// back to the admin page; the same URL fetched by fetch() asking for JSON gets 401. A return path
// that points off-site is never followed.
func TestSignInRedirectInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a real Chromium through the whole stack: not with -short")
	}
	bin := browser.Require(t)
	d := startDemo(t)
	p := &page{t: t, ctx: browser.Start(t, bin, journeyTimeout), d: d}
	console := browser.RecordConsole(p.ctx)
	defer noConsoleProblems(t, console)

	// An API call keeps its 401.
	p.navigate(d.AppURL + "/")
	if got := p.fetchStatus(webapp.AdminPagePath, "application/json"); got != "401" {
		t.Fatalf("fetch(%s) asking for JSON, signed out: %s, want 401", webapp.AdminPagePath, got)
	}

	// The sign-in page keeps only a same-site return path, however it is spelled.
	for _, bad := range []string{"//evil.example", "/\\evil.example", "/%2F%2Fevil.example", "/%2fevil.example",
		"/%5Cevil.example", "https://evil.example/", "/admin%0d%0aX:1", "%2F%2Fevil.example"} {
		p.navigate(d.AppURL + webapp.SignInPagePath + "?return_to=" + url.QueryEscape(webapp.AdminPagePath))
		if got := p.returnPath(); got != webapp.AdminPagePath {
			t.Fatalf("return path after /signin?return_to=/admin: %q", got)
		}
		p.navigate(d.AppURL + webapp.SignInPagePath + "?return_to=" + url.QueryEscape(bad))
		if got := p.returnPath(); got != "" {
			t.Errorf("return_to=%q is kept as %q, want it dropped", bad, got)
		}
	}

	// Signing in from an off-site return path lands on the feed, on this site.
	p.navigate(d.AppURL + webapp.SignInPagePath + "?return_to=" + url.QueryEscape("//evil.example/x"))
	p.waitView("signin")
	p.signInWithSMS(d.Admin)
	p.wantSignedIn(d.Admin.Username)
	if loc := p.location(); !strings.HasPrefix(loc, d.AppURL+"/") {
		t.Fatalf("after signing in with an off-site return path the page is %s", loc)
	}
	p.signOut()

	// Signed out, open the admin page: the sign-in page, carrying the way back.
	p.navigate(d.AppURL + webapp.AdminPagePath)
	p.waitView("signin")
	wantAt := d.AppURL + webapp.SignInPagePath + "?return_to=" + url.QueryEscape(webapp.AdminPagePath)
	if loc := p.location(); loc != wantAt {
		t.Fatalf("opening %s signed out led to %s, want %s", webapp.AdminPagePath, loc, wantAt)
	}
	p.shot("redirect-01-signin")
	// Sign in as the admin: back on the admin page, allowed.
	p.signInWithSMS(d.Admin)
	p.arriveAt(d.AppURL + webapp.AdminPagePath)
	if a := p.admin(); a.Result != "allowed" || a.HTTPStatus != "200" {
		t.Fatalf("back on the admin page: %+v", a)
	}
	if loc := p.location(); loc != d.AppURL+webapp.AdminPagePath {
		t.Fatalf("after signing in the page is %s, want %s", loc, d.AppURL+webapp.AdminPagePath)
	}
	p.shot("redirect-02-admin")
}

// arriveAt waits until the tab has navigated to url and the page there has started.
func (p *page) arriveAt(url string) {
	p.t.Helper()
	if err := poll.Until(p.ctx, pageTimeout, func() bool { return p.location() == url }); err != nil {
		p.t.Fatalf("waiting to arrive at %s: %v (page %s)", url, err, p.location())
	}
	p.until(`document.body.dataset.ready === 'true'`, "the page to start")
}

// fetchStatus fetches path from the page with the given Accept and no redirect following, and
// returns the status ("0" for an opaque redirect).
func (p *page) fetchStatus(path, accept string) string {
	p.t.Helper()
	p.eval(fmt.Sprintf(`window.__fetchStatus = ''; fetch(%q, {headers: {Accept: %q}, redirect: 'manual'}).then((r) => { window.__fetchStatus = String(r.status); }, (e) => { window.__fetchStatus = 'error ' + e; }); ''`, path, accept))
	p.until(`window.__fetchStatus !== ''`, "fetch "+path)
	return p.eval(`window.__fetchStatus`)
}

// returnPath is the return path the page keeps for the next sign-in.
func (p *page) returnPath() string {
	p.t.Helper()
	return p.eval(`sessionStorage.getItem('cognito-authz-demo.return-to') || ''`)
}

// signInWithSMS signs u in on the sign-in page, with the SMS code from the outbox. It does not
// wait for the answer to the code: a sign-in with a return path leaves the page.
func (p *page) signInWithSMS(u seededUser) {
	p.t.Helper()
	p.fill("signin-form", map[string]string{"username": u.Username, "password": u.Password})
	before := p.codes(u.Username, "sms_mfa")
	p.submit("signin-form")
	p.waitView("mfa")
	p.fill("mfa-form", map[string]string{"code": p.code(u.Username, "sms_mfa", before)})
	p.click("#mfa-form button[type=submit]")
}
