package webapp_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/cognito-authz/cognito-authz/internal/poll"
	"github.com/cognito-authz/cognito-authz/testenv/browser"
)

// codeDeadline is how soon after the page has its answer a code must be in the outbox: a person
// who reads "we sent a code" and opens the outbox finds it there.
const codeDeadline = 2 * time.Second

// codeWithin is code with codeDeadline instead of pageTimeout.
func (p *page) codeWithin(username, purpose string, after int) string {
	p.t.Helper()
	var found []string
	if err := poll.Until(p.ctx, codeDeadline, func() bool {
		found = p.outbox(username, purpose)
		return len(found) > after
	}); err != nil {
		p.t.Fatalf("no %s code for %s in the outbox within %v of the page's answer: %v", purpose, username, codeDeadline, err)
	}
	return found[len(found)-1]
}

// TestForgotPasswordCodeInOutboxInChromium: after "Forgot your password?", the code is in the
// outbox by the time a person looks, and it resets the password.
func TestForgotPasswordCodeInOutboxInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a real Chromium through the whole stack: not with -short")
	}
	bin := browser.Require(t)
	d := startDemo(t)
	p := &page{t: t, ctx: browser.Start(t, bin, journeyTimeout), d: d}
	defer noConsoleProblems(t, browser.RecordConsole(p.ctx))

	p.navigate(d.AppURL + "/")
	user := d.User.Username
	for round := range 3 { // every time, not once
		before := p.codes(user, "forgot_password")
		p.visit("#/forgot")
		p.fill("forgot-form", map[string]string{"username": user})
		p.submit("forgot-form")
		p.waitView("reset")
		code := p.codeWithin(user, "forgot_password", before)
		newPassword := "Bob-N3w-passw0rd!" + string(rune('a'+round))
		p.fill("reset-form", map[string]string{"code": code, "password": newPassword})
		p.submit("reset-form")
		p.waitView("signin")
		p.wantStatus("ok", "password is changed")
	}
}

// startPage starts the demo and a Chromium tab on its feed.
func startPage(t *testing.T) *page {
	t.Helper()
	if testing.Short() {
		t.Skip("drives a real Chromium through the whole stack: not with -short")
	}
	bin := browser.Require(t)
	d := startDemo(t)
	p := &page{t: t, ctx: browser.Start(t, bin, journeyTimeout), d: d}
	console := browser.RecordConsole(p.ctx)
	t.Cleanup(func() { noConsoleProblems(t, console) })
	p.navigate(d.AppURL + "/")
	return p
}

// focused is the name of the form field that has the focus, as "form-id/name", or what else has it.
func (p *page) focused() string {
	p.t.Helper()
	return p.eval(`(() => { const a = document.activeElement;
		if (!a || a === document.body) return 'the page body';
		const f = a.form || a.closest('form');
		return f ? f.id + '/' + (a.name || a.id || a.tagName) : a.tagName + '#' + a.id; })()`)
}

func (p *page) wantFocus(want, when string) {
	p.t.Helper()
	if got := p.focused(); got != want {
		p.t.Fatalf("%s the focus is on %s, want %s", when, got, want)
	}
}

// TestWeakPasswordRefusedInChromium: the page states the pool's password policy before the user
// types, and a password that breaks it is refused at sign-up and at reset with Cognito's message.
// The error leaves the focus on the password, and goes away as the user types a new one.
func TestWeakPasswordRefusedInChromium(t *testing.T) {
	p := startPage(t)
	const policy = "At least 8 characters, with a lowercase letter, an uppercase letter, a number and a symbol"
	const user = "dave"

	p.visit("#/signup")
	p.wantText("#f-password-hint", policy)
	if d := p.eval(`document.getElementById('f-password').getAttribute('aria-describedby') || ''`); d != "f-password-hint" {
		t.Errorf("the password field is described by %q, want the policy", d)
	}
	p.fill("signup-form", map[string]string{"username": user, "email": user + "@example.com", "password": "password"})
	p.submit("signup-form")
	p.wantError("InvalidPasswordException", "Password did not conform with policy: Password must have uppercase characters")
	p.wantFocus("signup-form/password", "after a refused password")
	p.do(chromedp.KeyEvent("Dave-passw0rd"))
	p.until(`document.getElementById('status').hidden`, "the error to go as the password is typed again")
	p.submit("signup-form")
	p.waitView("confirm")
	code := p.codeWithin(user, "confirm_sign_up", 0)
	p.fill("confirm-form", map[string]string{"code": code})
	p.submit("confirm-form")
	p.waitView("signin")

	p.visit("#/forgot")
	p.fill("forgot-form", map[string]string{"username": user})
	p.submit("forgot-form")
	p.waitView("reset")
	p.wantText("#f-password-hint", policy)
	code = p.codeWithin(user, "forgot_password", 0)
	p.fill("reset-form", map[string]string{"code": code, "password": "weakpass"})
	p.submit("reset-form")
	p.wantError("InvalidPasswordException", "Password did not conform with policy: Password must have uppercase characters")
	p.wantFocus("reset-form/password", "after a refused password")
	p.shot("weak-password-reset") // (blurs the focus)
	p.fill("reset-form", map[string]string{"password": "Dave-n3w-passw0rd"})
	p.submit("reset-form")
	p.waitView("signin")
	p.wantStatus("ok", "password is changed")
	// The username is filled in: the password is what is left to type.
	p.wantFocus("signin-form/password", "on the sign-in page after the reset")
}

// TestResendCodeInChromium: "Send a new code" puts a new code in the outbox; the old one no longer
// confirms the account, the new one does. The messages say where the codes are.
func TestResendCodeInChromium(t *testing.T) {
	p := startPage(t)
	const user = "erin"
	p.visit("#/signup")
	p.fill("signup-form", map[string]string{"username": user, "email": user + "@example.com", "password": "Erin-passw0rd"})
	p.submit("signup-form")
	p.waitView("confirm")
	p.wantStatus("info", "the code is in the outbox")
	if href := p.eval(`document.getElementById('outbox-link').getAttribute('href')`); href != "/outbox?user="+user {
		t.Errorf("the message links to %q, want the user's codes in the outbox", href)
	}
	first := p.codeWithin(user, "confirm_sign_up", 0)

	p.click("#resend")
	p.wantStatus("info", "new code")
	p.wantText("#status", "outbox")
	p.wantFocus("confirm-form/code", "after sending a new code")
	second := p.codeWithin(user, "confirm_sign_up", 1)
	p.shot("resend-code") // (blurs the focus)
	if first != second {  // one in a million, the new code has the old digits
		p.fill("confirm-form", map[string]string{"code": first})
		p.submit("confirm-form")
		p.wantError("CodeMismatchException", "not right")
		p.wantFocus("confirm-form/code", "after a wrong code")
	}
	p.fill("confirm-form", map[string]string{"code": second})
	p.submit("confirm-form")
	p.waitView("signin")
	p.wantStatus("ok", "confirmed")
	p.wantFocus("signin-form/password", "on the sign-in page after confirming")
}

// TestKeyboardSignInInChromium signs in with the keyboard alone: a wrong password first, after
// which the focus stays on the password (selected, so typing replaces it), then the right one.
// The first sign-in in this browser is greeted "Welcome", the next "Welcome back".
func TestKeyboardSignInInChromium(t *testing.T) {
	p := startPage(t)
	u := p.d.User
	for _, greeting := range []string{"Welcome, " + u.Username, "Welcome back, " + u.Username} {
		p.visit("#/signin")
		p.wantFocus("signin-form/username", "on the sign-in page")
		p.do(chromedp.KeyEvent(u.Username), chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent("not-"+u.Password), chromedp.KeyEvent(kb.Enter))
		p.wantError("NotAuthorizedException", "Incorrect username or password")
		p.wantFocus("signin-form/password", "after a wrong password")
		p.do(chromedp.KeyEvent(u.Password), chromedp.KeyEvent(kb.Enter))
		p.wantSignedIn(u.Username)
		p.wantText("#view h1", greeting)
		// cognito-local has no GlobalSignOut: the page does not offer what would fail.
		if shown := p.eval(`String(!document.getElementById('nav-signout-all').hidden)`); shown != "false" {
			t.Errorf("signed in with cognito-local, \"sign out of all devices\" is offered (shown: %s)", shown)
		}
		p.signOut()
	}
}
