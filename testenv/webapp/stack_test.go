package webapp_test

import (
	"path/filepath"
	"testing"

	"github.com/cognito-authz/cognito-authz/testenv/cognitolocal"
	"github.com/cognito-authz/cognito-authz/testenv/e2e"
	"github.com/cognito-authz/cognito-authz/testenv/npmcache"
)

// emulatorKeyFile is where cognito-local 3.23.3 publishes the one private key it signs every
// pool's tokens with, relative to its installation.
const emulatorKeyFile = "node_modules/cognito-local/lib/keys/cognitoLocal.private.json"

// startDemo starts what `make demo` runs: the web app, the demo backend and cognito-local's
// Cognito API behind a real Envoy and cognito-authz, signed in against a seeded cognito-local.
func startDemo(t *testing.T) demo {
	t.Helper()
	s := e2e.StartTest(t, e2e.Options{IdP: e2e.IdPCognitoLocal})
	info, pool := s.Info(), s.CognitoLocal.Pool
	return demo{
		AppURL:     info.AppURL,
		OutboxURL:  info.OutboxURL,
		ClientID:   info.ClientID,
		CognitoAPI: info.IdPEndpoint,
		Admin:      seededUser{pool.Admin.Username, pool.Admin.Password},
		User:       seededUser{pool.User.Username, pool.User.Password},
		SigningKey: filepath.Join(npmcache.EnsureTest(t, cognitolocal.InstallSpec()), emulatorKeyFile),
	}
}

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
