package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/cognito-authz/cognito-authz/testenv/backend"
	"github.com/cognito-authz/cognito-authz/testenv/cognitolocal"
	"github.com/cognito-authz/cognito-authz/testenv/e2e"
	"github.com/cognito-authz/cognito-authz/testenv/npmcache"
	"github.com/cognito-authz/cognito-authz/testenv/webapp"
)

// The compose stack's names (docker-compose.yml, deploy/compose/cognito-authz.yaml): the
// service, its pool and app client.
const (
	demoPoolID   = "local_demo"
	demoClientID = e2e.ClientID
	demoIssuer   = "http://demo:9229"
)

// demoTokenPath is where the token listener answers GET ?username=alice with a sign-in's tokens.
const demoTokenPath = "/token"

// runDemo serves what `make demo` runs besides cognito-authz and Envoy, for the compose stack:
// cognito-local seeded with the demo's pool under fixed ids, its Cognito API and keys, and the
// web app, outbox and demo backend.
func runDemo(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "demo",
		"Runs cognito-authz's demo behind an Envoy of your own (the compose stack): cognito-local, seeded as\n"+
			"`make demo` seeds it but under a fixed pool and client id, its Cognito API and keys on\n"+
			"--cognito-listen; the web app, the outbox and the demo backend on --listen; and, on\n"+
			"--token-listen, GET "+demoTokenPath+"?username=alice: a signed-in user's tokens (`testenv token`).")
	listen := fs.String("listen", ":8081", "the web app, outbox and demo backend (Envoy's backend)")
	cognitoListen := fs.String("cognito-listen", ":9229", "cognito-local's Cognito API and keys (Envoy's "+
		"Cognito API route, cognito-authz's keys)")
	tokenListen := fs.String("token-listen", ":9230", "signed-in users' tokens; never route it through Envoy")
	issuerDomain := fs.String("issuer-domain", demoIssuer, "what tokens name before the pool id in iss: where cognito-authz reaches --cognito-listen")
	poolID := fs.String("pool-id", demoPoolID, "the seeded pool's id")
	clientID := fs.String("client-id", demoClientID, "the seeded app client's id")
	prepare := fs.Bool("prepare", false, "install cognito-local into the cache and exit (an image build step)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	logf := e.logf("demo")
	if *prepare {
		_, err := npmcache.Ensure(ctx, cognitolocal.InstallSpec(), logf)
		return err
	}

	codes := newUpCodePrinter(upStdout)
	defer codes.stop()
	codes.start()
	cl, err := cognitolocal.Start(ctx, cognitolocal.Options{OnCode: codes.print, Logf: logf,
		IssuerDomain: *issuerDomain, PoolID: *poolID, ClientID: *clientID})
	if err != nil {
		return err
	}
	defer cl.Stop()
	emulator, err := url.Parse(cl.URL())
	if err != nil {
		return err
	}
	p := cl.Pool
	app := e2e.DemoApp(backend.New(backend.Options{}), webapp.Handler(e2e.CognitoLocalWeb(p)), cl.Outbox)
	logf("cognito-local %s: pool %s, app client %s, issuer %s; users %s (group admin, SMS code) and %s",
		cognitolocal.Version, p.ID, p.ClientID, p.Issuer, p.Admin.Username, p.User.Username)
	logf("listening: app on %s, Cognito API on %s, tokens on %s", *listen, *cognitoListen, *tokenListen)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	servers := map[string]http.Handler{
		*listen:        app,
		*cognitoListen: httputil.NewSingleHostReverseProxy(emulator),
		*tokenListen:   demoTokens(cl),
	}
	done := make(chan error, len(servers))
	for addr, h := range servers {
		go func() { done <- serve(ctx, e, addr, h) }()
	}
	var errs []error
	for range servers {
		if err := <-done; err != nil {
			errs = append(errs, err)
		}
		cancel() // one server ending ends them all
	}
	return errors.Join(errs...)
}

// demoTokens answers GET ?username=NAME with a sign-in's tokens of the seeded user NAME as JSON
// (access_token, id_token), the SMS code of the admin taken from the outbox.
func demoTokens(cl *cognitolocal.Emulator) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+demoTokenPath, func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("username")
		var user *cognitolocal.User
		for _, u := range []*cognitolocal.User{&cl.Pool.Admin, &cl.Pool.User} {
			if u.Username == name {
				user = u
			}
		}
		if user == nil {
			http.Error(w, fmt.Sprintf("no seeded user %q: want %s or %s", name, cl.Pool.Admin.Username, cl.Pool.User.Username), http.StatusNotFound)
			return
		}
		tok, err := cl.SignIn(r.Context(), *user)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"access_token": tok.AccessToken, "id_token": tok.IdToken})
	})
	return mux
}

// runToken prints a seeded user's access token (or ID token), signed in at the demo's
// cognito-local: the compose stack's token helper.
func runToken(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "token",
		"testenv token [--from URL] [--id] [USER]: signs USER (default alice, in group admin; or bob) in at the\n"+
			"compose stack's cognito-local and prints the access token.")
	from := fs.String("from", "http://demo:9230", "the demo's --token-listen")
	idToken := fs.Bool("id", false, "print the ID token instead")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	admin, _ := cognitolocal.DemoUsers()
	user := admin.Username
	switch fs.NArg() {
	case 0:
	case 1:
		user = fs.Arg(0)
	default:
		return usageError{msg: "token takes at most one user name"}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *from+demoTokenPath+"?username="+url.QueryEscape(user), nil)
	if err != nil {
		return badConfig(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body := make([]byte, 1024)
		n, _ := resp.Body.Read(body)
		return fmt.Errorf("%s answered %s: %s", *from, resp.Status, body[:n])
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		IDToken     string `json:"id_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		return err
	}
	out := tok.AccessToken
	if *idToken {
		out = tok.IDToken
	}
	_, err = fmt.Fprintln(upStdout, out)
	return err
}
