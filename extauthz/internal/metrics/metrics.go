// Package metrics is the service's Prometheus metrics, with exactly the names of
// docs/reference.md#metrics, on a registry of its own. It records what the verifier
// (verifier.Observer) and the Check service (authz.Recorder) report; recording a check costs no map
// lookup and no allocation.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/authz"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/policy"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/reason"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/verifier"
)

// DurationBuckets suit a check: a cached token costs microseconds, an RSA verification a fraction
// of a millisecond, a key refetch milliseconds or more.
var DurationBuckets = []float64{
	.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5,
}

// Metrics holds every metric; its methods are safe for concurrent use.
type Metrics struct {
	registry *prometheus.Registry

	checksVec  *prometheus.CounterVec
	checks     []prometheus.Counter // parallel to policy.Results
	duration   prometheus.Histogram
	rejectVec  *prometheus.CounterVec
	rejections []prometheus.Counter // parallel to reason.All
	fetches    *prometheus.CounterVec
	keys       *prometheus.GaugeVec
	cacheHits  prometheus.Counter
	cacheMiss  prometheus.Counter
	reloads    *prometheus.CounterVec
	// decodePanics counts requests whose decoding panicked (a bug): refused, never answered.
	decodePanics prometheus.Counter

	revocation *revocationMetrics // revocation.go
}

var (
	_ verifier.Observer = (*Metrics)(nil)
	_ authz.Recorder    = (*Metrics)(nil)
)

// New registers every metric, plus the Go runtime and process collectors, on a new registry.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		checksVec: counterVec("cognito_authz_checks_total",
			"Authorization checks answered, by result.", "result"),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cognito_authz_check_duration_seconds",
			Help:    "Time to answer one authorization check.",
			Buckets: DurationBuckets,
		}),
		rejectVec: counterVec("cognito_authz_token_rejections_total",
			"Checks whose token was missing, invalid or insufficient, by reason code.", "reason"),
		fetches: counterVec("cognito_authz_jwks_fetches_total",
			"JWKS fetch attempts, by issuer and result (ok or error).", "issuer", "result"),
		keys: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cognito_authz_jwks_keys",
			Help: "Usable signing keys held, by issuer.",
		}, []string{"issuer"}),
		cacheHits: counter("cognito_authz_token_cache_hits_total",
			"Tokens answered from the verified-token cache."),
		cacheMiss: counter("cognito_authz_token_cache_misses_total",
			"Tokens not in the verified-token cache, so verified in full."),
		reloads: counterVec("cognito_authz_config_reloads_total",
			"Configuration reloads (SIGHUP or a changed file), by result: ok, or error when the new configuration was refused and the last good one kept serving.", "result"),
		decodePanics: counter("cognito_authz_request_decode_panics_total",
			"Check requests whose decoding panicked (a bug); each was refused, so Envoy answered 503."),
	}
	m.reloads.WithLabelValues(resultOK)
	m.reloads.WithLabelValues(resultError)
	// Resolving every child now makes each series visible at zero and keeps the hot path free of
	// label hashing.
	m.checks = make([]prometheus.Counter, len(policy.Results))
	for i, r := range policy.Results {
		m.checks[i] = m.checksVec.WithLabelValues(string(r))
	}
	m.rejections = make([]prometheus.Counter, len(reason.All))
	for i, c := range reason.All {
		m.rejections[i] = m.rejectVec.WithLabelValues(string(c))
	}
	m.revocation = newRevocationMetrics(m.registry)
	m.registry.MustRegister(
		m.checksVec, m.duration, m.rejectVec, m.fetches, m.keys, m.cacheHits, m.cacheMiss, m.reloads, m.decodePanics,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

func counter(name, help string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
}

func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
}

// Registry is the registry holding every metric, for a caller that gathers or adds its own.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Handler serves the metrics in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// CheckDone records one check (authz.Recorder).
func (m *Metrics) CheckDone(result authz.Result, why reason.Code, elapsed time.Duration) {
	m.checkCounter(result).Inc()
	m.duration.Observe(elapsed.Seconds())
	if why != "" {
		m.rejectionCounter(why).Inc()
	}
}

// A linear scan of a handful of short strings beats hashing them, and needs no lock.
func (m *Metrics) checkCounter(result authz.Result) prometheus.Counter {
	for i, r := range policy.Results {
		if r == result {
			return m.checks[i]
		}
	}
	return m.checksVec.WithLabelValues(string(result)) // a result this package does not know yet
}

func (m *Metrics) rejectionCounter(why reason.Code) prometheus.Counter {
	for i, c := range reason.All {
		if c == why {
			return m.rejections[i]
		}
	}
	return m.rejectVec.WithLabelValues(string(why))
}

// JWKSFetched records one key-set fetch (verifier.Observer).
func (m *Metrics) JWKSFetched(issuer string, err error, keys int) {
	m.fetches.WithLabelValues(issuer, outcome(err)).Inc()
	m.keys.WithLabelValues(issuer).Set(float64(keys))
}

// TokenCacheHit records a verified-token cache hit (verifier.Observer).
func (m *Metrics) TokenCacheHit() { m.cacheHits.Inc() }

// TokenCacheMiss records a verified-token cache miss (verifier.Observer).
func (m *Metrics) TokenCacheMiss() { m.cacheMiss.Inc() }

// ConfigReloaded records one configuration reload; err is why it was refused, nil when applied.
func (m *Metrics) ConfigReloaded(err error) {
	m.reloads.WithLabelValues(outcome(err)).Inc()
}

// The result label of a key fetch and of a reload (docs/reference.md#metrics).
const (
	resultOK    = "ok"
	resultError = "error"
)

// outcome is the result label for err.
func outcome(err error) string {
	if err != nil {
		return resultError
	}
	return resultOK
}

// RequestDecodePanicked records a check request whose decoding panicked.
func (m *Metrics) RequestDecodePanicked() { m.decodePanics.Inc() }
