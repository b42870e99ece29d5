package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/revocation"
)

// revocationMetrics are the online revocation check's metrics (revocation.Observer), every
// series resolved at start.
type revocationMetrics struct {
	checks      map[revocation.Result]map[revocation.Source]prometheus.Counter
	calls       map[revocation.CallOutcome]prometheus.Counter
	callTime    prometheus.Histogram
	rateLimited prometheus.Counter
}

var _ revocation.Observer = (*Metrics)(nil)

var revocationSources = []revocation.Source{revocation.FromCall, revocation.FromCache, revocation.FromFamily, revocation.FromNone}

func newRevocationMetrics(reg *prometheus.Registry) *revocationMetrics {
	checks := counterVec("cognito_authz_revocation_checks_total",
		"Online revocation checks of verified tokens, by result (live, revoked, expired, unavailable, not_checkable) and source (call, cache, family, none).",
		"result", "source")
	calls := counterVec("cognito_authz_revocation_calls_total",
		"GetUser calls to Cognito, by outcome.", "outcome")
	m := &revocationMetrics{
		checks: map[revocation.Result]map[revocation.Source]prometheus.Counter{},
		calls:  map[revocation.CallOutcome]prometheus.Counter{},
		callTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cognito_authz_revocation_call_duration_seconds",
			Help:    "Time of one GetUser call to Cognito.",
			Buckets: DurationBuckets,
		}),
		rateLimited: counter("cognito_authz_revocation_rate_limited_total",
			"Revocation checks that could not call Cognito in time because of max_rps."),
	}
	for _, r := range revocation.Results {
		m.checks[r] = map[revocation.Source]prometheus.Counter{}
		for _, s := range revocationSources {
			m.checks[r][s] = checks.WithLabelValues(string(r), string(s))
		}
	}
	for _, o := range revocation.CallOutcomes {
		m.calls[o] = calls.WithLabelValues(string(o))
	}
	reg.MustRegister(checks, calls, m.callTime, m.rateLimited)
	return m
}

// Checked records one revocation check (revocation.Observer).
func (m *Metrics) Checked(v revocation.Verdict) {
	if c := m.revocation.checks[v.Result][v.From]; c != nil {
		c.Inc()
	}
}

// Called records one GetUser call (revocation.Observer).
func (m *Metrics) Called(o revocation.CallOutcome, took time.Duration) {
	if c := m.revocation.calls[o]; c != nil {
		c.Inc()
	}
	m.revocation.callTime.Observe(took.Seconds())
}

// RateLimited records a check the rate limit kept from calling (revocation.Observer).
func (m *Metrics) RateLimited() { m.revocation.rateLimited.Inc() }
