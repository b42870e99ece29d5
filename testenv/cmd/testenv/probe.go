package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// runProbe is a container healthcheck for images without a shell: GET one loopback URL, succeed
// on a 2xx answer.
func runProbe(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "probe", "testenv probe [--timeout 2s] URL: GET one URL, exit 0 on a 2xx answer (a healthcheck for\nimages without a shell).")
	timeout := fs.Duration("timeout", 2*time.Second, "how long the request may take")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage // the flag package has printed the problem and the usage
	}
	if fs.NArg() != 1 {
		return usageError{msg: "probe takes exactly one URL"}
	}
	target, err := url.Parse(fs.Arg(0))
	if err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
		return usageError{msg: fmt.Sprintf("probe: %q is not an http(s) URL", fs.Arg(0))}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("probe: %s answered %s", target.Redacted(), resp.Status)
	}
	return nil
}
