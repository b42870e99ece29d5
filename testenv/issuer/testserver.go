package issuer

import (
	"net/http/httptest"
	"testing"
)

// NewTestServer starts an Issuer for opts on a loopback port (opts.BaseURL is set to it) and stops
// it when the test ends.
func NewTestServer(t testing.TB, opts Options) *Issuer {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	opts.BaseURL = "http://" + srv.Listener.Addr().String()
	is, err := New(opts)
	if err != nil {
		srv.Listener.Close()
		t.Fatalf("issuer.NewTestServer: %v", err)
	}
	srv.Config.Handler = is
	srv.Start()
	t.Cleanup(srv.Close)
	return is
}

// MustMint is Mint for tests: a spec Mint rejects fails t.
func (is *Issuer) MustMint(t testing.TB, spec TokenSpec) string {
	t.Helper()
	token, err := is.Mint(spec)
	if err != nil {
		t.Fatalf("issuer: mint %+v: %v", spec, err)
	}
	return token
}
