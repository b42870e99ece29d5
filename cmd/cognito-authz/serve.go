package main

import (
	"context"
	"fmt"
	"io"

	"go.uber.org/zap"

	"github.com/cognito-authz/cognito-authz/extauthz/config"
	"github.com/cognito-authz/cognito-authz/extauthz/runner"
)

// serve runs the service until ctx ends, then shuts down gracefully within a bound.
func serve(ctx context.Context, args []string, stderr io.Writer) int {
	fs := newFlagSet("serve", "[flags]", stderr)
	o := config.BindFlags(fs)
	o.BindServeFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "cognito-authz serve: unexpected argument %q\n", fs.Arg(0))
		return exitBadArgs
	}
	cfg := resolveConfig(o, "serve", stderr)
	if cfg == nil {
		return exitBadArgs
	}
	log, err := newLogger(cfg.Log, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "cognito-authz serve: %v\n", err)
		return exitBadArgs
	}
	defer func() { _ = log.Sync() }()
	r, err := runner.New(cfg, log)
	if err != nil {
		reportConfigError(stderr, "serve", err)
		return exitBadArgs
	}
	err = r.Run(ctx)
	if ctx.Err() != nil {
		// Stopped by a signal: that is success, even if the bound cut in-flight checks off.
		if err != nil {
			log.Warn("stopped", zap.Error(err))
		}
		return exitOK
	}
	log.Error("service failed", zap.Error(err))
	return exitFailed
}
