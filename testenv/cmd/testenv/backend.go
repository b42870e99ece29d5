package main

import (
	"context"
	"fmt"

	"github.com/cognito-authz/cognito-authz/testenv/backend"
)

func runBackend(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "backend", "")
	listen := fs.String("listen", ":8081", "address to listen on")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "testenv backend: listening on %s (%s, %s/..., %s, %s)\n", *listen, backend.HomePath, backend.AdminPath, backend.HealthzPath, backend.PingPath)
	return serve(ctx, e, *listen, backend.New(backend.Options{}))
}
