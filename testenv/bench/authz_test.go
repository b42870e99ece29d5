package bench

import (
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestProcessAuthzCountersSumEverySeries(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, `# HELP cognito_authz_checks_total Checks answered.
# TYPE cognito_authz_checks_total counter
cognito_authz_checks_total{result="authenticated"} 90
cognito_authz_checks_total{result="anonymous"} 10
cognito_authz_token_cache_hits_total 85
cognito_authz_token_cache_misses_total 5
go_goroutines 12
`)
	}))
	defer srv.Close()
	got, err := (&processAuthz{adminURL: srv.URL}).Counters()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"cognito_authz_checks_total": 100, "cognito_authz_token_cache_hits_total": 85,
		"cognito_authz_token_cache_misses_total": 5, "go_goroutines": 12}
	if !maps.Equal(got, want) {
		t.Errorf("counters = %v, want %v", got, want)
	}
}

func TestEnvoyVersionOf(t *testing.T) {
	tests := []struct{ out, want string }{
		{"\n/root/.pyenv/versions/3.11.7/bin/envoy  version: 9e5580933739775e8bce696a57a2e1bc99368f23/1.40.0/Clean/RELEASE/BoringSSL\n", "1.40.0"},
		{"envoy  version: abc/1.39.2/Distribution/RELEASE/BoringSSL", "1.39.2"},
		{"", "(version unknown)"},
		{"version: abc", "(version unknown)"},
	}
	for _, tt := range tests {
		if got := envoyVersionOf(tt.out); got != tt.want {
			t.Errorf("envoyVersionOf(%q) = %q, want %q", tt.out, got, tt.want)
		}
	}
}
