package webapp_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/cognito-authz/cognito-authz/testenv/browser"
	"github.com/cognito-authz/cognito-authz/testenv/e2e"
	"github.com/cognito-authz/cognito-authz/testenv/issuer"
	"github.com/cognito-authz/cognito-authz/testenv/poll"
)

// Bounds of the journey: the whole of it, and each wait for the page.
const (
	journeyTimeout = 3 * time.Minute
	pageTimeout    = 20 * time.Second
)

// seededUser is a user the stack creates at start.
type seededUser struct{ Username, Password string }

// demo is the running stack as the browser sees it.
type demo struct {
	AppURL, OutboxURL string
	ClientID          string
	// CognitoAPI is where the page sends Cognito user-pool API calls.
	CognitoAPI  string
	Admin, User seededUser
	// SigningKey is the emulator's private key file (cognito-local publishes its one fixed key),
	// so the test can make a genuinely signed, genuinely expired copy of a token it issued.
	SigningKey string
}

// TestJourneyInChromium walks the demo web app in a real headless Chromium through Envoy,
// cognito-authz and cognito-local, as a person would, saving a screenshot of each page.
func TestJourneyInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a real Chromium through the whole stack: not with -short")
	}
	bin := browser.Require(t) // before the stack's possibly long first start
	d := startDemo(t)
	p := &page{t: t, ctx: browser.Start(t, bin, journeyTimeout), d: d}
	t.Logf("screenshots in %s", browser.ScreenshotDir(t))
	cognitoCalls := recordCognitoCalls(t, p.ctx, d.CognitoAPI)

	// Anonymous: the public feed, no private item.
	p.navigate(d.AppURL + "/")
	f := p.feed()
	if f.AuthStatus != "anonymous" || f.Private != 0 || f.Items == 0 {
		t.Fatalf("anonymous feed: %+v", f)
	}
	p.shot("01-feed-anonymous")

	// Sign up: a taken username is refused clearly, a new one is asked for its code.
	p.go_("#/signup")
	p.fill("signup-form", map[string]string{"username": d.User.Username, "email": "x@example.com", "password": "Passw0rd!new"})
	p.submit("signup-form")
	p.wantError("UsernameExistsException", "taken")
	p.shot("02-signup-taken")
	carol := seededUser{"carol", "Carol-Passw0rd!"}
	p.fill("signup-form", map[string]string{"username": carol.Username, "email": "carol@example.com", "password": carol.Password})
	p.shot("03-signup")
	p.submit("signup-form")
	p.waitView("confirm")
	signUpCode := p.code(carol.Username, "confirm_sign_up", 0)

	// Signing in before confirming says so and offers to confirm.
	p.go_("#/signin")
	p.fill("signin-form", map[string]string{"username": carol.Username, "password": carol.Password})
	p.submit("signin-form")
	p.wantError("UserNotConfirmedException", "not confirmed")
	p.shot("04-signin-unconfirmed")
	p.click("#confirm-link")
	p.waitView("confirm")
	if v := p.eval(`document.querySelector('#confirm-form [name=username]').value`); v != carol.Username {
		t.Fatalf("the confirm page is for %q, want %q", v, carol.Username)
	}

	// Confirm: a wrong code is refused, the code from the outbox works.
	p.fill("confirm-form", map[string]string{"code": wrongCode(signUpCode)})
	p.submit("confirm-form")
	p.wantError("CodeMismatchException", "not right")
	p.shot("05-confirm-wrong-code")
	p.fill("confirm-form", map[string]string{"code": signUpCode})
	p.submit("confirm-form")
	p.waitView("signin")
	p.wantStatus("ok", "confirmed")
	// A code used once is spent (cognito-local: ExpiredCodeException, as Cognito answers).
	p.go_("#/confirm?username=" + carol.Username)
	p.fill("confirm-form", map[string]string{"code": signUpCode})
	p.submit("confirm-form")
	p.wantError("ExpiredCodeException", "expired")
	p.go_("#/signin?username=" + carol.Username)

	// Sign in: a wrong password is refused, the right one shows carol's feed.
	p.fill("signin-form", map[string]string{"password": "not-" + carol.Password})
	p.submit("signin-form")
	p.wantText("#status", "Incorrect username or password")
	p.shot("06-signin-wrong-password")
	p.fill("signin-form", map[string]string{"password": carol.Password})
	p.submit("signin-form")
	carolSub := p.wantSignedIn(carol.Username)
	p.shot("07-feed-signed-in")

	// The admin page is forbidden to carol: cognito-authz answers 403.
	p.go_("#/admin")
	if a := p.admin(); a.Result != "forbidden" || a.HTTPStatus != "403" {
		t.Fatalf("admin page for carol: %+v", a)
	}
	p.shot("08-admin-forbidden")

	// An expired access token is refreshed before the call, without a new sign-in.
	refreshes := p.refreshes()
	access := p.cookie(amplifyKey(d.ClientID, carol.Username, "accessToken"))
	expired := expiredCopy(t, access, d.SigningKey)
	if reason := p.reasonFor(expired); reason != "expired" {
		t.Fatalf("cognito-authz calls the expired copy %q, want expired", reason)
	}
	p.setCookie(amplifyKey(d.ClientID, carol.Username, "accessToken"), expired)
	p.go_("#/")
	if got := p.wantSignedIn(carol.Username); got != carolSub {
		t.Fatalf("after refreshing, the feed is %s's, want carol's %s", got, carolSub)
	}
	if p.refreshes() != refreshes+1 {
		t.Fatalf("refreshes %d, want %d", p.refreshes(), refreshes+1)
	}
	if now := p.cookie(amplifyKey(d.ClientID, carol.Username, "accessToken")); now == expired || now == access || now == "" {
		t.Fatal("the access token cookie was not replaced by a fresh token")
	}

	// A token cognito-authz rejects although the page thinks it valid (a bad signature) gets an
	// anonymous answer on the feed; the page refreshes once and asks again.
	tampered := badSignature(p.cookie(amplifyKey(d.ClientID, carol.Username, "accessToken")))
	if reason := p.reasonFor(tampered); reason != "bad_signature" {
		t.Fatalf("cognito-authz calls the tampered token %q, want bad_signature", reason)
	}
	p.setCookie(amplifyKey(d.ClientID, carol.Username, "accessToken"), tampered)
	p.reload()
	if got := p.wantSignedIn(carol.Username); got != carolSub {
		t.Fatalf("after the retry, the feed is %s's, want %s", got, carolSub)
	}
	if p.refreshes() != refreshes+2 {
		t.Fatalf("refreshes %d, want %d", p.refreshes(), refreshes+2)
	}

	// The toggle sends Authorization: Bearer from localStorage instead of cookies.
	p.click("#bearer-toggle")
	p.waitView("feed")
	f = p.feed()
	if f.AuthStatus != "authenticated" || f.Sub != carolSub || f.Via != "Authorization header" {
		t.Fatalf("with the Bearer toggle: %+v", f)
	}
	if c := p.eval(`document.cookie`); strings.Contains(c, "CognitoIdentityServiceProvider") {
		t.Fatalf("Amplify cookies left behind in Bearer mode: %s", c)
	}
	p.shot("09-feed-bearer")
	p.click("#bearer-toggle")
	p.waitView("feed")
	if f = p.feed(); f.AuthStatus != "authenticated" || f.Via != "Amplify cookies" {
		t.Fatalf("back to cookies: %+v", f)
	}

	// Sign out: anonymous again, the session cookies gone; the admin page now needs a sign-in.
	p.signOut()
	p.shot("10-signed-out")
	p.go_("#/admin")
	if a := p.admin(); a.Result != "unauthenticated" || a.HTTPStatus != "401" {
		t.Fatalf("admin page, signed out: %+v", a)
	}

	// The admin: sign-in asks for an SMS code; a wrong one is refused, the outbox's works; the
	// admin page is shown.
	p.go_("#/signin")
	p.fill("signin-form", map[string]string{"username": d.Admin.Username, "password": d.Admin.Password})
	mfaBefore := p.codes(d.Admin.Username, "sms_mfa")
	p.submit("signin-form")
	p.waitView("mfa")
	smsCode := p.code(d.Admin.Username, "sms_mfa", mfaBefore)
	p.shot("11-sms-code")
	p.fill("mfa-form", map[string]string{"code": wrongCode(smsCode)})
	p.submit("mfa-form")
	p.wantError("CodeMismatchException", "not right")
	p.fill("mfa-form", map[string]string{"code": smsCode})
	p.submit("mfa-form")
	adminSub := p.wantSignedIn(d.Admin.Username)
	p.go_("#/admin")
	if a := p.admin(); a.Result != "allowed" || a.HTTPStatus != "200" || a.Sub != adminSub {
		t.Fatalf("admin page for the admin (sub %s): %+v", adminSub, a)
	}
	p.shot("12-admin")
	p.signOut()

	// Forgot password: a code to reset it, a wrong code refused, then sign in with the new one.
	p.go_("#/forgot")
	p.fill("forgot-form", map[string]string{"username": carol.Username})
	p.shot("13-forgot-password")
	p.submit("forgot-form")
	p.waitView("reset")
	resetCode := p.code(carol.Username, "forgot_password", 0)
	newPassword := "Carol-N3w-Passw0rd!"
	p.fill("reset-form", map[string]string{"code": wrongCode(resetCode), "password": newPassword})
	p.submit("reset-form")
	p.wantError("CodeMismatchException", "not right")
	p.fill("reset-form", map[string]string{"code": resetCode, "password": newPassword})
	p.shot("14-reset-password")
	p.submit("reset-form")
	p.waitView("signin")
	p.fill("signin-form", map[string]string{"password": carol.Password})
	p.submit("signin-form")
	p.wantText("#status", "Incorrect username or password") // the old password no longer works
	p.fill("signin-form", map[string]string{"password": newPassword})
	p.submit("signin-form")
	if got := p.wantSignedIn(carol.Username); got != carolSub {
		t.Fatalf("after the reset, the feed is %s's, want %s", got, carolSub)
	}

	// A refresh token that no longer works ends the session with a message, not a loop.
	access = p.cookie(amplifyKey(d.ClientID, carol.Username, "accessToken"))
	p.setCookie(amplifyKey(d.ClientID, carol.Username, "accessToken"), expiredCopy(t, access, d.SigningKey))
	p.setCookie(amplifyKey(d.ClientID, carol.Username, "refreshToken"), "no-longer-valid")
	p.reload()
	p.wantError("NotAuthorizedException", "session has ended")
	p.until(`document.getElementById('who').dataset.signedIn === 'false'`, "the page to be signed out")
	if f := p.feed(); f.AuthStatus != "anonymous" {
		t.Fatalf("with a dead refresh token, the feed is %+v", f)
	}

	// Three refreshes: the expired token, the rejected one, the dead refresh token.
	checkWire(t, cognitoCalls.await(t, p.ctx, 3), 3)
}

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

// go_ follows an in-app link, as a click on the navigation does.
func (p *page) go_(hash string) {
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
	p.eval(`(() => { const s = document.getElementById('status'); s.hidden = true; s.textContent = ''; delete s.dataset.kind; return '' })()`)
	p.click(fmt.Sprintf(`#%s button[type=submit]`, form))
	p.until(fmt.Sprintf(`!document.querySelector('#%s[aria-busy]') && (!document.getElementById(%q) || !document.getElementById('status').hidden)`, form, form),
		"an answer to "+form)
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

func (p *page) shot(name string) {
	p.t.Helper()
	p.eval(`document.activeElement && document.activeElement.blur && document.activeElement.blur(), ''`)
	browser.Screenshot(p.ctx, p.t, name)
}

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
	sub := claims(p.t, token)["sub"]
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
	req, err := http.NewRequestWithContext(p.ctx, http.MethodGet, p.d.AppURL+"/api/activities/home", nil)
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := noProxy.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Headers map[string][]string }
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

// wrongCode is a code of the same shape that is not code.
func wrongCode(code string) string {
	b := []byte(code)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

// claims reads a token's payload, unverified: only to compare with what the app was told.
func claims(t *testing.T, token string) map[string]string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d segments", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]any
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range all {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// badSignature is token with its signature's first byte changed: well formed, unexpired, and not
// signed by the pool.
func badSignature(token string) string {
	i := strings.LastIndexByte(token, '.') + 1
	sig := []byte(token)
	if sig[i] == 'A' {
		sig[i] = 'B'
	} else {
		sig[i] = 'A'
	}
	return string(sig)
}

// expiredCopy is token with exp set to its iat, signed again with the emulator's own key: a token
// the pool could have issued, expired the moment it was issued, whatever the clock says.
func expiredCopy(t *testing.T, token, keyFile string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var payload map[string]any
	if err := dec.Decode(&payload); err != nil {
		t.Fatal(err)
	}
	payload["exp"] = payload["iat"]
	body, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	signingInput := parts[0] + "." + base64.RawURLEncoding.EncodeToString(body)
	digest := sha256.Sum256([]byte(signingInput))
	sig, err := rsa.SignPKCS1v15(nil, emulatorKey(t, keyFile), crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// emulatorKey reads cognito-local's private key: a JSON object whose "jwk" is the RSA key.
func emulatorKey(t *testing.T, keyFile string) *rsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	var file struct{ JWK json.RawMessage }
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatalf("%s: %v", keyFile, err)
	}
	key, err := jwk.ParseKey(file.JWK)
	if err != nil {
		t.Fatalf("%s: %v", keyFile, err)
	}
	var priv rsa.PrivateKey
	if err := key.Raw(&priv); err != nil {
		t.Fatalf("%s: %v", keyFile, err)
	}
	return &priv
}

// TestBuiltinIdPInChromium: with the builtin issuer (no sign-in API) the page still serves the
// public feed through Envoy, a sign-in says why it cannot work instead of failing silently, and a
// token minted by the issuer and stored under Amplify's cookie names signs the page in (no Node.js
// needed to see cognito-authz read the cookies a browser sends).
func TestBuiltinIdPInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a real Chromium through the stack: not with -short")
	}
	bin := browser.Require(t)
	s := e2e.StartTest(t, e2e.Options{IdP: e2e.IdPBuiltin})
	p := &page{t: t, ctx: browser.Start(t, bin, journeyTimeout), d: demo{AppURL: s.URL(), ClientID: s.Web.ClientID}}

	p.navigate(s.URL() + "/")
	if f := p.feed(); f.AuthStatus != "anonymous" || f.Items == 0 {
		t.Fatalf("anonymous feed: %+v", f)
	}
	p.go_("#/signin")
	p.fill("signin-form", map[string]string{"username": "someone", "password": "whatever"})
	p.submit("signin-form")
	p.wantError("NoEndpoint", "--idp cognito-local")

	const username = "dana"
	token, err := s.Issuer.Mint(issuer.TokenSpec{Username: username})
	if err != nil {
		t.Fatal(err)
	}
	p.setCookie("CognitoIdentityServiceProvider."+s.Web.ClientID+".LastAuthUser", username)
	p.setCookie(amplifyKey(s.Web.ClientID, username, "accessToken"), token)
	p.go_("#/")
	if f := p.feed(); f.Via != "Amplify cookies" {
		t.Fatalf("with the minted token in Amplify's cookies: %+v", f)
	}
	p.wantSignedIn(username)
}
