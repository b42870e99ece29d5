package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/cognito-authz/cognito-authz/testenv/issuer"
)

func runIssuer(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "issuer", "")
	listen := fs.String("listen", ":8080", "address to listen on")
	baseURL := fs.String("base-url", "http://issuer:8080", "URL clients reach the issuer at; tokens carry iss=<base-url>/<pool-id>")
	poolID := fs.String("pool-id", issuer.DefaultPoolID, "user pool id")
	ttl := fs.Duration("ttl", issuer.DefaultTTL, "lifetime of minted tokens")
	var clientIDs listFlag
	fs.Var(&clientIDs, "client-id", "app client id, repeatable or comma-separated; the first is the default (default demo-client)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if len(clientIDs) == 0 {
		clientIDs = listFlag{"demo-client"}
	}
	is, err := issuer.New(issuer.Options{BaseURL: *baseURL, PoolID: *poolID, ClientIDs: clientIDs, TTL: *ttl})
	if err != nil {
		return badConfig(err)
	}
	fmt.Fprintf(e.stderr, "testenv issuer: listening on %s as %s (signing key %s)\n  keys: GET  %s\n  mint: POST %s/token  {\"username\":\"alice\",\"groups\":[\"admin\"],\"token_use\":\"access\"}\n",
		*listen, is.IssuerURL(), is.SigningKey().ID, is.JWKSURL(), is.IssuerURL())
	return serve(ctx, e, *listen, is)
}

// listFlag collects a repeatable, comma-separated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return fmt.Errorf("empty value in %q", v)
		}
		*l = append(*l, part)
	}
	return nil
}
