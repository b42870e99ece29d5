package e2e_test

import (
	"errors"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/cognito-authz/cognito-authz/extauthz"
	"github.com/cognito-authz/cognito-authz/testenv/e2e"
)

// composeConfig is the compose stack's cognito-authz configuration, which `testenv up` mirrors.
var composeConfig = filepath.Join("..", "..", "deploy", "compose", "cognito-authz.yaml")

func TestDemoConfigIsTheComposeConfig(t *testing.T) {
	file, err := extauthz.LoadConfig(composeConfig)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("%s is not in this tree", composeConfig)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(file.Issuers) != 1 {
		t.Fatalf("%s has %d issuers, want the one local pool", composeConfig, len(file.Issuers))
	}
	demo := e2e.DemoConfig(file.Issuers[0].Issuer, file.Issuers[0].JWKSURL)
	if err := demo.Validate(); err != nil {
		t.Fatalf("DemoConfig does not validate: %v", err)
	}
	// Only the addresses differ: compose listens on fixed ports of its own network.
	demo.Listen, demo.AdminListen = file.Listen, file.AdminListen
	want, err := file.YAML()
	if err != nil {
		t.Fatal(err)
	}
	got, err := demo.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("DemoConfig drifted from %s:\n--- DemoConfig ---\n%s\n--- %s ---\n%s", composeConfig, got, composeConfig, want)
	}
}
