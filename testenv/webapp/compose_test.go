package webapp_test

import (
	"testing"

	"github.com/cognito-authz/cognito-authz/testenv/browser"
	"github.com/cognito-authz/cognito-authz/testenv/cognitolocal"
	"github.com/cognito-authz/cognito-authz/testenv/containers"
	"github.com/cognito-authz/cognito-authz/testenv/e2e"
	"github.com/cognito-authz/cognito-authz/testenv/envoyconf"
)

// TestComposeJourneyInChromium walks the web app of the compose stack (docker-compose.yml, under
// podman-compose, on the stand-in base images) in Chromium: sign up and confirm with the outbox's
// code, sign in, the admin page refused to a user in no group, the admin's sign-in with an SMS
// code and the admin page shown. The longer walk through `make demo`'s stack is
// TestJourneyInChromium; this one proves the images and the compose file give the same app.
func TestComposeJourneyInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("builds images, runs containers and drives a real Chromium: not with -short")
	}
	bin := browser.Require(t)
	containers.UpTest(t)
	admin, user := cognitolocal.DemoUsers()
	d := demo{
		AppURL:     containers.URL,
		OutboxURL:  containers.URL + e2e.OutboxPath,
		ClientID:   e2e.ClientID,
		CognitoAPI: containers.URL + envoyconf.CognitoAPIPrefix,
		Admin:      seededUser{admin.Username, admin.Password},
		User:       seededUser{user.Username, user.Password},
	}
	p := &page{t: t, ctx: browser.Start(t, bin, journeyTimeout), d: d}
	t.Logf("screenshots in %s", browser.ScreenshotDir(t))
	console := browser.RecordConsole(p.ctx)
	defer noConsoleProblems(t, console)

	p.navigate(d.AppURL + "/")
	if f := p.feed(); f.AuthStatus != "anonymous" || f.Private != 0 || f.Items == 0 {
		t.Fatalf("anonymous feed: %+v", f)
	}
	p.shot("compose-01-feed-anonymous")

	// Sign up and confirm with the code from the outbox, then sign in: in no group, so the admin
	// page is refused.
	dave := seededUser{"dave", "Dave-Passw0rd!"}
	p.visit("#/signup")
	p.fill("signup-form", map[string]string{"username": dave.Username, "email": "dave@example.com", "password": dave.Password})
	p.submit("signup-form")
	p.waitView("confirm")
	p.fill("confirm-form", map[string]string{"code": p.code(dave.Username, "confirm_sign_up", 0)})
	p.submit("confirm-form")
	p.waitView("signin")
	p.fill("signin-form", map[string]string{"username": dave.Username, "password": dave.Password})
	p.submit("signin-form")
	p.wantSignedIn(dave.Username)
	p.shot("compose-02-feed-signed-in")
	p.visit("#/admin")
	if a := p.admin(); a.Result != "forbidden" || a.HTTPStatus != "403" {
		t.Fatalf("admin page for %s, in no group: %+v", dave.Username, a)
	}
	p.signOut()

	// The admin: a sign-in with the SMS code from the outbox, and the admin page.
	p.visit("#/signin")
	p.fill("signin-form", map[string]string{"username": d.Admin.Username, "password": d.Admin.Password})
	before := p.codes(d.Admin.Username, "sms_mfa")
	p.submit("signin-form")
	p.waitView("mfa")
	p.fill("mfa-form", map[string]string{"code": p.code(d.Admin.Username, "sms_mfa", before)})
	p.submit("mfa-form")
	adminSub := p.wantSignedIn(d.Admin.Username)
	p.visit("#/admin")
	if a := p.admin(); a.Result != "allowed" || a.HTTPStatus != "200" || a.Sub != adminSub {
		t.Fatalf("admin page for the admin (sub %s): %+v", adminSub, a)
	}
	p.shot("compose-03-admin")
	p.signOut()
}
