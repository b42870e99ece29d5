// Command cognito-authz is the Envoy ext_authz service for Amazon Cognito tokens
// (docs/reference.md#commands): serve (the default), verify, check-config, version and healthcheck.
// It only wires flags to the extauthz packages; every subcommand is a function of its arguments and
// streams, tested in-process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/cognito-authz/cognito-authz/extauthz"
)

// version is set at build time: go build -ldflags "-X main.version=1.2.3".
var version = "dev"

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1 // invalid token, unhealthy, or the service failed
	exitBadArgs = 2 // usage or configuration error
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage:
  cognito-authz [serve] [flags]          run the service (default when no subcommand)
  cognito-authz verify  [flags] TOKEN|-  verify one token, print JSON, exit 0 valid / 1 invalid / 2 usage or config error
  cognito-authz check-config [flags]     load and validate the configuration, print the effective one, exit 0 / 2
  cognito-authz version                  print the version
  cognito-authz healthcheck [flags]      probe grpc.health.v1, exit 0 when SERVING, 1 otherwise
  cognito-authz help [COMMAND]           this list, or a command's flags

Run "cognito-authz COMMAND -h" for a command's flags. Every flag, key, header, metric and reason
code is described in docs/reference.md.
`

// run dispatches to a subcommand and returns the process exit code. ctx ends on SIGTERM/SIGINT.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	command := "serve"
	switch {
	case len(args) > 0 && isHelpFlag(args[0]):
		// Help for the program, not for serve: the list of commands.
		command, args = "help", args[1:]
	case len(args) > 0 && !strings.HasPrefix(args[0], "-"):
		command, args = args[0], args[1:]
	}
	switch command {
	case "serve":
		return serve(ctx, args, stderr)
	case "verify":
		return verify(ctx, args, stdin, stdout, stderr)
	case "check-config":
		return checkConfig(args, stdout, stderr)
	case "version":
		if len(args) > 0 {
			fmt.Fprintln(stderr, "cognito-authz version: takes no arguments")
			return exitBadArgs
		}
		fmt.Fprintln(stdout, "cognito-authz", version)
		return exitOK
	case "healthcheck":
		return healthcheck(ctx, args, stdout, stderr)
	case "help":
		if len(args) == 1 && args[0] != "help" && !isHelpFlag(args[0]) {
			return run(ctx, []string{args[0], "-h"}, stdin, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "cognito-authz: unknown command %q\n%s", command, usage)
		return exitBadArgs
	}
}

func isHelpFlag(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("cognito-authz "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: cognito-authz %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; ok is false when the command must exit with code (help or a bad flag,
// already reported by the flag package).
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return 0, true
	case errors.Is(err, flag.ErrHelp):
		return exitOK, false
	default:
		return exitBadArgs, false
	}
}

// resolveConfig reads the file and flags; on error it reports every problem and returns nil.
func resolveConfig(o *extauthz.Overrides, command string, stderr io.Writer) *extauthz.Config {
	cfg, err := o.Resolve()
	if err != nil {
		reportConfigError(stderr, command, err)
		return nil
	}
	return cfg
}

func reportConfigError(stderr io.Writer, command string, err error) {
	fmt.Fprintf(stderr, "cognito-authz %s: bad configuration:\n", command)
	for line := range strings.SplitSeq(err.Error(), "\n") {
		fmt.Fprintf(stderr, "  %s\n", line)
	}
}
