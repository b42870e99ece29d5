// Command testenv runs the local stack (README.md, "The two commands"):
//
//	testenv up      [--idp cognito-local|builtin|aws] [--port 8000] [--info FILE]
//	                                 the whole stack behind a real Envoy, until Ctrl-C (make demo)
//	testenv bench   [--duration 30s] no-auth, jwt_authn and cognito-authz behind Envoy, side by side
//	testenv issuer  [--listen :8080] [--base-url http://issuer:8080] [--pool-id local_pool] [--client-id demo-client]
//	testenv backend [--listen :8081]
//	testenv probe   URL              exit 0 when URL answers 2xx (container healthchecks)
//	testenv demo    [--listen :8081] [--cognito-listen :9229] [--token-listen :9230]
//	                                 cognito-local, the web app, outbox and demo backend (docker-compose.yml)
//	testenv token   [--from http://demo:9230] [alice|bob]
//	                                 print a demo user's access token (the compose stack's token helper)
//	testenv images  [--engine podman] build stand-ins for the Dockerfile's and compose file's base images
//
// issuer and backend run one piece per process, so a container can run each. It is wiring only:
// the pieces live in testenv/issuer, testenv/backend, testenv/cognitolocal, testenv/webapp,
// testenv/e2e and testenv/bench.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env env, args []string) error
}

// commands lists the subcommands in the order usage shows them.
var commands = []command{
	{"issuer", "serve a local Cognito-compatible issuer (JWKS and a token mint endpoint)", runIssuer},
	{"backend", "serve the demo app", runBackend},
	{"probe", "GET a URL, exit 0 on 2xx: a container healthcheck without a shell", runProbe},
	{"up", "run the whole stack (identity provider, cognito-authz, app, Envoy) on loopback until Ctrl-C", runUp},
	{"bench", "measure no-auth, jwt_authn and cognito-authz behind Envoy side by side", runBench},
	{"demo", "serve cognito-local, the web app, outbox and demo backend behind your own Envoy (the compose stack)", runDemo},
	{"token", "print a demo user's access token, signed in at the compose stack's cognito-local", runToken},
	{"images", "build stand-ins for the base images the Dockerfile and compose file use (no registry here)", runImages},
}

// env is what a command may use besides its arguments.
type env struct {
	stderr io.Writer
	// onListen, when set, is told the address a server listens on (tests listen on port 0).
	onListen func(net.Addr)
}

// logf returns a printf for command name's progress lines on stderr, which start like its errors.
func (e env) logf(name string) func(format string, args ...any) {
	return func(format string, args ...any) {
		fmt.Fprintf(e.stderr, "testenv "+name+": "+format+"\n", args...)
	}
}

// usageError is a mistake in the command line or configuration (exit status 2). An empty message
// means the flag package has already printed the problem and the usage.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// errUsage is a usage error already printed.
var errUsage = usageError{}

// badConfig makes err a usage error: the caller's to fix, not a failure of the command.
func badConfig(err error) error { return usageError{msg: err.Error()} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], env{stderr: os.Stderr})
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit status: 0 done, 1 failed, 2 usage error.
func run(ctx context.Context, args []string, e env) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, e, args[1:])
		var bad usageError
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &bad):
			if bad.msg != "" {
				fmt.Fprintf(e.stderr, "testenv %s: %s\n", c.name, bad.msg)
			}
			return 2
		default:
			fmt.Fprintf(e.stderr, "testenv %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(e.stderr, "testenv: unknown command %q\n\n", args[0])
	usage(e.stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: testenv <command> [flags]   (testenv <command> -h for its flags)")
	fmt.Fprintln(w)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
}

// newFlagSet returns command name's flag set, reporting to e.stderr instead of exiting. about, when
// not empty, is printed between the usage line and the flags.
func newFlagSet(e env, name, about string) *flag.FlagSet {
	fs := flag.NewFlagSet("testenv "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	if about != "" {
		fs.Usage = func() {
			fmt.Fprintf(fs.Output(), "usage: testenv %s [flags]\n\n%s\n\n", name, about)
			fs.PrintDefaults()
		}
	}
	return fs
}

// flagProblems collects what is wrong with a command's flag values, so that one usage error names
// them all.
type flagProblems []string

// check records the problem format describes when bad holds.
func (p *flagProblems) check(bad bool, format string, args ...any) {
	if bad {
		*p = append(*p, fmt.Sprintf(format, args...))
	}
}

// err is a usage error naming every problem, or nil when there is none.
func (p flagProblems) err() error {
	if len(p) == 0 {
		return nil
	}
	return usageError{msg: strings.Join(p, "; ")}
}

// parseFlags parses args into fs, turning a bad flag or a stray argument into errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage // the flag package has printed the problem and the usage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}
