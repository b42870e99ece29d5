package runner

import (
	"context"
	"fmt"
	"runtime"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/authz"
)

// handshakeTimeout bounds how long the gRPC listener waits for a new connection's handshake (TLS,
// then the HTTP/2 preface and SETTINGS), so a client that connects and sends nothing, or only the
// preface, cannot hold a connection (grpc-go's default is 120 s). A connection past its handshake
// is a client's like Envoy's, kept open between checks and watched by keepalive: this does not
// touch it.
const handshakeTimeout = 5 * time.Second

// AuthorizationService is the gRPC service name whose health is reported, beside "" (the server).
var AuthorizationService = authv3.Authorization_ServiceDesc.ServiceName

// grpcListener serves the ext_authz Check service (s itself) and grpc.health.v1 on listen.
func (s *Service) grpcListener(listen string) (*listener, error) {
	opts, err := serverOptions(s.tls, s.decodePanicked)
	if err != nil {
		return nil, err
	}
	s.grpc, s.health = grpc.NewServer(opts...), health.NewServer()
	authz.Register(s.grpc, s)
	healthpb.RegisterHealthServer(s.grpc, s.health)
	s.setHealth(healthpb.HealthCheckResponse_NOT_SERVING)
	return &listener{key: "listen", addr: listen, name: "gRPC server", serve: s.grpc.Serve, stop: s.drainGRPC}, nil
}

func (s *Service) setHealth(status healthpb.HealthCheckResponse_ServingStatus) {
	s.health.SetServingStatus("", status)
	s.health.SetServingStatus(AuthorizationService, status)
}

// drainGRPC lets in-flight checks finish until ctx ends, then cuts them off.
func (s *Service) drainGRPC(ctx context.Context) error {
	stopped := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
		return nil
	case <-ctx.Done():
		// Health Watch streams and slow checks would hold GracefulStop forever; the bound wins.
		s.grpc.Stop()
		<-stopped
		return fmt.Errorf("in-flight checks cut off: %w", ctx.Err())
	}
}

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
		grpc.ConnectionTimeout(handshakeTimeout),
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

// decodePanicked logs and counts a check request whose decoding panicked (the codec refused it).
func (s *Service) decodePanicked(p any) {
	s.metrics.RequestDecodePanicked()
	authz.LogPanic(s.log, "decoding a check request panicked; refused", p)
}
