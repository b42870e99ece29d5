package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/cognito-authz/cognito-authz/extauthz"
)

// serve runs the service until ctx ends, then shuts down gracefully within a bound.
func serve(ctx context.Context, args []string, stderr io.Writer) int {
	cfg, flags, code, ok := serveConfig("serve", args, stderr)
	if !ok {
		return code
	}
	log, err := newLogger(cfg.Log, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "cognito-authz serve: %v\n", err)
		return exitBadArgs
	}
	defer func() { _ = log.Sync() }()
	r, err := extauthz.NewService(cfg, log)
	if err != nil {
		reportConfigError(stderr, "serve", err)
		return exitBadArgs
	}
	// SIGHUP or a change of the file reloads it, with the same flags laid over it.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	r.EnableReload(extauthz.Reloading{Load: flags.ResolveData, File: flags.ConfigFile, Signals: hup})
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

// serveConfig parses serve's flags and resolves the configuration they and the file describe.
// check-config calls it too, so that it judges exactly what serve would run. ok is false when the
// command must exit with code; the problem has then been reported on stderr.
func serveConfig(command string, args []string, stderr io.Writer) (cfg *extauthz.Config, o *extauthz.Overrides, code int, ok bool) {
	fs := newFlagSet(command, "[flags]", stderr)
	o = extauthz.BindFlags(fs)
	o.BindServeFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return nil, nil, code, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "cognito-authz %s: unexpected argument %q\n", command, fs.Arg(0))
		return nil, nil, exitBadArgs, false
	}
	if cfg = resolveConfig(o, command, stderr); cfg == nil {
		return nil, nil, exitBadArgs, false
	}
	return cfg, o, exitOK, true
}
