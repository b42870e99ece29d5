package failover

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// authzCluster is the cluster name the envoyconf template gives cognito-authz.
const authzCluster = "cognito_authz"

// hostState is what Envoy's admin API says of one cognito-authz endpoint.
type hostState struct {
	FailedActiveHealthCheck bool
	FailedOutlierCheck      bool
	RequestsTotal           int64 // checks Envoy sent it (health checks not included)
}

// out reports whether Envoy has taken the host out of the rotation.
func (h hostState) out() bool { return h.FailedActiveHealthCheck || h.FailedOutlierCheck }

func (h hostState) String() string {
	var flags []string
	if h.FailedActiveHealthCheck {
		flags = append(flags, "failed_active_health_check")
	}
	if h.FailedOutlierCheck {
		flags = append(flags, "failed_outlier_check")
	}
	if len(flags) == 0 {
		flags = append(flags, "healthy")
	}
	return fmt.Sprintf("%s, %d checks", strings.Join(flags, "+"), h.RequestsTotal)
}

// authzHosts reads /clusters and returns the cognito-authz endpoints by host:port.
func authzHosts(ctx context.Context, adminURL string) (map[string]hostState, error) {
	body, err := adminGet(ctx, adminURL+"/clusters?format=json")
	if err != nil {
		return nil, err
	}
	var doc struct {
		ClusterStatuses []struct {
			Name         string `json:"name"`
			HostStatuses []struct {
				Address struct {
					SocketAddress struct {
						Address   string `json:"address"`
						PortValue int    `json:"port_value"`
					} `json:"socket_address"`
				} `json:"address"`
				Stats []struct {
					Name  string `json:"name"`
					Value string `json:"value"` // a uint64, which proto JSON writes as a string
				} `json:"stats"`
				HealthStatus struct {
					FailedActiveHealthCheck bool `json:"failed_active_health_check"`
					FailedOutlierCheck      bool `json:"failed_outlier_check"`
				} `json:"health_status"`
			} `json:"host_statuses"`
		} `json:"cluster_statuses"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		return nil, fmt.Errorf("admin /clusters: %w", err)
	}
	hosts := map[string]hostState{}
	for _, c := range doc.ClusterStatuses {
		if c.Name != authzCluster {
			continue
		}
		for _, h := range c.HostStatuses {
			a := h.Address.SocketAddress
			s := hostState{
				FailedActiveHealthCheck: h.HealthStatus.FailedActiveHealthCheck,
				FailedOutlierCheck:      h.HealthStatus.FailedOutlierCheck,
			}
			for _, st := range h.Stats {
				if st.Name == "rq_total" {
					s.RequestsTotal, _ = strconv.ParseInt(st.Value, 10, 64)
				}
			}
			hosts[net.JoinHostPort(a.Address, strconv.Itoa(a.PortValue))] = s
		}
	}
	return hosts, nil
}

// waitHosts polls /clusters until cond holds for the cognito-authz hosts, and returns them.
func waitHosts(t *testing.T, adminURL string, within time.Duration, what string, cond func(map[string]hostState) bool) map[string]hostState {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), within)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last map[string]hostState
	var lastErr error
	for {
		hosts, err := authzHosts(ctx, adminURL)
		if err == nil && cond(hosts) {
			return hosts
		}
		if err == nil {
			last = hosts
		}
		lastErr = err
		select {
		case <-ctx.Done():
			t.Fatalf("Envoy: %s: not within %v (hosts %v, last error %v)", what, within, last, lastErr)
		case <-tick.C:
		}
	}
}

// authzStats are the counters of Envoy's that tell how a failover went, by name without the
// cluster. or listener prefix.
var authzStats = []string{
	"cluster." + authzCluster + ".upstream_rq_retry",
	"cluster." + authzCluster + ".upstream_rq_retry_success",
	"cluster." + authzCluster + ".upstream_rq_retry_overflow",
	"cluster." + authzCluster + ".upstream_cx_connect_fail",
	"cluster." + authzCluster + ".upstream_rq_timeout",
	// Attempts cut off by a timeout of their own, and checks that ran out of retries: how a check
	// is lost on a replica that is only slow (see envoyconf.TestCheckAttemptsHaveNoTimeoutOfTheirOwn).
	"cluster." + authzCluster + ".upstream_rq_per_try_timeout",
	"cluster." + authzCluster + ".upstream_rq_retry_limit_exceeded",
	"cluster." + authzCluster + ".outlier_detection.ejections_enforced_total",
	"cluster." + authzCluster + ".health_check.failure",
	"http.ingress_http.ext_authz.ok",
	"http.ingress_http.ext_authz.denied",
	"http.ingress_http.ext_authz.error",
}

// stats reads the counters above from /stats.
func stats(ctx context.Context, adminURL string) (map[string]int64, error) {
	body, err := adminGet(ctx, adminURL+"/stats?usedonly")
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, name := range authzStats {
		want[name] = true
	}
	out := map[string]int64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ": ")
		if !ok || !want[name] {
			continue
		}
		if v, err := strconv.ParseInt(value, 10, 64); err == nil {
			out[name] = v
		}
	}
	return out, nil
}

func formatStats(s map[string]int64) string {
	var parts []string
	for _, name := range authzStats {
		short := strings.TrimPrefix(strings.TrimPrefix(name, "cluster."+authzCluster+"."), "http.ingress_http.")
		parts = append(parts, fmt.Sprintf("%s=%d", short, s[name]))
	}
	return strings.Join(parts, " ")
}

var adminClient = &http.Client{Timeout: 5 * time.Second}

func adminGet(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := adminClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: status %d", url, resp.StatusCode)
	}
	return string(b), nil
}

// logEnvoyAuthzState logs everything Envoy's admin API says of the cognito-authz cluster, for a
// failed test: per-host flags and counters, and every counter of the cluster's.
func logEnvoyAuthzState(t *testing.T, adminURL string) {
	t.Helper()
	var lines []string
	for _, path := range []string{"/clusters", "/stats?filter=" + url.QueryEscape(`^cluster\.`+authzCluster+`\.`)} {
		body, err := adminGet(t.Context(), adminURL+path)
		if err != nil {
			t.Logf("admin %s: %v", path, err)
			continue
		}
		for _, line := range strings.Split(body, "\n") {
			if strings.HasPrefix(line, authzCluster+"::") || (strings.HasPrefix(line, "cluster."+authzCluster+".") && !strings.HasSuffix(line, ": 0")) {
				lines = append(lines, line)
			}
		}
	}
	t.Logf("--- Envoy's view of %s ---\n%s", authzCluster, strings.Join(lines, "\n"))
}
