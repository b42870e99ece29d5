package testkit

import (
	"errors"
	"net"
	"net/http"
	"testing"
)

// Server is what ServeLoopback runs: net/http's server, or one with the same Serve and Close.
type Server interface {
	Serve(net.Listener) error
	Close() error
}

// ServeLoopback serves srv on a loopback port until the test ends, and returns the address. At
// the end the server is closed, and Serve must have returned http.ErrServerClosed.
func ServeLoopback(t testing.TB, srv Server) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
		}
	})
	return lis.Addr().String()
}
