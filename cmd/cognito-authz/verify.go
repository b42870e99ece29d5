package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"go.uber.org/zap"

	"github.com/cognito-authz/cognito-authz/extauthz/config"
	"github.com/cognito-authz/cognito-authz/extauthz/reason"
	"github.com/cognito-authz/cognito-authz/extauthz/verifier"
)

// maxStdinToken caps what verify reads from stdin; anything near it is too_large anyway.
const maxStdinToken = 1 << 20

// verifyResult is the one JSON object verify prints (docs/reference.md#verify).
type verifyResult struct {
	Valid    bool              `json:"valid"`
	Issuer   string            `json:"issuer,omitempty"`
	TokenUse verifier.TokenUse `json:"token_use,omitempty"`
	Claims   map[string]any    `json:"claims,omitempty"`
	Reason   reason.Code       `json:"reason,omitempty"`
	Message  string            `json:"message,omitempty"`
}

// verify checks one token against the configured issuers, fetching the keys it needs now.
func verify(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("verify", "[flags] TOKEN|-", stderr)
	o := config.BindFlags(fs)
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
	token = trimBearer(strings.TrimSpace(token))

	cfg := resolveConfig(o, "verify", stderr)
	if cfg == nil {
		return exitBadArgs
	}
	log, err := newLogger(config.Log{Level: "warn", Format: "console"}, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "cognito-authz verify: %v\n", err)
		return exitBadArgs
	}
	vcfg := cfg.VerifierConfig()
	vcfg.Logger = log.Named("jwks")
	v, err := verifier.New(vcfg)
	if err != nil {
		reportConfigError(stderr, "verify", err)
		return exitBadArgs
	}

	// No LoadMissing first: Verify checks every claim before it needs a key, and fetches the keys of the
	// token's issuer only then, so a token that is expired, or for another issuer or client, is
	// reported as such even when the keys cannot be fetched (offline, say). A token whose claims
	// pass still needs its key: then the answer is jwks_unavailable.
	claims, err := v.Verify(ctx, token)
	if err != nil {
		message := err.Error()
		if e, ok := err.(*verifier.Error); ok {
			message = e.Message
		}
		return printResult(stdout, verifyResult{Reason: verifier.ReasonOf(err), Message: message})
	}
	m, err := claims.Map()
	if err != nil { // a verified payload is a JSON object; this would be a verifier bug
		log.Error("decoding verified claims", zap.Error(err))
		return printResult(stdout, verifyResult{Reason: reason.Malformed, Message: "claims cannot be decoded"})
	}
	return printResult(stdout, verifyResult{Valid: true, Issuer: claims.Issuer, TokenUse: claims.TokenUse, Claims: m})
}

// printResult writes r as one JSON line and returns the exit code it stands for.
func printResult(stdout io.Writer, r verifyResult) int {
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

// trimBearer accepts a pasted Authorization header value as well as a bare token.
func trimBearer(s string) string {
	if len(s) > 7 && strings.EqualFold(s[:7], "bearer ") {
		return strings.TrimSpace(s[7:])
	}
	return s
}
