package webapp_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/testenv/browser"
	"github.com/cognito-authz/cognito-authz/testenv/e2e"
	"github.com/cognito-authz/cognito-authz/testenv/issuer"
)

// journeyTimeout bounds a whole walk through the app.
const journeyTimeout = 3 * time.Minute

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
	console := browser.RecordConsole(p.ctx)
	defer noConsoleProblems(t, console)

	// Anonymous: the public feed, no private item.
	p.navigate(d.AppURL + "/")
	f := p.feed()
	if f.AuthStatus != "anonymous" || f.Private != 0 || f.Items == 0 {
		t.Fatalf("anonymous feed: %+v", f)
	}
	p.shot("01-feed-anonymous")

	// Sign up: a taken username is refused clearly, a new one is asked for its code.
	p.visit("#/signup")
	p.fill("signup-form", map[string]string{"username": d.User.Username, "email": "x@example.com", "password": "Passw0rd!new"})
	p.submit("signup-form")
	p.wantError("UsernameExistsException", "taken")
	p.shot("02-signup-taken")
	carol := seededUser{"carol", "Carol-Passw0rd!"}
	p.fill("signup-form", map[string]string{"username": carol.Username, "email": "carol@example.com", "password": carol.Password})
	p.shot("03-signup")
	p.submit("signup-form")
	p.waitView("confirm")
	p.code(carol.Username, "confirm_sign_up", 0)
	// "Send a new code" sends one that replaces the first (TestCodesInChromium tries both).
	p.clearStatus()
	p.click("#resend")
	p.wantStatus("info", "new code")
	signUpCode := p.code(carol.Username, "confirm_sign_up", 1)

	// Signing in before confirming says so and offers to confirm.
	p.visit("#/signin")
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
	p.visit("#/confirm?username=" + carol.Username)
	p.fill("confirm-form", map[string]string{"code": signUpCode})
	p.submit("confirm-form")
	p.wantError("ExpiredCodeException", "expired")
	p.visit("#/signin?username=" + carol.Username)

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
	p.visit("#/admin")
	if a := p.admin(); a.Result != "forbidden" || a.HTTPStatus != "403" {
		t.Fatalf("admin page for carol: %+v", a)
	}
	p.shot("08-admin-forbidden")

	// An expired access token is refreshed before the call, without a new sign-in.
	refreshes := p.refreshes()
	carolAccess := amplifyKey(d.ClientID, carol.Username, "accessToken")
	access := p.cookie(carolAccess)
	expired := expiredCopy(t, access, d.SigningKey)
	if reason := p.reasonFor(expired); reason != "expired" {
		t.Fatalf("cognito-authz calls the expired copy %q, want expired", reason)
	}
	p.setCookie(carolAccess, expired)
	p.visit("#/")
	if got := p.wantSignedIn(carol.Username); got != carolSub {
		t.Fatalf("after refreshing, the feed is %s's, want carol's %s", got, carolSub)
	}
	if p.refreshes() != refreshes+1 {
		t.Fatalf("refreshes %d, want %d", p.refreshes(), refreshes+1)
	}
	if now := p.cookie(carolAccess); now == expired || now == access || now == "" {
		t.Fatal("the access token cookie was not replaced by a fresh token")
	}

	// A token cognito-authz rejects although the page thinks it valid (a bad signature) gets an
	// anonymous answer on the feed; the page refreshes once and asks again.
	tampered := badSignature(p.cookie(carolAccess))
	if reason := p.reasonFor(tampered); reason != "bad_signature" {
		t.Fatalf("cognito-authz calls the tampered token %q, want bad_signature", reason)
	}
	p.setCookie(carolAccess, tampered)
	p.reload()
	if got := p.wantSignedIn(carol.Username); got != carolSub {
		t.Fatalf("after the retry, the feed is %s's, want %s", got, carolSub)
	}
	if p.refreshes() != refreshes+2 {
		t.Fatalf("refreshes %d, want %d", p.refreshes(), refreshes+2)
	}

	// On a route that requires a token, a token cognito-authz rejects gets a 401; the page
	// refreshes once and asks again, and carol, in no group, is then forbidden.
	p.setCookie(carolAccess, badSignature(p.cookie(carolAccess)))
	p.visit("#/admin")
	if a := p.admin(); a.Result != "forbidden" || p.refreshes() != refreshes+3 {
		t.Fatalf("admin page after a 401 and a refresh: %+v, %d refreshes, want %d", a, p.refreshes(), refreshes+3)
	}
	p.visit("#/")
	p.wantSignedIn(carol.Username)

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
	p.visit("#/admin")
	if a := p.admin(); a.Result != "unauthenticated" || a.HTTPStatus != "401" {
		t.Fatalf("admin page, signed out: %+v", a)
	}

	// The admin: sign-in asks for an SMS code; a wrong one is refused, the outbox's works; the
	// admin page is shown.
	p.visit("#/signin")
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
	p.visit("#/admin")
	if a := p.admin(); a.Result != "allowed" || a.HTTPStatus != "200" || a.Sub != adminSub {
		t.Fatalf("admin page for the admin (sub %s): %+v", adminSub, a)
	}
	p.shot("12-admin")
	p.signOut()

	// Forgot password: a code to reset it, a wrong code refused, then sign in with the new one.
	p.visit("#/forgot")
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
	access = p.cookie(carolAccess)
	p.setCookie(carolAccess, expiredCopy(t, access, d.SigningKey))
	p.setCookie(amplifyKey(d.ClientID, carol.Username, "refreshToken"), "no-longer-valid")
	p.reload()
	p.wantError("NotAuthorizedException", "session has ended")
	p.until(`document.getElementById('who').dataset.signedIn === 'false'`, "the page to be signed out")
	if f := p.feed(); f.AuthStatus != "anonymous" {
		t.Fatalf("with a dead refresh token, the feed is %+v", f)
	}

	// Four refreshes: the expired token, the two rejected ones, the dead refresh token. (No
	// refresh after the admin's SMS sign-in: cognito-local 3.23.3 does not keep the refresh tokens
	// RespondToAuthChallenge issues, so they cannot be used; Cognito's can.)
	checkWire(t, cognitoCalls.await(t, p.ctx, 4), 4)
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
	defer noConsoleProblems(t, browser.RecordConsole(p.ctx))

	p.navigate(s.URL() + "/")
	if f := p.feed(); f.AuthStatus != "anonymous" || f.Items == 0 {
		t.Fatalf("anonymous feed: %+v", f)
	}
	p.visit("#/signin")
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
	p.visit("#/")
	if f := p.feed(); f.Via != "Amplify cookies" {
		t.Fatalf("with the minted token in Amplify's cookies: %+v", f)
	}
	p.wantSignedIn(username)
}

// noConsoleProblems fails the test if the page threw or logged an error (a refused
// Content-Security-Policy among them) while it ran.
func noConsoleProblems(t *testing.T, console *browser.Console) {
	t.Helper()
	for _, p := range console.Problems() {
		t.Errorf("the page reported: %s", p)
	}
}
