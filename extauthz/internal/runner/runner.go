// Package runner wires one running service out of a configuration: the verifier and its key
// refresh, the ext_authz Check service and grpc.health.v1 on the gRPC listener, the HTTP
// forward-auth endpoint on its own listener when configured, /healthz, /readyz and /metrics on the
// admin listener, and live reload of the configuration. `cognito-authz serve` is Run; tests and
// the local stack start it in-process with New and Start.
package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/authz"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/config"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/forwardauth"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/metrics"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/verifier"
)

// ShutdownTimeout bounds Run's graceful shutdown: in-flight checks get this long to finish.
const ShutdownTimeout = 10 * time.Second

// readHeaderTimeout bounds how long the HTTP listeners (admin, forward-auth) wait for a request's
// headers, so a client that opens a connection and sends nothing cannot hold it.
const readHeaderTimeout = 5 * time.Second

// AuthorizationService is the gRPC service name whose health is reported, beside "" (the server).
var AuthorizationService = authv3.Authorization_ServiceDesc.ServiceName

// Runner is one service instance. Start it once, shut it down once.
type Runner struct {
	cfg     *config.Config // as started: listeners and TLS mode come from it
	log     *zap.Logger
	metrics *metrics.Metrics
	checks  *liveService // the current engine, swapped by reload
	tls     *tlsReloader // nil without TLS
	grpc    *grpc.Server
	health  *health.Server
	admin   *http.Server
	http    *http.Server // nil when http_listen is off

	grpcLis, adminLis, httpLis net.Listener
	serveErr                   chan error // first error of a Serve that stopped by itself

	mu        sync.Mutex // orders readiness and reloads against shutdown
	ready     atomic.Bool
	stopping  bool
	started   bool
	keys      keyRefresh // the current engine's key refresh loop
	shutdown  sync.Once
	shutErr   error
	readyOnce sync.Once

	reloading Reloading // set before Start; its watch loop is the one caller of reload
	stopWatch context.CancelFunc
	watchDone chan struct{}
}

// keyRefresh is one verifier's running key refresh loop.
type keyRefresh struct {
	stop context.CancelFunc
	done chan struct{}
}

// New builds the service from a validated-or-not configuration (it is validated again here: a
// runner never starts on a bad one). It binds nothing and fetches nothing.
func New(cfg *config.Config, log *zap.Logger) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	r := &Runner{
		cfg:      cfg,
		log:      log,
		metrics:  metrics.New(),
		checks:   &liveService{},
		health:   health.NewServer(),
		serveErr: make(chan error, 3),
	}
	e, err := r.newEngine(cfg, nil)
	if err != nil {
		return nil, err
	}
	r.checks.engine.Store(e)

	if cfg.TLS.Enabled() {
		if r.tls, err = newTLSReloader(cfg.TLS); err != nil {
			return nil, err
		}
	}
	opts, err := serverOptions(r.tls, r.decodePanicked)
	if err != nil {
		return nil, err
	}
	r.grpc = grpc.NewServer(opts...)
	authz.Register(r.grpc, r.checks)
	healthpb.RegisterHealthServer(r.grpc, r.health)
	r.setHealth(healthpb.HealthCheckResponse_NOT_SERVING)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", r.serveHealthz)
	mux.HandleFunc("GET /readyz", r.serveReadyz)
	mux.Handle("GET /metrics", r.metrics.Handler())
	r.admin = &http.Server{Handler: mux, ReadHeaderTimeout: readHeaderTimeout, ErrorLog: zap.NewStdLog(log.Named("admin"))}
	if cfg.HTTPListen != "" {
		r.http = &http.Server{
			Handler:           forwardauth.New(r.checks),
			ReadHeaderTimeout: readHeaderTimeout,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          zap.NewStdLog(log.Named("forwardauth")),
		}
	}
	return r, nil
}

// engine is everything a check reads that the configuration decides: immutable, replaced whole by
// a reload, and loaded once per check so a check never sees half of one and half of another.
type engine struct {
	cfg      *config.Config
	verifier *verifier.Verifier[authz.Answer]
	service  *authz.Server
}

// newEngine builds an engine for cfg; prev, when set, lends the key caches of unchanged issuers.
func (r *Runner) newEngine(cfg *config.Config, prev *engine) (*engine, error) {
	vcfg := cfg.VerifierConfig()
	vcfg.Logger = r.log.Named("jwks")
	vcfg.Observer = readinessObserver{Metrics: r.metrics, fetched: r.keysFetched}
	// Only the claims header needs the payload; without it a cached token does not keep a copy.
	vcfg.OmitPayload = cfg.IdentityHeaders.ClaimsHeader == ""
	if prev != nil {
		vcfg.Previous = prev.verifier
	}
	v, err := verifier.New[authz.Answer](vcfg)
	if err != nil {
		return nil, err
	}
	service, err := authz.New(authz.Options{
		Verifier:     v,
		Policy:       cfg.Policy,
		TokenSources: cfg.TokenSourcesFor(),
		Headers:      cfg.IdentityHeaders,
		Recorder:     r.metrics,
		Logger:       r.log.Named("authz"),
	})
	if err != nil {
		return nil, err
	}
	return &engine{cfg: cfg, verifier: v, service: service}, nil
}

// liveService is the Authorization service registered on the gRPC server and behind the HTTP
// endpoint: it hands each check to the engine current when the check arrives.
type liveService struct {
	engine atomic.Pointer[engine]
}

// Check answers with the current engine (authz.Server.Check).
func (l *liveService) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return l.engine.Load().service.Check(ctx, req)
}

// CheckAnswer answers with the current engine (authz.Server.CheckAnswer), what authz.Register serves.
func (l *liveService) CheckAnswer(ctx context.Context, req *authv3.CheckRequest) (*authz.Answer, error) {
	return l.engine.Load().service.CheckAnswer(ctx, req)
}

func (r *Runner) current() *engine { return r.checks.engine.Load() }

// Flow-control windows of the gRPC listener. A check is a few KiB at most (max_token_bytes plus
// Envoy's attributes), so these never hold a check back; being static they also turn off
// grpc-go's bandwidth-delay probing, which otherwise sends Envoy a PING and a WINDOW_UPDATE about
// once per round trip on a busy connection, for windows small messages never need.
const (
	streamWindow = 1 << 20
	connWindow   = 4 << 20
)

// serverOptions: Envoy keeps a few long-lived HTTP/2 connections and multiplexes every check on
// them, may ping them to keep them alive, and must never be cut off for pinging.
func serverOptions(tls *tlsReloader, decodePanicked func(p any)) ([]grpc.ServerOption, error) {
	c, err := authz.NewCodec(decodePanicked)
	if err != nil {
		return nil, err
	}
	opts := []grpc.ServerOption{
		grpc.ForceServerCodecV2(c),
		// Checks run on goroutines kept between calls: a new goroutine per call starts with a small
		// stack and grows it again on every check. When every worker is busy grpc starts a
		// goroutine as before, so this bounds nothing.
		grpc.NumStreamWorkers(streamWorkers()),
		grpc.StaticStreamWindowSize(streamWindow),
		grpc.StaticConnWindowSize(connWindow),
		grpc.MaxConcurrentStreams(1024),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             5 * time.Second, // grpc-go's default, 5 minutes, would GOAWAY Envoy's keepalive pings
			PermitWithoutStream: true,
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time:    time.Minute, // find dead peers behind idle connections
			Timeout: 20 * time.Second,
		}),
	}
	if tls != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tls.serverConfig())))
	}
	return opts, nil
}

// streamWorkers is enough workers for the checks Envoy keeps in flight on a busy instance; they
// are idle goroutines otherwise.
func streamWorkers() uint32 { return uint32(max(16, 4*runtime.GOMAXPROCS(0))) }

// Metrics are the service's metrics, for a caller that wants to read or extend them.
func (r *Runner) Metrics() *metrics.Metrics { return r.metrics }

// Start binds both listeners, starts serving, and starts loading and refreshing keys in the
// background. It returns once both listeners accept; health stays NOT_SERVING and /readyz 503
// until every issuer's keys are loaded. ctx bounds only the start itself.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return errors.New("runner: already started")
	}
	if r.stopping {
		return errors.New("runner: shut down")
	}
	var lc net.ListenConfig
	grpcLis, err := lc.Listen(ctx, "tcp", r.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	adminLis, err := lc.Listen(ctx, "tcp", r.cfg.AdminListen)
	if err != nil {
		grpcLis.Close()
		return fmt.Errorf("admin_listen: %w", err)
	}
	var httpLis net.Listener
	if r.http != nil {
		if httpLis, err = lc.Listen(ctx, "tcp", r.cfg.HTTPListen); err != nil {
			grpcLis.Close()
			adminLis.Close()
			return fmt.Errorf("http_listen: %w", err)
		}
	}
	r.grpcLis, r.adminLis, r.httpLis, r.started = grpcLis, adminLis, httpLis, true

	go func() {
		if err := r.grpc.Serve(grpcLis); err != nil {
			r.serveErr <- fmt.Errorf("gRPC server: %w", err)
		}
	}()
	go func() {
		if err := r.admin.Serve(adminLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.serveErr <- fmt.Errorf("admin server: %w", err)
		}
	}()
	if httpLis != nil {
		go func() {
			if err := r.http.Serve(httpLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
				r.serveErr <- fmt.Errorf("HTTP forward-auth server: %w", err)
			}
		}()
	}

	// The refresh loop fetches every issuer's keys at once and retries those that fail every
	// min_refetch_interval; readiness follows from its fetch reports, no polling.
	e := r.current()
	r.keys = startKeyRefresh(e.verifier)
	r.startWatching()

	httpAddr := "off"
	if httpLis != nil {
		httpAddr = httpLis.Addr().String()
	}
	r.log.Info("serving",
		zap.Stringer("grpc", grpcLis.Addr()), zap.Stringer("admin", adminLis.Addr()), zap.String("http", httpAddr),
		zap.Bool("tls", r.cfg.TLS.Enabled()), zap.Bool("mtls", r.cfg.TLS.ClientCAFile != ""),
		zap.Strings("issuers", e.verifier.Issuers()))
	return nil
}

// decodePanicked logs and counts a check request whose decoding panicked (the codec refused it).
func (r *Runner) decodePanicked(p any) {
	r.metrics.RequestDecodePanicked()
	authz.LogPanic(r.log, "decoding a check request panicked; refused", p)
}

// startKeyRefresh runs v's key refresh until its stop is called.
func startKeyRefresh(v *verifier.Verifier[authz.Answer]) keyRefresh {
	ctx, stop := context.WithCancel(context.Background())
	k := keyRefresh{stop: stop, done: make(chan struct{})}
	go func() {
		defer close(k.done)
		v.Run(ctx)
	}()
	return k
}

// keysFetched runs after every key fetch of any issuer.
func (r *Runner) keysFetched(err error) {
	if err != nil || !r.current().verifier.Ready() {
		return
	}
	r.readyOnce.Do(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.stopping {
			return
		}
		r.ready.Store(true)
		r.setHealth(healthpb.HealthCheckResponse_SERVING)
		r.log.Info("ready: keys loaded for every issuer")
	})
}

func (r *Runner) setHealth(s healthpb.HealthCheckResponse_ServingStatus) {
	r.health.SetServingStatus("", s)
	r.health.SetServingStatus(AuthorizationService, s)
}

// GRPCAddr is the bound gRPC address (useful with ":0"), or nil before Start.
func (r *Runner) GRPCAddr() net.Addr { return addrOf(r.grpcLis) }

// AdminAddr is the bound admin HTTP address, or nil before Start.
func (r *Runner) AdminAddr() net.Addr { return addrOf(r.adminLis) }

// HTTPAddr is the bound HTTP forward-auth address, or nil before Start or when http_listen is off.
func (r *Runner) HTTPAddr() net.Addr { return addrOf(r.httpLis) }

func addrOf(l net.Listener) net.Addr {
	if l == nil {
		return nil
	}
	return l.Addr()
}

// Ready reports whether the service answers checks with keys for every issuer and is not shutting down.
func (r *Runner) Ready() bool { return r.ready.Load() }

// Shutdown reports NOT_SERVING, stops accepting, lets in-flight checks finish until ctx ends (then
// cuts them off), stops the key refresh and closes the admin listener. Later calls return the
// first call's result.
func (r *Runner) Shutdown(ctx context.Context) error {
	r.shutdown.Do(func() { r.shutErr = r.doShutdown(ctx) })
	return r.shutErr
}

func (r *Runner) doShutdown(ctx context.Context) error {
	r.mu.Lock()
	r.stopping = true
	r.ready.Store(false)
	started := r.started
	r.mu.Unlock()
	// Shutdown makes every status NOT_SERVING and ignores later updates.
	r.health.Shutdown()
	if !started {
		r.grpc.Stop()
		return nil
	}
	r.log.Info("shutting down: not serving, finishing in-flight checks")

	r.stopWatching()
	var errs []error
	stopped := make(chan struct{})
	go func() {
		r.grpc.GracefulStop()
		close(stopped)
	}()
	if r.http != nil {
		// Finishes in-flight HTTP checks alongside the gRPC ones.
		if err := r.http.Shutdown(ctx); err != nil {
			r.http.Close()
			errs = append(errs, fmt.Errorf("HTTP forward-auth server: %w", err))
		}
	}
	select {
	case <-stopped:
	case <-ctx.Done():
		// Health Watch streams and slow checks would hold GracefulStop forever; the bound wins.
		r.grpc.Stop()
		<-stopped
		errs = append(errs, fmt.Errorf("in-flight checks cut off: %w", ctx.Err()))
	}
	r.mu.Lock()
	keys := r.keys
	r.mu.Unlock()
	keys.stop()
	// The admin port outlives the gRPC drain so /readyz reports 503 throughout it.
	if err := r.admin.Shutdown(ctx); err != nil {
		r.admin.Close()
		errs = append(errs, fmt.Errorf("admin server: %w", err))
	}
	select {
	case <-keys.done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("key refresh still running: %w", ctx.Err()))
	}
	err := errors.Join(errs...)
	if err != nil {
		r.log.Warn("shut down with errors", zap.Error(err))
	} else {
		r.log.Info("shut down")
	}
	return err
}

// Run starts the service, serves until ctx ends (e.g. on SIGTERM) or a server fails, then shuts
// down within ShutdownTimeout.
func (r *Runner) Run(ctx context.Context) error {
	if err := r.Start(ctx); err != nil {
		return err
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-r.serveErr:
		r.log.Error("server stopped by itself", zap.Error(serveErr))
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	return errors.Join(serveErr, r.Shutdown(shutCtx))
}

func (r *Runner) serveHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

func (r *Runner) serveReadyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if r.ready.Load() {
		fmt.Fprintln(w, "ready")
		return
	}
	w.WriteHeader(http.StatusServiceUnavailable)
	r.mu.Lock()
	stopping := r.stopping
	r.mu.Unlock()
	if stopping {
		fmt.Fprintln(w, "not ready: shutting down")
	} else {
		fmt.Fprintln(w, "not ready: keys not loaded for every issuer")
	}
}

// readinessObserver feeds the metrics and tells the runner about every fetch, so readiness needs
// no polling.
type readinessObserver struct {
	*metrics.Metrics
	fetched func(err error)
}

func (o readinessObserver) JWKSFetched(issuer string, err error, keys int) {
	o.Metrics.JWKSFetched(issuer, err, keys)
	o.fetched(err)
}
