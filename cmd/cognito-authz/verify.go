package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/cognito-authz/cognito-authz/extauthz"
)

// maxStdinToken caps what verify reads from stdin; anything near it is too_large anyway.
const maxStdinToken = 1 << 20

// verify checks one token against the configured issuers, fetching the keys it needs now.
func verify(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("verify", "[flags] TOKEN|-", stderr)
	o := extauthz.BindFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "cognito-authz verify: want exactly one TOKEN, or - to read it from stdin")
		fs.Usage()
		return exitBadArgs
	}
	token := fs.Arg(0)
	if token == "-" {
		data, err := io.ReadAll(io.LimitReader(stdin, maxStdinToken))
		if err != nil {
			fmt.Fprintf(stderr, "cognito-authz verify: reading stdin: %v\n", err)
			return exitBadArgs
		}
		token = string(data)
	}

	cfg := resolveConfig(o, "verify", stderr)
	if cfg == nil {
		return exitBadArgs
	}
	log, err := newLogger(extauthz.Log{Level: "warn", Format: "console"}, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "cognito-authz verify: %v\n", err)
		return exitBadArgs
	}
	result, err := extauthz.VerifyToken(ctx, cfg, log, token)
	if err != nil {
		reportConfigError(stderr, "verify", err)
		return exitBadArgs
	}
	return printResult(stdout, result)
}

// printResult writes r as one JSON line and returns the exit code it stands for.
func printResult(stdout io.Writer, r extauthz.Verification) int {
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return exitFailed
	}
	if r.Valid {
		return exitOK
	}
	return exitFailed
}
