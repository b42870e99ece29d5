package webapp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cognito-authz/cognito-authz/internal/poll"
	"github.com/cognito-authz/cognito-authz/testenv/backend"
	"github.com/cognito-authz/cognito-authz/testenv/browser"
)

// pageTimeout bounds each wait for the page.
const pageTimeout = 20 * time.Second

// page drives the app in one tab. Every wait is on a condition in the page, with pageTimeout.
type page struct {
	t   *testing.T
	ctx context.Context
	d   demo
}

func (p *page) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, pageTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%v (page %s)", err, p.location())
	}
}

func (p *page) location() string {
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	return loc
}

// eval evaluates a JavaScript expression that yields a string.
func (p *page) eval(expr string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, pageTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// until waits for a JavaScript expression to be truthy.
func (p *page) until(expr, what string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, pageTimeout+time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(pageTimeout), chromedp.WithPollingInterval(20*time.Millisecond))); err != nil {
		status := p.eval(`(document.getElementById('status')||{}).textContent||''`)
		browser.Screenshot(p.ctx, p.t, "failed")
		p.t.Fatalf("waiting for %s: %v (page %s, status %q)", what, err, p.location(), status)
	}
}

// reload loads the page afresh where it is, as a person coming back to the tab does.
func (p *page) reload() {
	p.t.Helper()
	p.do(chromedp.Reload())
	p.until(`document.body.dataset.ready === 'true'`, "the page to start")
}

func (p *page) navigate(url string) {
	p.t.Helper()
	p.do(chromedp.Navigate(url))
	p.until(`document.body.dataset.ready === 'true'`, "the page to start")
}

// visit follows an in-app link, as a click on the navigation does.
func (p *page) visit(hash string) {
	p.t.Helper()
	p.eval(fmt.Sprintf(`location.hash = %q`, hash))
	name := strings.TrimPrefix(strings.SplitN(hash, "?", 2)[0], "#/")
	if name == "" {
		name = "feed"
	}
	p.waitView(name)
}

func (p *page) waitView(name string) {
	p.t.Helper()
	p.until(fmt.Sprintf(`!!document.querySelector('[data-view=%q]')`, name), "the "+name+" page")
}

// fill types values into the named fields of a form, replacing what is there.
func (p *page) fill(form string, values map[string]string) {
	p.t.Helper()
	for name, v := range values {
		css := fmt.Sprintf(`#%s [name=%q]`, form, name)
		p.do(chromedp.WaitVisible(chromedp.CSS(css)))
		p.eval(fmt.Sprintf(`document.querySelector(%q).value = ''`, css))
		p.do(chromedp.SendKeys(chromedp.CSS(css), v))
	}
}

// submit clicks the form's submit button and waits until its request is answered.
func (p *page) submit(form string) {
	p.t.Helper()
	p.clearStatus()
	p.click(fmt.Sprintf(`#%s button[type=submit]`, form))
	p.until(fmt.Sprintf(`!document.querySelector('#%s[aria-busy]') && (!document.getElementById(%q) || !document.getElementById('status').hidden)`, form, form),
		"an answer to "+form)
}

// clearStatus hides the page's message, so that the next one to show is the answer to what the
// test does next.
func (p *page) clearStatus() {
	p.t.Helper()
	p.eval(`(() => { const s = document.getElementById('status'); s.hidden = true; s.textContent = ''; delete s.dataset.kind; delete s.dataset.code; return '' })()`)
}

func (p *page) click(sel string) {
	p.t.Helper()
	p.do(chromedp.Click(chromedp.CSS(sel)))
}

func (p *page) wantStatus(kind, text string) {
	p.t.Helper()
	p.until(fmt.Sprintf(`(() => { const s = document.getElementById('status'); return !s.hidden && s.dataset.kind === %q && s.textContent.includes(%q) })()`, kind, text),
		fmt.Sprintf("a %s message saying %q", kind, text))
}

func (p *page) wantError(code, text string) {
	p.t.Helper()
	p.wantStatus("error", text)
	if got := p.eval(`document.getElementById('status').dataset.code || ''`); got != code {
		p.t.Fatalf("error message for %s, want %s", got, code)
	}
}

func (p *page) wantText(sel, text string) {
	p.t.Helper()
	p.until(fmt.Sprintf(`(document.querySelector(%q)||{}).textContent?.includes(%q)`, sel, text), fmt.Sprintf("%s to say %q", sel, text))
}

// shot checks that the page is usable without seeing it, then saves a screenshot of it.
func (p *page) shot(name string) {
	p.t.Helper()
	if problems := p.eval(unlabelledJS); problems != "" {
		p.t.Errorf("page %s: %s", name, problems)
	}
	p.eval(`document.activeElement && document.activeElement.blur && document.activeElement.blur(), ''`)
	browser.Screenshot(p.ctx, p.t, name)
}

// unlabelledJS lists what a screen reader could not name on the page: a visible form field
// without a label, a button or link without text, a page without one h1, a status region that is
// not announced.
const unlabelledJS = `(() => {
	const problems = [];
	const visible = (el) => el.offsetParent !== null;
	for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
		if (visible(el) && el.labels.length === 0 && !el.closest('label') && !el.getAttribute('aria-label')) {
			problems.push('field ' + (el.name || el.id) + ' has no label');
		}
	}
	for (const el of document.querySelectorAll('button, a[href]')) {
		if (visible(el) && !el.textContent.trim() && !el.getAttribute('aria-label')) {
			problems.push(el.tagName.toLowerCase() + ' without text');
		}
	}
	if (document.querySelectorAll('#view h1').length !== 1) problems.push('not one h1 in the view');
	if (document.getElementById('status').getAttribute('aria-live') !== 'polite') problems.push('status is not a live region');
	return problems.join('; ');
})()`

// feedState is what the feed page shows.
type feedState struct {
	AuthStatus, Sub, Via string // as the backend received them from Envoy
	Items, Private       int
}

func (p *page) feed() feedState {
	p.t.Helper()
	p.until(`!!document.querySelector('[data-view=feed][data-auth-status]')`, "the feed to load")
	raw := p.eval(`JSON.stringify((() => {
		const v = document.querySelector('[data-view=feed]');
		const seen = (h) => (document.querySelector('#seen [data-header="' + h + '"]') || {}).textContent || '';
		return {AuthStatus: seen('x-auth-status'), Sub: seen('x-user-sub'), Via: seen('token sent as'),
			PageStatus: v.dataset.authStatus, PageSub: v.dataset.sub,
			Items: document.querySelectorAll('#feed .activity').length,
			Private: document.querySelectorAll('#feed .activity[data-private=true]').length};
	})())`)
	var f struct {
		feedState
		PageStatus, PageSub string
	}
	if err := json.Unmarshal([]byte(raw), &f); err != nil {
		p.t.Fatal(err)
	}
	// The page's own reading of the backend's answer agrees with the headers it shows.
	if f.PageStatus != f.AuthStatus || f.PageSub != f.Sub {
		p.t.Fatalf("the feed page says %s/%s, the headers it shows %s/%s", f.PageStatus, f.PageSub, f.AuthStatus, f.Sub)
	}
	return f.feedState
}

// wantSignedIn waits for the feed of a signed-in user and checks that the backend received
// x-auth-status authenticated and the sub of the access token the page holds; it returns the sub.
func (p *page) wantSignedIn(username string) string {
	p.t.Helper()
	p.waitView("feed")
	p.until(`document.getElementById('who').dataset.signedIn === 'true'`, "the page to be signed in")
	f := p.feed()
	token := p.cookie(amplifyKey(p.d.ClientID, username, "accessToken"))
	if token == "" {
		token = p.eval(fmt.Sprintf(`localStorage.getItem(%q) || ''`, amplifyKey(p.d.ClientID, username, "accessToken")))
	}
	sub, _ := claims(p.t, token)["sub"].(string)
	if f.AuthStatus != "authenticated" || sub == "" || f.Sub != sub || f.Private != 1 {
		p.t.Fatalf("feed for %s (token sub %q): %+v", username, sub, f)
	}
	if who := p.eval(`document.getElementById('who-name').textContent`); who != username {
		p.t.Fatalf("the header names %q, want %q", who, username)
	}
	return sub
}

type adminState struct{ Result, HTTPStatus, Sub string }

func (p *page) admin() adminState {
	p.t.Helper()
	p.until(`!!document.querySelector('[data-view=admin][data-result]')`, "the admin page to load")
	raw := p.eval(`JSON.stringify({Result: document.querySelector('[data-view=admin]').dataset.result,
		HTTPStatus: document.querySelector('[data-view=admin]').dataset.httpStatus,
		Sub: (document.getElementById('admin-sub') || {}).textContent || ''})`)
	var a adminState
	if err := json.Unmarshal([]byte(raw), &a); err != nil {
		p.t.Fatal(err)
	}
	return a
}

func (p *page) signOut() {
	p.t.Helper()
	p.click("#nav-signout")
	p.waitView("feed")
	p.until(`document.getElementById('who').dataset.signedIn === 'false'`, "the page to be signed out")
	if f := p.feed(); f.AuthStatus != "anonymous" || f.Private != 0 {
		p.t.Fatalf("signed out, the feed is %+v", f)
	}
	if c := p.eval(`document.cookie`); strings.Contains(c, "CognitoIdentityServiceProvider") {
		p.t.Fatalf("signed out, Amplify cookies remain: %s", c)
	}
}

func (p *page) refreshes() int {
	p.t.Helper()
	var n int
	fmt.Sscan(p.eval(`document.getElementById('refresh-info').dataset.refreshes`), &n)
	return n
}

func amplifyKey(clientID, username, what string) string {
	return "CognitoIdentityServiceProvider." + clientID + "." + username + "." + what
}

// cookie reads one cookie as the page stored it (Amplify's cookies are not HttpOnly).
func (p *page) cookie(name string) string {
	p.t.Helper()
	return p.eval(fmt.Sprintf(`(() => { for (const c of document.cookie.split('; ')) { const i = c.indexOf('=');
		if (decodeURIComponent(c.slice(0, i)) === %q) return decodeURIComponent(c.slice(i + 1)); } return ''; })()`, name))
}

func (p *page) setCookie(name, value string) {
	p.t.Helper()
	p.eval(fmt.Sprintf(`document.cookie = encodeURIComponent(%q) + '=' + encodeURIComponent(%q) + '; Path=/; SameSite=Strict', ''`, name, value))
}

// reasonFor asks the stack, outside the browser, what cognito-authz makes of token on the feed
// route: the x-auth-reason the backend received ("" when authenticated).
func (p *page) reasonFor(token string) string {
	p.t.Helper()
	req, err := http.NewRequestWithContext(p.ctx, http.MethodGet, p.d.AppURL+backend.HomePath, nil)
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := noProxy.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body backend.Response
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		p.t.Fatal(err)
	}
	return strings.Join(body.Headers["x-auth-reason"], ",")
}

var noProxy = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}

// codes counts the outbox's codes for username and purpose.
func (p *page) codes(username, purpose string) int {
	p.t.Helper()
	return len(p.outbox(username, purpose))
}

// code waits until the outbox holds more than after codes for username and purpose and returns
// the newest.
func (p *page) code(username, purpose string, after int) string {
	p.t.Helper()
	var found []string
	if err := poll.Until(p.ctx, pageTimeout, func() bool {
		found = p.outbox(username, purpose)
		return len(found) > after
	}); err != nil {
		p.t.Fatalf("no %s code for %s in the outbox: %v", purpose, username, err)
	}
	return found[len(found)-1]
}

func (p *page) outbox(username, purpose string) []string {
	p.t.Helper()
	resp, err := noProxy.Get(p.d.OutboxURL)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var msgs []struct{ Username, Purpose, Code string }
	if err := json.NewDecoder(resp.Body).Decode(&msgs); err != nil {
		p.t.Fatalf("outbox: %v", err)
	}
	var codes []string
	for _, m := range msgs {
		if m.Username == username && m.Purpose == purpose {
			codes = append(codes, m.Code)
		}
	}
	return codes
}
