package jwks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// errRedirect stops a client from following any redirect: keys come from the configured URL only,
// so a 3xx is answered as a failed fetch (status 30x) rather than followed.
var errRedirect = errors.New("redirects are not followed")

func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// noRedirects returns a copy of c (or of a default client) that never follows a redirect, so even a
// caller-supplied client cannot fetch a URL other than the configured one.
func noRedirects(c *http.Client) *http.Client {
	var out http.Client
	if c != nil {
		out = *c
	}
	out.CheckRedirect = refuseRedirect
	return &out
}

// fetchBody GETs url and returns its body: status 200 only, at most maxBytes, all within ctx.
func fetchBody(ctx context.Context, client *http.Client, url string, maxBytes int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("bad JWKS URL: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			return nil, fmt.Errorf("status %d: %w", resp.StatusCode, errRedirect)
		}
		return nil, fmt.Errorf("status %d, want 200", resp.StatusCode)
	}
	if resp.ContentLength > maxBytes {
		return nil, fmt.Errorf("body of %d bytes exceeds the %d-byte limit", resp.ContentLength, maxBytes)
	}
	// Read one byte past the cap: a body that reaches it is too large, never silently truncated.
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading body: %w", err)
	}
	if int64(len(body)) > maxBytes {
		return nil, fmt.Errorf("body exceeds the %d-byte limit", maxBytes)
	}
	return body, nil
}
