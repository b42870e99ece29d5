package webapp_test

// startDemo is an interim stack until testenv/e2e serves the app and cognito-local behind Envoy
// (branch i10idp): the API calls go through a real Envoy and cognito-authz to the demo backend,
// and the tokens come from a real cognito-local, but the page and the emulator's API are reached
// through a Go reverse proxy in front of Envoy.

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/cognito-authz/cognito-authz/extauthz/config"
	"github.com/cognito-authz/cognito-authz/extauthz/verifier"
	"github.com/cognito-authz/cognito-authz/testenv/cognitolocal"
	"github.com/cognito-authz/cognito-authz/testenv/e2e"
	"github.com/cognito-authz/cognito-authz/testenv/npmcache"
	"github.com/cognito-authz/cognito-authz/testenv/webapp"
)

func startDemo(t *testing.T) demo {
	em := cognitolocal.StartTest(t, cognitolocal.Options{})
	installDir := npmcache.EnsureTest(t, cognitolocal.InstallSpec())
	pool := em.Pool
	s, err := e2e.Start(t.Context(), e2e.Options{Configure: func(c *config.Config) {
		c.Issuers = []config.Issuer{{Issuer: pool.Issuer, JWKSURL: pool.JWKSURL, ClientIDs: []string{pool.ClientID}, TokenUse: verifier.TokenUseAny}}
		c.TokenSources.AmplifyCookies = true
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	envoyURL, _ := url.Parse(s.URL())
	clu, _ := url.Parse(em.URL())
	app := webapp.Handler(webapp.Config{IdP: "cognito-local", Region: pool.Region, UserPoolID: pool.ID, ClientID: pool.ClientID, Endpoint: "/cognito-idp/"})
	toEnvoy := httputil.NewSingleHostReverseProxy(envoyURL)
	toCL := httputil.NewSingleHostReverseProxy(clu)
	toEnvoy.Transport = &http.Transport{Proxy: nil}
	toCL.Transport = &http.Transport{Proxy: nil}
	mux := http.NewServeMux()
	mux.Handle("/api/", toEnvoy)
	mux.Handle("/cognito-idp/", http.StripPrefix("/cognito-idp", toCL))
	mux.Handle("/outbox", em.Outbox)
	mux.Handle("/", app)
	fl, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: mux}
	go srv.Serve(fl)
	t.Cleanup(func() { srv.Close() })
	appURL := "http://" + fl.Addr().String()
	return demo{AppURL: appURL, OutboxURL: appURL + "/outbox", ClientID: pool.ClientID, UserPoolID: pool.ID,
		Admin: seededUser{pool.Admin.Username, pool.Admin.Password}, User: seededUser{pool.User.Username, pool.User.Password},
		SigningKey: filepath.Join(installDir, "node_modules/cognito-local/lib/keys/cognitoLocal.private.json")}
}
