package deploy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// chartDir is the Helm chart, relative to this module.
const chartDir = "helm/cognito-authz"

// The chart's own keys of the configuration file: set from other values, never from config.
var chartOwnedConfigKeys = []string{"listen", "admin_listen", "http_listen", "tls"}

// chartValueSets are value files the chart is linted and rendered with, each turning on what the
// defaults leave off; kinds lists what each renders.
var chartValueSets = []struct {
	name   string
	values string
	kinds  []string
}{
	{"defaults", "", []string{"ConfigMap", "Deployment", "Service", "Service", "ServiceAccount"}},
	{"tls", `
tls: {enabled: true, secretName: authz-tls}`,
		[]string{"ConfigMap", "Deployment", "Service", "Service", "ServiceAccount"}},
	{"mtls", `
tls: {enabled: true, secretName: authz-tls, clientAuth: true}`,
		[]string{"ConfigMap", "Deployment", "Service", "Service", "ServiceAccount"}},
	{"hpa", `
autoscaling: {enabled: true, minReplicas: 3, maxReplicas: 12}`,
		[]string{"ConfigMap", "Deployment", "HorizontalPodAutoscaler", "Service", "Service", "ServiceAccount"}},
	{"pdb", `
podDisruptionBudget: {enabled: true}`,
		[]string{"ConfigMap", "Deployment", "PodDisruptionBudget", "Service", "Service", "ServiceAccount"}},
	{"hpa-and-pdb", `
autoscaling: {enabled: true}
podDisruptionBudget: {enabled: true, minAvailable: 1}`,
		[]string{"ConfigMap", "Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Service", "Service", "ServiceAccount"}},
	{"servicemonitor", `
serviceMonitor: {enabled: true, labels: {release: kube-prometheus-stack}}`,
		[]string{"ConfigMap", "Deployment", "Service", "Service", "ServiceAccount", "ServiceMonitor"}},
	{"forward-auth", `
forwardAuth: {enabled: true}
config:
  policy:
    rules:
      - path_prefix: /healthz
        auth: "off"
      - path_prefix: /api/admin
        auth: required
        groups_any: [admin]`,
		[]string{"ConfigMap", "Deployment", "Service", "Service", "ServiceAccount"}},
	{"several-issuers", `
config:
  issuers:
    - user_pool_id: eu-west-1_AbCdEf123
      client_ids: [webclient0123456789abcdefgh, mobileclient0123456789abcd]
      token_use: access
    - issuer: https://cognito-idp.us-east-1.amazonaws.com/us-east-1_ZyXwVu987
      jwks_url: https://keys.example.com/us-east-1_ZyXwVu987/jwks.json
      client_ids: [partnerclient0123456789ab]
      token_use: id
  token_sources:
    cookies: [access_token]
  policy:
    default: required
    invalid_token: deny
    rules:
      - path_prefix: /public
        auth: optional
      - path_prefix: /api/reports
        methods: [GET]
        auth: required
        scopes_all: [reports/read]
  identity_headers:
    prefix: x-id-
    claims_header: x-jwt-claims
    strip_authorization: true
  max_token_bytes: 8192`,
		[]string{"ConfigMap", "Deployment", "Service", "Service", "ServiceAccount"}},
	{"everything", `
replicaCount: 4
tls: {enabled: true, secretName: authz-tls, clientAuth: true}
autoscaling: {enabled: true}
podDisruptionBudget: {enabled: true}
serviceMonitor: {enabled: true}
forwardAuth: {enabled: true, port: 9102}
service: {headless: false}
serviceAccount: {create: false}`,
		[]string{"ConfigMap", "Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Service", "ServiceMonitor"}},
}

// helmBinary finds helm on PATH or where `go install` puts it (.ci/install-deps installs it there);
// without one the test skips, unless COGNITO_AUTHZ_REQUIRE_ENVOY=1 (CI) makes that a failure.
func helmBinary(t *testing.T) string {
	t.Helper()
	if bin := findHelm(); bin != "" {
		return bin
	}
	msg := "helm not found on PATH or in $(go env GOPATH)/bin: .ci/install-deps installs it"
	if os.Getenv("COGNITO_AUTHZ_REQUIRE_ENVOY") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

var findHelm = sync.OnceValue(func() string {
	if bin, err := exec.LookPath("helm"); err == nil {
		return bin
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			if bin := filepath.Join(dir, "bin", "helm"); isExecutable(bin) {
				return bin
			}
		}
	}
	return ""
})

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// helm runs helm with its cache, configuration and data kept in a temporary directory, so that
// nothing of the user's own helm setup (repositories, plugins) takes part.
func helm(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	bin := helmBinary(t)
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"))
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("helm %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return []byte(stdout.String()), nil
}

// valuesArgs writes values to a file and returns helm's -f for it; no values, no flag.
func valuesArgs(t *testing.T, values string) []string {
	t.Helper()
	if strings.TrimSpace(values) == "" {
		return nil
	}
	return []string{"-f", writeTemp(t, "values.yaml", []byte(values))}
}

const (
	chartRelease   = "authz"
	chartNamespace = "edge-auth"
)

// renderChart runs `helm template` with values and decodes every manifest strictly.
func renderChart(t *testing.T, values string) []object {
	t.Helper()
	out, err := renderChartRaw(t, values)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeAll(out)
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, out)
	}
	for _, o := range objs {
		if o.Namespace != chartNamespace {
			t.Errorf("%s %s in namespace %q, want the release's %q", o.GVK.Kind, o.Name, o.Namespace, chartNamespace)
		}
	}
	return objs
}

func renderChartRaw(t *testing.T, values string) ([]byte, error) {
	t.Helper()
	args := append([]string{"template", chartRelease, chartDir, "--namespace", chartNamespace}, valuesArgs(t, values)...)
	return helm(t, args...)
}

// helm lint --strict passes with the default values and with every value set.
func TestChartLints(t *testing.T) {
	for _, vs := range chartValueSets {
		t.Run(vs.name, func(t *testing.T) {
			args := append([]string{"lint", "--strict", chartDir, "--namespace", chartNamespace}, valuesArgs(t, vs.values)...)
			if out, err := helm(t, args...); err != nil {
				t.Fatal(err)
			} else if !strings.Contains(string(out), "0 chart(s) failed") {
				t.Fatalf("helm lint:\n%s", out)
			}
		})
	}
}

// Every value set renders manifests that decode strictly into their API types, with the resources
// it turns on, pods held to the restricted Pod Security Standard, Services, HPA, PDB and
// ServiceMonitor that reach the pods, and a configuration file that passes check-config and says
// what the values said.
func TestChartRenders(t *testing.T) {
	defaults := chartDefaults(t)
	for _, vs := range chartValueSets {
		t.Run(vs.name, func(t *testing.T) {
			objs := renderChart(t, vs.values)
			var kinds []string
			for _, o := range objs {
				kinds = append(kinds, o.GVK.Kind)
			}
			slices.Sort(kinds)
			if !slices.Equal(kinds, vs.kinds) {
				t.Errorf("resources %q, want %q", kinds, vs.kinds)
			}

			d := only[*appsv1.Deployment](t, objs)
			checkPodSecurity(t, d.Spec.Template.Spec)
			checkRestricted(t, &d.Spec.Template)
			checkChartDeployment(t, d, objs)
			checkChartRouting(t, d, objs)

			data := mountedConfig(t, objs)
			values := mergeValues(defaults, parseValues(t, vs.values))
			checkChartConfig(t, data, values)
			checkChartTLS(t, d, data)
		})
	}
}

// chartDefaults is the chart's values.yaml.
func chartDefaults(t *testing.T) map[string]any {
	t.Helper()
	return parseValues(t, string(readFile(t, filepath.Join(chartDir, "values.yaml"))))
}

func parseValues(t *testing.T, values string) map[string]any {
	t.Helper()
	v := map[string]any{}
	if err := yaml.Unmarshal([]byte(values), &v); err != nil {
		t.Fatalf("values: %v", err)
	}
	return v
}

// mergeValues lays over on top of base as Helm does: maps merge key by key, anything else (lists
// included) replaces.
func mergeValues(base, over map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		bm, bok := out[k].(map[string]any)
		om, ook := v.(map[string]any)
		if bok && ook {
			out[k] = mergeValues(bm, om)
		} else {
			out[k] = v
		}
	}
	return out
}

// checkChartDeployment checks the pod's probes, rollout and lifecycle as deploy/kubernetes has them.
func checkChartDeployment(t *testing.T, d *appsv1.Deployment, objs []object) {
	t.Helper()
	c := container(t, d)
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Error("the selector does not match the pod template's labels")
	}
	if ru := d.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Error("a rollout may take a serving replica away before its successor is ready: want maxUnavailable 0")
	}
	if c.Args[0] != "serve" {
		t.Errorf("args %q: want the serve subcommand", c.Args)
	}
	// Ready on the gRPC health service, or on /readyz when the listener speaks TLS (the kubelet's
	// gRPC probe speaks plaintext only); alive on /healthz, never on readiness.
	tlsOn := slices.ContainsFunc(d.Spec.Template.Spec.Volumes, func(v corev1.Volume) bool { return v.Secret != nil })
	switch p := c.ReadinessProbe; {
	case p == nil:
		t.Error("no readiness probe")
	case tlsOn && (p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" || p.HTTPGet.Port != intstr.FromString("admin")):
		t.Errorf("readiness probe %+v with TLS on: want GET /readyz on the admin port", p)
	case !tlsOn && (p.GRPC == nil || p.GRPC.Port != containerPort(t, c, "grpc")):
		t.Errorf("readiness probe %+v: want grpc.health.v1 on the grpc port", p)
	}
	if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port != intstr.FromString("admin") {
		t.Errorf("liveness probe %+v: want GET /healthz on the admin port", p)
	}
	spec := d.Spec.Template.Spec
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Error("no preStop sleep: the pod could stop accepting before endpoints drop it")
	} else if pre := c.Lifecycle.PreStop.Sleep.Seconds; spec.TerminationGracePeriodSeconds == nil || pre >= *spec.TerminationGracePeriodSeconds {
		t.Errorf("preStop sleeps %ds, leaving no grace period for the shutdown", pre)
	}
	if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
		t.Error("no memory limit")
	}
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" {
			q, err := resource.ParseQuantity(strings.TrimSuffix(e.Value, "B"))
			if limit := c.Resources.Limits[corev1.ResourceMemory]; err != nil || q.Cmp(limit) >= 0 {
				t.Errorf("GOMEMLIMIT %q: want a value below the %s memory limit", e.Value, limit.String())
			}
		}
	}
	sas := all[*corev1.ServiceAccount](objs)
	if len(sas) == 1 && sas[0].Name != spec.ServiceAccountName {
		t.Errorf("pods run as %q, the chart creates %q", spec.ServiceAccountName, sas[0].Name)
	}
	for _, sa := range sas {
		if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
			t.Errorf("service account %s offers its token to every pod", sa.Name)
		}
	}
}

// checkChartRouting checks that the Services, HPA, PDB and ServiceMonitor reach the Deployment's
// pods and ports.
func checkChartRouting(t *testing.T, d *appsv1.Deployment, objs []object) {
	t.Helper()
	c := container(t, d)
	podLabels := labels.Set(d.Spec.Template.Labels)
	services := all[*corev1.Service](objs)
	for _, s := range services {
		if len(s.Spec.Selector) == 0 || !labels.SelectorFromSet(s.Spec.Selector).Matches(podLabels) {
			t.Errorf("service %s does not select the pods", s.Name)
		}
		for _, p := range s.Spec.Ports {
			if p.TargetPort.Type != intstr.String {
				t.Errorf("service %s port %s: target the container port by name", s.Name, p.Name)
			} else if got := containerPort(t, c, p.TargetPort.StrVal); got != p.Port {
				t.Errorf("service %s port %s is %d, the container's %d", s.Name, p.Name, p.Port, got)
			}
		}
	}
	// Every container port is reachable through the ClusterIP Service.
	for _, s := range services {
		if s.Spec.ClusterIP == corev1.ClusterIPNone {
			continue
		}
		for _, cp := range c.Ports {
			if !slices.ContainsFunc(s.Spec.Ports, func(p corev1.ServicePort) bool { return p.TargetPort.StrVal == cp.Name }) {
				t.Errorf("service %s has no port for the container's %s", s.Name, cp.Name)
			}
		}
	}

	replicas := d.Spec.Replicas
	if hpas := all[*autoscalingv2.HorizontalPodAutoscaler](objs); len(hpas) == 1 {
		hpa := hpas[0]
		if ref := hpa.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != d.Name || ref.APIVersion != "apps/v1" {
			t.Errorf("HPA scales %+v, not the deployment", ref)
		}
		if d.Spec.Replicas != nil {
			t.Errorf("the deployment sets replicas %d beside the HPA: every upgrade would reset the scale", *d.Spec.Replicas)
		}
		if hpa.Spec.MinReplicas == nil || hpa.Spec.MaxReplicas < *hpa.Spec.MinReplicas {
			t.Errorf("HPA %v to %d replicas", ptrValue(hpa.Spec.MinReplicas), hpa.Spec.MaxReplicas)
		}
		for _, m := range hpa.Spec.Metrics {
			if m.Resource != nil && m.Resource.Target.Type == autoscalingv2.UtilizationMetricType {
				if _, ok := c.Resources.Requests[m.Resource.Name]; !ok {
					t.Errorf("HPA scales on %s utilization, but the container requests no %s", m.Resource.Name, m.Resource.Name)
				}
			}
		}
		replicas = hpa.Spec.MinReplicas
	} else if d.Spec.Replicas == nil {
		t.Fatal("no replicas and no HPA")
	}

	if pdbs := all[*policyv1.PodDisruptionBudget](objs); len(pdbs) == 1 {
		pdb := pdbs[0]
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || !sel.Matches(podLabels) {
			t.Error("the PodDisruptionBudget does not select the pods")
		}
		if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() < 1 || int32(pdb.Spec.MinAvailable.IntValue()) >= *replicas {
			t.Errorf("minAvailable %v: want at least 1 and fewer than the %d replicas, or no drain could ever proceed", pdb.Spec.MinAvailable, *replicas)
		}
	}

	if sms := all[*monitoringv1.ServiceMonitor](objs); len(sms) == 1 {
		sm := sms[0]
		sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
		if err != nil {
			t.Fatal(err)
		}
		var scraped []string
		for _, s := range services {
			if !sel.Matches(labels.Set(s.Labels)) || !slices.Contains(sm.Spec.NamespaceSelector.MatchNames, s.Namespace) {
				continue
			}
			for _, e := range sm.Spec.Endpoints {
				for _, p := range s.Spec.Ports {
					if p.Name == e.Port && p.TargetPort.StrVal == "admin" && e.Path == "/metrics" {
						scraped = append(scraped, s.Name)
					}
				}
			}
		}
		if len(scraped) != 1 {
			t.Errorf("the ServiceMonitor scrapes /metrics on the admin port through %q, want exactly one Service", scraped)
		}
		if _, ok := d.Spec.Template.Annotations["prometheus.io/scrape"]; ok {
			t.Error("prometheus.io annotations beside the ServiceMonitor: every pod would be scraped twice")
		}
	}
}

// checkChartConfig checks the rendered configuration: check-config accepts it, and apart from the
// keys the chart owns it is exactly the values' config.
func checkChartConfig(t *testing.T, data []byte, values map[string]any) {
	t.Helper()
	var rendered map[string]any
	if err := yaml.Unmarshal(data, &rendered); err != nil {
		t.Fatal(err)
	}
	_, tlsOn := rendered["tls"]
	for _, k := range chartOwnedConfigKeys {
		delete(rendered, k)
	}
	if want := values["config"]; !reflect.DeepEqual(rendered, want) {
		got, _ := yaml.Marshal(rendered)
		wantYAML, _ := yaml.Marshal(want)
		t.Errorf("the rendered configuration is not the values' config:\n%s\nwant:\n%s", got, wantYAML)
	}
	if parseServiceConfig(t, data).Listen == "" {
		t.Error("no listen address")
	}
	if !tlsOn { // checkChartTLS runs it with certificate files in place
		checkConfig(t, dockerBuilt(t, "build", "cognito-authz"), writeTemp(t, configKey, data))
	}
}

// checkChartTLS checks that the TLS files the configuration names are the keys of the mounted
// Secret, then runs check-config with real files at those names.
func checkChartTLS(t *testing.T, d *appsv1.Deployment, data []byte) {
	t.Helper()
	var cfg struct {
		TLS map[string]string `json:"tls"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.TLS) == 0 {
		return
	}
	c := container(t, d)
	var dir, secret string
	for _, m := range c.VolumeMounts {
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Name == m.Name && v.Secret != nil {
				dir, secret = m.MountPath, v.Secret.SecretName
				if m.SubPath != "" || !m.ReadOnly {
					t.Errorf("TLS secret mounted with subPath %q, readOnly %v: want the read-only directory, so renewals reach the pod", m.SubPath, m.ReadOnly)
				}
			}
		}
	}
	if secret == "" {
		t.Fatalf("tls %v, but no Secret is mounted", cfg.TLS)
	}
	files := map[string][]byte{}
	certPEM, keyPEM := selfSignedCert(t)
	for key, file := range cfg.TLS {
		if path.Dir(file) != dir {
			t.Errorf("tls.%s %s is not in the Secret %s mounted at %s", key, file, secret, dir)
		}
		switch key {
		case "cert_file", "client_ca_file":
			files[path.Base(file)] = certPEM
		case "key_file":
			files[path.Base(file)] = keyPEM
		}
	}
	if cfg.TLS["cert_file"] != dir+"/tls.crt" || cfg.TLS["key_file"] != dir+"/tls.key" {
		t.Errorf("tls %v: want the kubernetes.io/tls Secret's tls.crt and tls.key", cfg.TLS)
	}
	local := t.TempDir()
	for name, pemData := range files {
		if err := os.WriteFile(filepath.Join(local, name), pemData, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	relocated := strings.ReplaceAll(string(data), dir+"/", local+"/")
	checkConfig(t, dockerBuilt(t, "build", "cognito-authz"), writeTemp(t, configKey, []byte(relocated)))
}

// selfSignedCert is a certificate and its key, in PEM, that can serve as the Secret's tls.crt,
// tls.key and ca.crt.
func selfSignedCert(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "cognito-authz"},
		DNSNames:              []string{"authz-cognito-authz." + chartNamespace + ".svc"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

// The notes `helm install` prints name the address of every Service the chart creates, on the port
// its clients use.
func TestChartNotesNameTheServices(t *testing.T) {
	for _, vs := range chartValueSets {
		t.Run(vs.name, func(t *testing.T) {
			args := append([]string{"install", chartRelease, chartDir, "--dry-run=client", "--namespace", chartNamespace}, valuesArgs(t, vs.values)...)
			out, err := helm(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			_, notes, ok := strings.Cut(string(out), "\nNOTES:\n")
			if !ok {
				t.Fatalf("helm install printed no notes:\n%s", out)
			}
			for _, s := range all[*corev1.Service](renderChart(t, vs.values)) {
				for _, p := range s.Spec.Ports {
					if p.Name == "http-admin" {
						continue
					}
					addr := fmt.Sprintf("%s.%s.svc.cluster.local:%d", s.Name, s.Namespace, p.Port)
					if !strings.Contains(notes, addr) {
						t.Errorf("the notes do not name %s (service %s, port %s):\n%s", addr, s.Name, p.Name, notes)
					}
				}
			}
		})
	}
}

// Each value changes what it names: a chart that ignored one would fail here, since every value
// below differs from its default.
func TestChartValuesAreNotIgnored(t *testing.T) {
	deploymentOf := func(t *testing.T, objs []object) (*appsv1.Deployment, corev1.Container) {
		d := only[*appsv1.Deployment](t, objs)
		return d, container(t, d)
	}
	for _, tc := range []struct {
		name, values string
		check        func(t *testing.T, objs []object)
	}{
		{"replicaCount", "replicaCount: 5", func(t *testing.T, objs []object) {
			if d, _ := deploymentOf(t, objs); d.Spec.Replicas == nil || *d.Spec.Replicas != 5 {
				t.Errorf("replicas %s, want 5", fmt.Sprint(ptrValue(d.Spec.Replicas)))
			}
		}},
		{"resources", "resources: {requests: {cpu: 250m, memory: 96Mi}, limits: {cpu: '2', memory: 512Mi}}", func(t *testing.T, objs []object) {
			_, c := deploymentOf(t, objs)
			want := corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("96Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("512Mi")},
			}
			if !equality.Semantic.DeepEqual(c.Resources, want) {
				t.Errorf("resources %v, want %v", c.Resources, want)
			}
		}},
		{"image", "image: {repository: registry.example.com/authz, tag: v9.9.9, digest: 'sha256:" + strings.Repeat("ab", 32) + "', pullPolicy: Always}", func(t *testing.T, objs []object) {
			_, c := deploymentOf(t, objs)
			if want := "registry.example.com/authz:v9.9.9@sha256:" + strings.Repeat("ab", 32); c.Image != want || c.ImagePullPolicy != corev1.PullAlways {
				t.Errorf("image %s (%s), want %s (Always)", c.Image, c.ImagePullPolicy, want)
			}
		}},
		{"image tag defaults to appVersion", "", func(t *testing.T, objs []object) {
			var chart struct {
				AppVersion string `json:"appVersion"`
			}
			if err := yaml.Unmarshal(readFile(t, filepath.Join(chartDir, "Chart.yaml")), &chart); err != nil || chart.AppVersion == "" {
				t.Fatalf("Chart.yaml has no appVersion: %v", err)
			}
			if _, c := deploymentOf(t, objs); !strings.HasSuffix(c.Image, ":"+chart.AppVersion) {
				t.Errorf("image %s, want the tag %s", c.Image, chart.AppVersion)
			}
		}},
		{"ports", "ports: {grpc: 7001, admin: 7090}", func(t *testing.T, objs []object) {
			_, c := deploymentOf(t, objs)
			if containerPort(t, c, "grpc") != 7001 || containerPort(t, c, "admin") != 7090 {
				t.Errorf("container ports %v", c.Ports)
			}
			if p := c.ReadinessProbe; p.GRPC == nil || p.GRPC.Port != 7001 {
				t.Errorf("readiness probe %+v, want gRPC on 7001", p)
			}
			cfg := parseServiceConfig(t, mountedConfig(t, objs))
			if cfg.Listen != ":7001" || cfg.AdminListen != ":7090" {
				t.Errorf("listen %q, admin_listen %q", cfg.Listen, cfg.AdminListen)
			}
		}},
		{"forwardAuth", "forwardAuth: {enabled: true, port: 7002}", func(t *testing.T, objs []object) {
			if cfg := parseServiceConfig(t, mountedConfig(t, objs)); cfg.HTTPListen != ":7002" {
				t.Errorf("http_listen %q, want :7002", cfg.HTTPListen)
			}
			s := serviceNamed(t, objs, chartRelease+"-cognito-authz")
			if !slices.ContainsFunc(s.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == 7002 && p.TargetPort.StrVal == "http" }) {
				t.Errorf("service ports %v: no forward-auth port 7002", s.Spec.Ports)
			}
		}},
		{"tls.clientCAKey", "tls: {enabled: true, secretName: my-tls, clientAuth: true, clientCAKey: client-ca.pem}", func(t *testing.T, objs []object) {
			if data := string(mountedConfig(t, objs)); !strings.Contains(data, "client_ca_file: /etc/cognito-authz-tls/client-ca.pem") {
				t.Errorf("configuration names no client-ca.pem:\n%s", data)
			}
			d, _ := deploymentOf(t, objs)
			if !slices.ContainsFunc(d.Spec.Template.Spec.Volumes, func(v corev1.Volume) bool { return v.Secret != nil && v.Secret.SecretName == "my-tls" }) {
				t.Error("Secret my-tls is not mounted")
			}
		}},
		{"logLevel", "logLevel: debug", func(t *testing.T, objs []object) {
			if _, c := deploymentOf(t, objs); !hasFlag(c.Args, "--log-level", "debug") {
				t.Errorf("args %q, want --log-level debug", c.Args)
			}
		}},
		{"goMemLimit and goMaxProcs", "goMemLimit: 100MiB\ngoMaxProcs: 4", func(t *testing.T, objs []object) {
			_, c := deploymentOf(t, objs)
			env := map[string]string{}
			for _, e := range c.Env {
				env[e.Name] = e.Value
			}
			if env["GOMEMLIMIT"] != "100MiB" || env["GOMAXPROCS"] != "4" {
				t.Errorf("env %v", env)
			}
		}},
		{"autoscaling", "autoscaling: {enabled: true, minReplicas: 3, maxReplicas: 7, targetCPUUtilizationPercentage: 55, scaleDownStabilizationWindowSeconds: 60}", func(t *testing.T, objs []object) {
			hpa := only[*autoscalingv2.HorizontalPodAutoscaler](t, objs)
			m := hpa.Spec.Metrics[0].Resource
			if *hpa.Spec.MinReplicas != 3 || hpa.Spec.MaxReplicas != 7 || *m.Target.AverageUtilization != 55 || *hpa.Spec.Behavior.ScaleDown.StabilizationWindowSeconds != 60 {
				t.Errorf("HPA %+v", hpa.Spec)
			}
		}},
		{"podDisruptionBudget", "replicaCount: 4\npodDisruptionBudget: {enabled: true, minAvailable: 3}", func(t *testing.T, objs []object) {
			if pdb := only[*policyv1.PodDisruptionBudget](t, objs); pdb.Spec.MinAvailable.IntValue() != 3 {
				t.Errorf("minAvailable %v, want 3", pdb.Spec.MinAvailable)
			}
		}},
		{"serviceMonitor", "serviceMonitor: {enabled: true, interval: 15s, scrapeTimeout: 5s, labels: {release: prom}}", func(t *testing.T, objs []object) {
			sm := only[*monitoringv1.ServiceMonitor](t, objs)
			if e := sm.Spec.Endpoints[0]; e.Interval != "15s" || e.ScrapeTimeout != "5s" || sm.Labels["release"] != "prom" {
				t.Errorf("ServiceMonitor %+v, labels %v", e, sm.Labels)
			}
		}},
		{"service", "service: {type: NodePort, annotations: {a.example.com/b: c}, headless: false}", func(t *testing.T, objs []object) {
			s := only[*corev1.Service](t, objs)
			if s.Spec.Type != corev1.ServiceTypeNodePort || s.Annotations["a.example.com/b"] != "c" {
				t.Errorf("service %s: type %s, annotations %v", s.Name, s.Spec.Type, s.Annotations)
			}
		}},
		{"serviceAccount", "serviceAccount: {create: false, name: shared}", func(t *testing.T, objs []object) {
			if sas := all[*corev1.ServiceAccount](objs); len(sas) != 0 {
				t.Errorf("%d service accounts created", len(sas))
			}
			if d, _ := deploymentOf(t, objs); d.Spec.Template.Spec.ServiceAccountName != "shared" {
				t.Errorf("serviceAccountName %q", d.Spec.Template.Spec.ServiceAccountName)
			}
		}},
		{"serviceAccount.annotations", "serviceAccount: {annotations: {eks.amazonaws.com/role-arn: arn}}", func(t *testing.T, objs []object) {
			if sa := only[*corev1.ServiceAccount](t, objs); sa.Annotations["eks.amazonaws.com/role-arn"] != "arn" {
				t.Errorf("annotations %v", sa.Annotations)
			}
		}},
		{"pod placement", `
nodeSelector: {pool: edge}
tolerations: [{key: edge, operator: Exists, effect: NoSchedule}]
affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: arch, operator: In, values: [arm64]}]}]}}}
priorityClassName: critical
topologySpread: [{topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule}]
podAnnotations: {team: identity}
podLabels: {tier: auth}
imagePullSecrets: [{name: regcred}]`, func(t *testing.T, objs []object) {
			d, _ := deploymentOf(t, objs)
			s := d.Spec.Template.Spec
			if s.NodeSelector["pool"] != "edge" || len(s.Tolerations) != 1 || s.Affinity == nil || s.Affinity.NodeAffinity == nil || s.PriorityClassName != "critical" {
				t.Errorf("placement: nodeSelector %v, tolerations %v, affinity %v, priorityClassName %q", s.NodeSelector, s.Tolerations, s.Affinity, s.PriorityClassName)
			}
			if tsc := s.TopologySpreadConstraints; len(tsc) != 1 || tsc[0].WhenUnsatisfiable != corev1.DoNotSchedule {
				t.Errorf("topology spread %+v", tsc)
			}
			if d.Spec.Template.Annotations["team"] != "identity" || d.Spec.Template.Labels["tier"] != "auth" {
				t.Errorf("pod annotations %v, labels %v", d.Spec.Template.Annotations, d.Spec.Template.Labels)
			}
			if len(s.ImagePullSecrets) != 1 || s.ImagePullSecrets[0].Name != "regcred" {
				t.Errorf("imagePullSecrets %v", s.ImagePullSecrets)
			}
		}},
		{"fullnameOverride", "fullnameOverride: edge-authz", func(t *testing.T, objs []object) {
			for _, o := range objs {
				if !strings.HasPrefix(o.Name, "edge-authz") {
					t.Errorf("%s %s: want the name edge-authz", o.GVK.Kind, o.Name)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, renderChart(t, tc.values))
		})
	}
}

func serviceNamed(t *testing.T, objs []object, name string) *corev1.Service {
	t.Helper()
	for _, s := range all[*corev1.Service](objs) {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no Service %s", name)
	return nil
}

// A change to config reaches running pods by live reload, so it must leave the pod template alone
// (a checksum annotation would roll every pod on each policy change); a change that needs a
// restart (ports, TLS on or off, the forward-auth listener) must change the pod template, so that
// helm upgrade rolls the pods.
func TestChartConfigChangesReloadLive(t *testing.T) {
	template := func(values string) corev1.PodTemplateSpec {
		return only[*appsv1.Deployment](t, renderChart(t, values)).Spec.Template
	}
	base := template("")
	for _, tc := range []struct {
		values  string
		restart bool
	}{
		{"config: {policy: {rules: [{path_prefix: /admin, auth: required}]}}", false},
		{"config: {issuers: [{user_pool_id: eu-west-1_AbCdEf123, client_ids: [other0123456789abcdefghijk]}]}", false},
		{"config: {identity_headers: {prefix: x-auth-user-}}", false},
		{"ports: {grpc: 7001}", true},
		{"ports: {admin: 7090}", true},
		{"tls: {enabled: true, secretName: authz-tls}", true},
		{"forwardAuth: {enabled: true}", true},
	} {
		changed := !equality.Semantic.DeepEqual(base, template(tc.values))
		if changed != tc.restart {
			t.Errorf("%s: pod template changed %v, want %v", tc.values, changed, tc.restart)
		}
	}
}

// Values the chart cannot honour fail the install with a message naming them, rather than
// rendering something else.
func TestChartRefusesBadValues(t *testing.T) {
	for _, tc := range []struct{ values, want string }{
		{"config: {listen: ':1234'}", "config.listen is set by the chart: use ports.grpc"},
		{"config: {http_listen: ':1234'}", "config.http_listen is set by the chart: use forwardAuth"},
		{"config: {tls: {cert_file: /x}}", "config.tls is set by the chart: use tls"},
		{"tls: {enabled: true}", "tls.enabled needs tls.secretName"},
		{"podDisruptionBudget: {enabled: true, minAvailable: 2}", "podDisruptionBudget.minAvailable 2 leaves no replica of 2 to evict"},
		{"autoscaling: {enabled: true, minReplicas: 5, maxReplicas: 3}", "autoscaling.maxReplicas is below autoscaling.minReplicas"},
		// values.schema.json: a misspelt value is an error, not a value silently ignored.
		{"replicas: 3", "additional properties 'replicas' not allowed"},
		{"podDisruptionBudget: {enable: true}", "at '/podDisruptionBudget': additional properties 'enable' not allowed"},
		{"logLevel: verbose", "at '/logLevel': value must be one of"},
		{"config: {issuers: []}", "at '/config/issuers'"},
	} {
		out, err := renderChartRaw(t, tc.values)
		if err == nil {
			t.Errorf("%s: rendered\n%s", tc.values, out)
		} else if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.values, err, tc.want)
		}
	}
}

// The chart's README lists every value of values.yaml, and nothing else.
func TestChartReadmeListsEveryValue(t *testing.T) {
	readme := string(readFile(t, filepath.Join(chartDir, "README.md")))
	var documented []string
	for _, line := range strings.Split(readme, "\n") {
		if strings.HasPrefix(line, "| `") {
			documented = append(documented, strings.Trim(strings.SplitN(line, "|", 3)[1], " `"))
		}
	}
	var keys []string
	var walk func(prefix string, v map[string]any)
	walk = func(prefix string, v map[string]any) {
		for k, val := range v {
			key := prefix + k
			// config's keys are the configuration file's, documented in docs/reference.md; the
			// README names the sections.
			if m, ok := val.(map[string]any); ok && len(m) > 0 && key != "resources" && !strings.HasPrefix(key, "config.") {
				walk(key+".", m)
				continue
			}
			keys = append(keys, key)
		}
	}
	walk("", chartDefaults(t))
	slices.Sort(keys)
	slices.Sort(documented)
	if !slices.Equal(keys, documented) {
		t.Errorf("README.md documents %q,\nvalues.yaml has %q", documented, keys)
	}
}

func hasFlag(args []string, flag, value string) bool {
	v, ok := flagValue(args, flag)
	return ok && v == value
}

// values.schema.json describes exactly the keys of values.yaml (config's own keys are the service's
// to check), so that its closed objects refuse misspelt values and no real value.
func TestChartSchemaMatchesValues(t *testing.T) {
	type schemaNode struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	var walk func(key string, schema json.RawMessage, values map[string]any)
	walk = func(key string, schema json.RawMessage, values map[string]any) {
		var node schemaNode
		if err := json.Unmarshal(schema, &node); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if node.Properties == nil {
			return // an open object: resources, annotations, config
		}
		for k, v := range values {
			sub, ok := node.Properties[k]
			if !ok {
				t.Errorf("values.yaml has %s%s, values.schema.json does not", key, k)
				continue
			}
			if m, ok := v.(map[string]any); ok && k != "config" {
				walk(key+k+".", sub, m)
			}
		}
		for k := range node.Properties {
			if _, ok := values[k]; !ok && !(key == "" && k == "global") {
				t.Errorf("values.schema.json has %s%s, values.yaml does not", key, k)
			}
		}
	}
	walk("", readFile(t, filepath.Join(chartDir, "values.schema.json")), chartDefaults(t))
}

// ptrValue is what p points to, or nil, for messages.
func ptrValue[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
