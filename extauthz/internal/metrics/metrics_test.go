package metrics

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/authz"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/policy"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/reason"
)

// TestSpecNames: every name of docs/reference.md#metrics is exposed, every result and reason from
// the start.
func TestSpecNames(t *testing.T) {
	m := New()
	m.JWKSFetched("https://issuer.example/pool", nil, 2)
	body := scrape(t, m)
	for _, want := range []string{
		"# TYPE cognito_authz_checks_total counter",
		"# TYPE cognito_authz_check_duration_seconds histogram",
		"# TYPE cognito_authz_token_rejections_total counter",
		"# TYPE cognito_authz_jwks_fetches_total counter",
		"# TYPE cognito_authz_jwks_keys gauge",
		"# TYPE cognito_authz_token_cache_hits_total counter",
		"# TYPE cognito_authz_token_cache_misses_total counter",
		`cognito_authz_config_reloads_total{result="ok"} 0`,
		`cognito_authz_config_reloads_total{result="error"} 0`,
		"# TYPE go_goroutines gauge",
		"# TYPE process_cpu_seconds_total counter",
		`cognito_authz_jwks_fetches_total{issuer="https://issuer.example/pool",result="ok"} 1`,
		`cognito_authz_jwks_keys{issuer="https://issuer.example/pool"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	for _, r := range policy.Results {
		if want := `cognito_authz_checks_total{result="` + string(r) + `"} 0`; !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	for _, c := range reason.All {
		if want := `cognito_authz_token_rejections_total{reason="` + string(c) + `"} 0`; !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}

func TestConfigReloaded(t *testing.T) {
	m := New()
	m.ConfigReloaded(nil)
	m.ConfigReloaded(errors.New("policy.default: unknown value"))
	m.ConfigReloaded(errors.New("issuers: required"))
	if got := testutil.ToFloat64(m.reloads.WithLabelValues("ok")); got != 1 {
		t.Errorf(`config_reloads_total{result="ok"} = %v, want 1`, got)
	}
	if got := testutil.ToFloat64(m.reloads.WithLabelValues("error")); got != 2 {
		t.Errorf(`config_reloads_total{result="error"} = %v, want 2`, got)
	}
}

func TestCheckDone(t *testing.T) {
	tests := []struct {
		name          string
		result        authz.Result
		why           reason.Code
		wantRejection bool
	}{
		{"authenticated", policy.Authenticated, "", false},
		{"anonymous without a token", policy.Anonymous, reason.Missing, true},
		{"unauthenticated expired", policy.Unauthenticated, reason.Expired, true},
		{"forbidden", policy.Forbidden, reason.InsufficientGroup, true},
		{"unavailable", policy.Unavailable, reason.JWKSUnavailable, true},
		{"skipped", policy.Skipped, "", false},
		{"a result added later", authz.Result("novel"), reason.Code("novel_reason"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New()
			m.CheckDone(tt.result, tt.why, 300*time.Microsecond)
			if got := testutil.ToFloat64(m.checksVec.WithLabelValues(string(tt.result))); got != 1 {
				t.Errorf("checks_total{result=%q} = %v, want 1", tt.result, got)
			}
			if tt.wantRejection {
				if got := testutil.ToFloat64(m.rejectVec.WithLabelValues(string(tt.why))); got != 1 {
					t.Errorf("token_rejections_total{reason=%q} = %v, want 1", tt.why, got)
				}
			}
			var rejections float64
			for _, c := range reason.All {
				rejections += testutil.ToFloat64(m.rejectVec.WithLabelValues(string(c)))
			}
			if tt.why == "" && rejections != 0 {
				t.Errorf("%v rejections counted for a check without a reason", rejections)
			}
			body := scrape(t, m)
			for _, want := range []string{
				"cognito_authz_check_duration_seconds_count 1",
				`cognito_authz_check_duration_seconds_bucket{le="0.0005"} 1`,
				`cognito_authz_check_duration_seconds_bucket{le="0.00025"} 0`,
			} {
				if !strings.Contains(body, want) {
					t.Errorf("scrape lacks %q", want)
				}
			}
		})
	}
}

func TestObserver(t *testing.T) {
	m := New()
	const issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_X"
	m.JWKSFetched(issuer, nil, 2)
	m.JWKSFetched(issuer, errors.New("connection refused"), 2)
	m.JWKSFetched(issuer, nil, 3)
	m.TokenCacheHit()
	m.TokenCacheHit()
	m.TokenCacheMiss()
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"fetches ok", testutil.ToFloat64(m.fetches.WithLabelValues(issuer, "ok")), 2},
		{"fetches error", testutil.ToFloat64(m.fetches.WithLabelValues(issuer, "error")), 1},
		{"keys", testutil.ToFloat64(m.keys.WithLabelValues(issuer)), 3},
		{"cache hits", testutil.ToFloat64(m.cacheHits), 2},
		{"cache misses", testutil.ToFloat64(m.cacheMiss), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestCheckDoneAllocatesNothing: the hot path stays free of allocations for every known result
// and reason.
func TestCheckDoneAllocatesNothing(t *testing.T) {
	m := New()
	allocs := testing.AllocsPerRun(100, func() {
		for _, c := range reason.All {
			m.CheckDone(policy.Unauthenticated, c, time.Millisecond)
		}
		m.CheckDone(policy.Authenticated, "", time.Microsecond)
		m.TokenCacheHit()
		m.TokenCacheMiss()
	})
	if allocs != 0 {
		t.Errorf("recording allocates %v times per run", allocs)
	}
}

func BenchmarkCheckDone(b *testing.B) {
	m := New()
	for b.Loop() {
		m.CheckDone(policy.Anonymous, reason.Expired, 200*time.Microsecond)
	}
}

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s", resp.Status)
	}
	return string(body)
}
