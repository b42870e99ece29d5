// Package runner runs one service out of a configuration, as lifecycle units that one group
// starts in order and stops in reverse: the admin listener (/healthz, /readyz, /metrics), the key
// refresh, the gRPC listener (the ext_authz Check service and grpc.health.v1), the HTTP
// forward-auth listener when configured, and the reload watch. What a check reads is a snapshot of
// the configuration (snapshot.go), which a reload replaces whole. `cognito-authz serve` is Run;
// tests and the local stack start it in-process with New and Start.
package runner

import (
	"context"
	"crypto/sha256"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/config"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/forwardauth"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/metrics"
)

// ShutdownTimeout bounds Run's graceful shutdown: in-flight checks get this long to finish.
const ShutdownTimeout = 10 * time.Second

// Service is one service instance. Start it once, shut it down once.
type Service struct {
	cfg     *config.Config // as started: listeners and TLS mode come from it
	log     *zap.Logger
	metrics *metrics.Metrics
	current atomic.Pointer[snapshot] // swapped by reload
	swapped chan struct{}            // a reload swapped current: the key refresh follows
	tls     *tlsReloader             // nil without TLS
	grpc    *grpc.Server
	health  *health.Server
	grpcL   *listener
	adminL  *listener
	httpL   *listener // nil when http_listen is off
	units   *group

	reloading Reloading // set before Start (EnableReload)
	// reloadBaseline is the watched files' content when reload was enabled (EnableReload).
	reloadBaseline [sha256.Size]byte

	mu        sync.Mutex // orders readiness and reloads against shutdown
	ready     atomic.Bool
	stopping  bool
	started   bool
	readyOnce sync.Once
	shutdown  sync.Once
	shutErr   error
}

// New builds the service from a validated-or-not configuration (it is validated here: a service
// never starts on a bad one). It binds nothing and fetches nothing.
func New(cfg *config.Config, log *zap.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	s := &Service{cfg: cfg, log: log, metrics: metrics.New(), swapped: make(chan struct{}, 1)}
	snap, err := s.newSnapshot(cfg, nil)
	if err != nil {
		return nil, err
	}
	s.current.Store(snap)
	if cfg.TLS.Enabled() {
		if s.tls, err = newTLSReloader(cfg.TLS); err != nil {
			return nil, err
		}
	}
	if s.grpcL, err = s.grpcListener(cfg.Listen); err != nil {
		return nil, err
	}
	s.adminL = adminListener(cfg.AdminListen, s.adminHandler(), log.Named("admin"))
	if cfg.HTTPListen != "" {
		s.httpL = forwardAuthListener(cfg.HTTPListen, forwardauth.New(s, forwardauth.Options{RequestIsOriginal: cfg.HTTPRequestIsOriginal}), log.Named("forwardauth"))
	}
	return s, nil
}

// Metrics are the service's metrics, for a caller that wants to read or extend them.
func (s *Service) Metrics() *metrics.Metrics { return s.metrics }

// Start binds the listeners, starts serving, and starts loading and refreshing keys in the
// background. It returns once every listener accepts; health stays NOT_SERVING and /readyz 503
// until every issuer's keys are loaded. ctx bounds only the start itself.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("runner: already started")
	}
	if s.stopping {
		return errors.New("runner: shut down")
	}
	// Stopped in reverse: the watch first, the admin listener last, so /readyz reports 503 until
	// the checks in flight have drained, and keys stay fresh for them. The serving listeners drain
	// together, so that one's slow checks do not spend the other's time.
	s.units = newGroup()
	s.units.add(s.adminL.unit(s.units))
	s.units.add(background("key refresh", s.refreshKeys))
	serving := []unit{s.grpcL.unit(s.units)}
	if s.httpL != nil {
		serving = append(serving, s.httpL.unit(s.units))
	}
	s.units.add(together(serving...))
	if rl := s.reloading; rl.Load != nil {
		s.units.add(background("reload watch", func(ctx context.Context) { s.watch(ctx, rl) }))
	}
	if err := s.units.start(ctx); err != nil {
		return err
	}
	s.started = true

	httpAddr := "off"
	if s.httpL != nil {
		httpAddr = s.httpL.Addr().String()
	}
	s.log.Info("serving",
		zap.Stringer("grpc", s.grpcL.Addr()), zap.Stringer("admin", s.adminL.Addr()), zap.String("http", httpAddr),
		zap.Bool("tls", s.cfg.TLS.Enabled()), zap.Bool("mtls", s.cfg.TLS.ClientCAFile != ""),
		zap.Strings("issuers", s.current.Load().verifier.Issuers()))
	return nil
}

// keysFetched runs after every key fetch of any issuer: the first time every issuer has keys, the
// service is ready.
func (s *Service) keysFetched(err error) {
	if err != nil || !s.current.Load().verifier.Ready() {
		return
	}
	s.readyOnce.Do(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.stopping {
			return
		}
		s.ready.Store(true)
		s.setHealth(healthpb.HealthCheckResponse_SERVING)
		s.log.Info("ready: keys loaded for every issuer")
	})
}

// GRPCAddr is the bound gRPC address (useful with ":0"), or nil before Start.
func (s *Service) GRPCAddr() net.Addr { return s.grpcL.Addr() }

// AdminAddr is the bound admin HTTP address, or nil before Start.
func (s *Service) AdminAddr() net.Addr { return s.adminL.Addr() }

// HTTPAddr is the bound HTTP forward-auth address, or nil before Start or when http_listen is off.
func (s *Service) HTTPAddr() net.Addr { return s.httpL.Addr() }

// Ready reports whether the service answers checks with keys for every issuer and is not shutting down.
func (s *Service) Ready() bool { return s.ready.Load() }

// Shutdown reports NOT_SERVING, then stops the units in reverse: in-flight checks finish until ctx
// ends (then are cut off), the key refresh stops, the admin listener closes. Later calls return
// the first call's result.
func (s *Service) Shutdown(ctx context.Context) error {
	s.shutdown.Do(func() { s.shutErr = s.doShutdown(ctx) })
	return s.shutErr
}

func (s *Service) doShutdown(ctx context.Context) error {
	s.mu.Lock()
	s.stopping = true
	s.ready.Store(false)
	started := s.started
	s.mu.Unlock()
	// Shutdown makes every status NOT_SERVING and ignores later updates.
	s.health.Shutdown()
	if !started {
		s.grpc.Stop()
		return nil
	}
	s.log.Info("shutting down: not serving, finishing in-flight checks")
	err := s.units.stop(ctx)
	if err != nil {
		s.log.Warn("shut down with errors", zap.Error(err))
	} else {
		s.log.Info("shut down")
	}
	return err
}

// Run starts the service, serves until ctx ends (e.g. on SIGTERM) or a server fails, then shuts
// down within ShutdownTimeout.
func (s *Service) Run(ctx context.Context) error {
	if err := s.Start(ctx); err != nil {
		return err
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-s.units.failed:
		s.log.Error("server stopped by itself", zap.Error(serveErr))
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	return errors.Join(serveErr, s.Shutdown(shutCtx))
}
