package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/forwardauth"
)

// readHeaderTimeout bounds how long the HTTP listeners (admin, forward-auth) wait for a request's
// headers, so a client that opens a connection and sends nothing cannot hold it.
const readHeaderTimeout = 5 * time.Second

// listener is one of the service's listeners and the server on it.
type listener struct {
	key, addr, name string // its configuration key and address; what errors call its server
	serve           func(net.Listener) error
	stop            func(context.Context) error // returns once stopped, or when ctx ends
	lis             net.Listener                // once bound
}

// server is what a listener runs: net/http's for the admin endpoints, the forward-auth endpoint's
// own (forwardauth.NewServer).
type server interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
}

// newListener serves srv on addr. Stopping lets requests in flight finish until ctx ends, then
// closes every connection.
func newListener(key, name, addr string, srv server) *listener {
	return &listener{key: key, addr: addr, name: name, serve: srv.Serve, stop: func(ctx context.Context) error {
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}}
}

// adminListener serves the admin endpoints on addr.
func adminListener(addr string, h http.Handler, log *zap.Logger) *listener {
	return newListener("admin_listen", "admin server", addr, &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout, ErrorLog: zap.NewStdLog(log)})
}

// forwardAuthListener serves the HTTP forward-auth endpoint on addr. A kept-alive connection from
// the proxy waits up to two minutes for its next check; an answer the proxy does not take within
// 10 s closes its connection.
func forwardAuthListener(addr string, h *forwardauth.Handler, log *zap.Logger) *listener {
	t := forwardauth.Timeouts{Head: readHeaderTimeout, Idle: 2 * time.Minute, Write: 10 * time.Second}
	return newListener("http_listen", "HTTP forward-auth server", addr, forwardauth.NewServer(h, t, log))
}

// Addr is the bound address, or nil before it is bound or when l is nil (a listener that is off).
func (l *listener) Addr() net.Addr {
	if l == nil || l.lis == nil {
		return nil
	}
	return l.lis.Addr()
}

// unit binds the address (an error names the key), serves, and reports a server that stops by
// itself to g.
func (l *listener) unit(g *group) unit {
	return unit{
		start: func(ctx context.Context) error {
			var lc net.ListenConfig
			lis, err := lc.Listen(ctx, "tcp", l.addr)
			if err != nil {
				return fmt.Errorf("%s: %w", l.key, err)
			}
			l.lis = lis
			go func() {
				if err := l.serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
					g.failed <- fmt.Errorf("%s: %w", l.name, err)
				}
			}()
			return nil
		},
		stop: l.stop,
	}
}

// adminHandler serves /healthz, /readyz and /metrics.
func (s *Service) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.serveHealthz)
	mux.HandleFunc("GET /readyz", s.serveReadyz)
	mux.Handle("GET /metrics", s.metrics.Handler())
	return mux
}

func (s *Service) serveHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

func (s *Service) serveReadyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if s.ready.Load() {
		fmt.Fprintln(w, "ready")
		return
	}
	w.WriteHeader(http.StatusServiceUnavailable)
	s.mu.Lock()
	stopping := s.stopping
	s.mu.Unlock()
	if stopping {
		fmt.Fprintln(w, "not ready: shutting down")
	} else {
		fmt.Fprintln(w, "not ready: keys not loaded for every issuer")
	}
}
