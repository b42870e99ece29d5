package main

import (
	"fmt"
	"io"

	"github.com/cognito-authz/cognito-authz/extauthz"
)

// checkConfig validates the configuration as serve would build it, and prints the effective
// configuration as YAML: defaults and derived values (each issuer's jwks_url) written out.
func checkConfig(args []string, stdout, stderr io.Writer) int {
	cfg, _, code, ok := serveConfig("check-config", args, stderr)
	if !ok {
		return code
	}
	// Building the service (it binds and fetches nothing) catches what only the packages that do
	// the work can judge.
	if _, err := extauthz.NewService(cfg, nil); err != nil {
		reportConfigError(stderr, "check-config", err)
		return exitBadArgs
	}
	// Valid but probably a mistake: said on stderr, and the configuration still passes.
	for _, w := range cfg.Policy.Warnings() {
		fmt.Fprintf(stderr, "cognito-authz check-config: warning: %s\n", w)
	}
	eff, err := cfg.Effective()
	if err != nil {
		reportConfigError(stderr, "check-config", err)
		return exitBadArgs
	}
	out, err := eff.YAML()
	if err != nil {
		fmt.Fprintf(stderr, "cognito-authz check-config: %v\n", err)
		return exitFailed
	}
	if _, err := stdout.Write(out); err != nil {
		return exitFailed
	}
	return exitOK
}
