package runner

import (
	"context"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/authz"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/config"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/metrics"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/verifier"
)

// snapshot is everything a check reads that the configuration decides: immutable, replaced whole
// by a reload, and loaded once per check so a check never sees half of one and half of another.
type snapshot struct {
	cfg      *config.Config
	verifier *verifier.Verifier[authz.Answer]
	checks   *authz.Server
	// revocations are the online revocation checkers, lent to the next snapshot (revocation.go).
	revocations *authz.Revocations
}

// newSnapshot builds a snapshot of cfg; prev, when set, lends the key caches of unchanged issuers.
func (s *Service) newSnapshot(cfg *config.Config, prev *snapshot) (*snapshot, error) {
	vcfg := cfg.VerifierConfig()
	vcfg.Logger = s.log.Named("jwks")
	vcfg.Observer = readinessObserver{Metrics: s.metrics, fetched: s.keysFetched}
	// Only the claims header needs the payload; without it a cached token does not keep a copy.
	vcfg.OmitPayload = cfg.IdentityHeaders.ClaimsHeader == ""
	if prev != nil {
		vcfg.Previous = prev.verifier
	}
	v, err := verifier.New[authz.Answer](vcfg)
	if err != nil {
		return nil, err
	}
	revocations, err := s.newRevocations(cfg, prev)
	if err != nil {
		return nil, err
	}
	checks, err := authz.New(authz.Options{
		Verifier:        v,
		Policy:          cfg.Policy,
		TokenSources:    cfg.TokenSourcesFor(),
		Headers:         cfg.IdentityHeaders,
		DynamicMetadata: cfg.DynamicMetadata,
		Recorder:        s.metrics,
		Logger:          s.log.Named("authz"),
		Revocations:     revocations,
	})
	if err != nil {
		return nil, err
	}
	return &snapshot{cfg: cfg, verifier: v, checks: checks, revocations: revocations}, nil
}

// Check answers with the snapshot current when the check arrives (authz.Server.Check): what the
// HTTP endpoint asks.
func (s *Service) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return s.current.Load().checks.Check(ctx, req)
}

// CheckAnswer is Check giving an authz.Answer: what the gRPC listener serves (authz.Register).
func (s *Service) CheckAnswer(ctx context.Context, req *authv3.CheckRequest) (*authz.Answer, error) {
	return s.current.Load().checks.CheckAnswer(ctx, req)
}

// refreshKeys runs the current snapshot's key refresh (verifier.Run) until ctx ends. After a
// reload the old loop stops before the new one starts: a key cache two snapshots share is
// refreshed by one loop at a time.
func (s *Service) refreshKeys(ctx context.Context) {
	for {
		loop, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func(v *verifier.Verifier[authz.Answer]) {
			defer close(done)
			v.Run(loop)
		}(s.current.Load().verifier)
		select {
		case <-ctx.Done():
		case <-s.swapped:
		}
		stop()
		<-done
		if ctx.Err() != nil {
			return
		}
	}
}

// readinessObserver feeds the metrics and tells the service about every fetch, so readiness needs
// no polling.
type readinessObserver struct {
	*metrics.Metrics
	fetched func(err error)
}

func (o readinessObserver) JWKSFetched(issuer string, err error, keys int) {
	o.Metrics.JWKSFetched(issuer, err, keys)
	o.fetched(err)
}
