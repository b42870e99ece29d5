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
	return unit{
		start: func(ctx context.Context) error {
			lis, err := listen(ctx, s.key, s.listen)
			if err != nil {
				return err
			}
			s.lis = lis
			go func() {
				if err := s.server.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
					g.fail(fmt.Errorf("%s: %w", s.name, err))
				}
			}()
			return nil
		},
		stop: func(ctx context.Context) error {
			if err := s.server.Shutdown(ctx); err != nil {
				s.server.Close()
				return fmt.Errorf("%s: %w", s.name, err)
			}
			return nil
		},
	}
}

// listen binds addr; its error names the configuration key.
func listen(ctx context.Context, key, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return lis, nil
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
