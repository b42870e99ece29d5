package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// readHeaderTimeout bounds how long the HTTP listeners (admin, forward-auth) wait for a request's
// headers, so a client that opens a connection and sends nothing cannot hold it.
const readHeaderTimeout = 5 * time.Second

// httpServer is one HTTP listener: the admin endpoints or the forward-auth endpoint.
type httpServer struct {
	key    string // the listener's configuration key, which its bind errors name
	name   string // what its other errors call it
	listen string
	server *http.Server
	lis    net.Listener
}

// newHTTPServer serves h on listen; idle bounds a kept-alive connection (0: no bound).
func newHTTPServer(key, name, listen string, h http.Handler, idle time.Duration, log *zap.Logger) *httpServer {
	return &httpServer{key: key, name: name, listen: listen, server: &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idle,
		ErrorLog:          zap.NewStdLog(log),
	}}
}

func (s *httpServer) addr() net.Addr { return addrOf(s.lis) }

// unit binds the listener and serves; stopping lets requests in flight finish until ctx ends.
func (s *httpServer) unit(g *group) unit {
	return serving(g, s.key, s.listen, s.name, &s.lis, s.server.Serve, func(ctx context.Context) error {
		if err := s.server.Shutdown(ctx); err != nil {
			s.server.Close()
			return fmt.Errorf("%s: %w", s.name, err)
		}
		return nil
	})
}

// serving is the unit of a listener: it binds addr (an error names key), serves on it with serve,
// reports a serve that stops by itself as name's failure, and stops with stop.
func serving(g *group, key, addr, name string, lis *net.Listener, serve func(net.Listener) error, stop func(context.Context) error) unit {
	return unit{
		start: func(ctx context.Context) error {
			var lc net.ListenConfig
			l, err := lc.Listen(ctx, "tcp", addr)
			if err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			*lis = l
			go func() {
				if err := serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
					g.failed <- fmt.Errorf("%s: %w", name, err)
				}
			}()
			return nil
		},
		stop: stop,
	}
}

func addrOf(l net.Listener) net.Addr {
	if l == nil {
		return nil
	}
	return l.Addr()
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
