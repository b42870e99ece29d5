package deploy

import (
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	psaapi "k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"
)

// configKey is the ConfigMap key holding the cognito-authz configuration file.
const configKey = "cognito-authz.yaml"

// The three ways to apply the service: the plain base and the two gateway overlays.
var kustomizations = []struct {
	dir   string
	kinds []string
}{
	{"kubernetes", []string{"ConfigMap", "Deployment", "HorizontalPodAutoscaler", "Namespace", "PodDisruptionBudget", "Service", "Service", "ServiceAccount"}},
	{"istio", []string{"AuthorizationPolicy", "ConfigMap", "Deployment", "EnvoyFilter", "HorizontalPodAutoscaler", "Namespace", "PodDisruptionBudget", "Service", "Service", "ServiceAccount"}},
	{"envoy-gateway", []string{"ClientTrafficPolicy", "ConfigMap", "Deployment", "HorizontalPodAutoscaler", "Namespace", "PodDisruptionBudget", "ReferenceGrant", "SecurityPolicy", "Service", "Service", "ServiceAccount"}},
}

func TestKustomizationsBuildAndDecodeStrictly(t *testing.T) {
	for _, k := range kustomizations {
		t.Run(k.dir, func(t *testing.T) {
			var kinds []string
			for _, o := range kustomize(t, k.dir) {
				kinds = append(kinds, o.GVK.Kind)
			}
			slices.Sort(kinds)
			if !slices.Equal(kinds, k.kinds) {
				t.Errorf("resources %q, want %q", kinds, k.kinds)
			}
		})
	}
}

// Every manifest file of the base is in its kustomization, so -k applies all of it.
func TestKubernetesKustomizationListsEveryManifest(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("kubernetes", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var manifests int
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		objs, err := decodeAll(readFile(t, f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
		}
		manifests += len(objs)
	}
	if got := len(kustomize(t, "kubernetes")); got != manifests {
		t.Errorf("kustomization builds %d resources, the files hold %d", got, manifests)
	}
}

// The strict decoding above really rejects what Kubernetes, Istio or Envoy Gateway would.
func TestStrictDecodingRejectsBrokenManifests(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no fixtures in testdata/")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := decodeAll(readFile(t, f)); err == nil {
				t.Errorf("%s decodes without error", f)
			}
		})
	}
}

func baseDeployment(t *testing.T) (*appsv1.Deployment, []object) {
	t.Helper()
	objs := kustomize(t, "kubernetes")
	return only[*appsv1.Deployment](t, objs), objs
}

func container(t *testing.T, d *appsv1.Deployment) corev1.Container {
	t.Helper()
	cs := d.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("deployment has %d containers, want 1", len(cs))
	}
	return cs[0]
}

func containerPort(t *testing.T, c corev1.Container, name string) int32 {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	t.Fatalf("container has no port named %q", name)
	return 0
}

// checkPodSecurity asserts what every pod of cognito-authz runs with: non-root, no service account
// token, RuntimeDefault seccomp, and in each container a read-only root filesystem, no privilege
// escalation and no capability.
func checkPodSecurity(t *testing.T, spec corev1.PodSpec) {
	t.Helper()
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Error("pod: want runAsNonRoot and a non-zero runAsUser")
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("pod: want the RuntimeDefault seccomp profile")
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Error("the pod mounts a service account token it never uses")
	}
	for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("container %s: want readOnlyRootFilesystem", c.Name)
		}
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("container %s: want allowPrivilegeEscalation false", c.Name)
		}
		if sc == nil || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 {
			t.Errorf("container %s: want every capability dropped and none added", c.Name)
		}
	}
}

// checkRestricted evaluates the pod against the "restricted" Pod Security Standard, as the API
// server's admission would.
func checkRestricted(t *testing.T, pod *corev1.PodTemplateSpec) {
	t.Helper()
	eval, err := psapolicy.NewEvaluator(psapolicy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	lv := psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}
	res := psapolicy.AggregateCheckResults(eval.EvaluatePod(lv, &pod.ObjectMeta, &pod.Spec))
	if !res.Allowed {
		t.Errorf("restricted forbids the pod: %s: %s", res.ForbiddenReason(), res.ForbiddenDetail())
	}
}

func TestDeployment(t *testing.T) {
	d, _ := baseDeployment(t)
	spec := d.Spec.Template.Spec
	c := container(t, d)

	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("replicas %v, want 2 or more", d.Spec.Replicas)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	if !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Error("the selector does not match the pod template's labels")
	}
	if ru := d.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Error("a rollout may take a serving replica away before its successor is ready: want maxUnavailable 0")
	}

	ref, err := reference.ParseNormalizedNamed(c.Image)
	if err != nil {
		t.Fatalf("image %q: %v", c.Image, err)
	}
	if tagged, ok := ref.(reference.Tagged); !ok || tagged.Tag() == "latest" {
		t.Errorf("image %q: want a version tag", c.Image)
	}
	if c.Args[0] != "serve" {
		t.Errorf("args %q: want the serve subcommand", c.Args)
	}

	// Probes: ready on gRPC health (keys loaded), alive on the admin port.
	grpcPort := containerPort(t, c, "grpc")
	if p := c.ReadinessProbe; p == nil || p.GRPC == nil || p.GRPC.Port != grpcPort {
		t.Errorf("readiness probe %+v: want grpc.health.v1 on port %d", p, grpcPort)
	}
	if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port != intstr.FromString("admin") {
		t.Errorf("liveness probe %+v: want GET /healthz on the admin port", p)
	}
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Error("no preStop sleep: the pod could stop accepting before endpoints drop it")
	} else if pre := c.Lifecycle.PreStop.Sleep.Seconds; spec.TerminationGracePeriodSeconds == nil || pre >= *spec.TerminationGracePeriodSeconds {
		t.Errorf("preStop sleeps %ds, leaving no grace period for the shutdown", pre)
	}

	// Resources: requests for scheduling and the HPA, a memory limit, and GOMEMLIMIT below it.
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := c.Resources.Requests[r]; !ok || q.IsZero() {
			t.Errorf("no %s request", r)
		}
	}
	limit, ok := c.Resources.Limits[corev1.ResourceMemory]
	if !ok {
		t.Fatal("no memory limit")
	}
	if limit.Cmp(c.Resources.Requests[corev1.ResourceMemory]) < 0 {
		t.Error("memory limit below the request")
	}
	gomemlimit := ""
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" {
			gomemlimit = e.Value
		}
	}
	if q, err := resource.ParseQuantity(strings.TrimSuffix(gomemlimit, "B")); err != nil || q.Cmp(limit) >= 0 {
		t.Errorf("GOMEMLIMIT %q: want a value below the %s limit", gomemlimit, limit.String())
	}

	checkPodSecurity(t, spec)

	// Spread: replicas on different nodes and zones where the cluster allows.
	keys := map[string]bool{}
	for _, tsc := range spec.TopologySpreadConstraints {
		s, err := metav1.LabelSelectorAsSelector(tsc.LabelSelector)
		if err != nil || !s.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("topology spread on %s does not select the pods", tsc.TopologyKey)
		}
		keys[tsc.TopologyKey] = true
	}
	for _, k := range []string{"kubernetes.io/hostname", "topology.kubernetes.io/zone"} {
		if !keys[k] {
			t.Errorf("no topology spread over %s", k)
		}
	}
}

// The pod passes the "restricted" Pod Security Standard its namespace enforces, as the API server
// would evaluate it.
func TestPodMeetsRestrictedPodSecurityStandard(t *testing.T) {
	d, objs := baseDeployment(t)
	ns := only[*corev1.Namespace](t, objs)
	if ns.Name != d.Namespace {
		t.Fatalf("namespace %q, deployment in %q", ns.Name, d.Namespace)
	}
	level, err := psaapi.ParseLevel(ns.Labels[psaapi.EnforceLevelLabel])
	if err != nil || level != psaapi.LevelRestricted {
		t.Errorf("namespace enforces %q, want restricted", ns.Labels[psaapi.EnforceLevelLabel])
	}
	checkRestricted(t, &d.Spec.Template)
}

func TestServicesPDBAndHPAMatchTheDeployment(t *testing.T) {
	d, objs := baseDeployment(t)
	c := container(t, d)
	podLabels := labels.Set(d.Spec.Template.Labels)

	services := all[*corev1.Service](objs)
	if len(services) != 2 {
		t.Fatalf("%d services, want the ClusterIP one and the headless one", len(services))
	}
	var headless int
	for _, s := range services {
		if !labels.SelectorFromSet(s.Spec.Selector).Matches(podLabels) || len(s.Spec.Selector) == 0 {
			t.Errorf("service %s does not select the pods", s.Name)
		}
		if s.Spec.ClusterIP == corev1.ClusterIPNone {
			headless++
		}
		for _, p := range s.Spec.Ports {
			if p.TargetPort.Type != intstr.String {
				t.Errorf("service %s port %s: target the container port by name", s.Name, p.Name)
				continue
			}
			if got := containerPort(t, c, p.TargetPort.StrVal); p.Name == "grpc" && got != p.Port {
				t.Errorf("service %s: grpc on %d, container on %d", s.Name, p.Port, got)
			}
		}
	}
	if headless != 1 {
		t.Errorf("want exactly one headless service (for Envoy's STRICT_DNS), got %d", headless)
	}

	pdb := only[*policyv1.PodDisruptionBudget](t, objs)
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil || !sel.Matches(podLabels) {
		t.Error("the PodDisruptionBudget does not select the pods")
	}
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() < 1 || int32(pdb.Spec.MinAvailable.IntValue()) >= *d.Spec.Replicas {
		t.Errorf("minAvailable %v: want at least 1 and fewer than the %d replicas, or no drain could ever proceed", pdb.Spec.MinAvailable, *d.Spec.Replicas)
	}

	hpa := only[*autoscalingv2.HorizontalPodAutoscaler](t, objs)
	if ref := hpa.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != d.Name || ref.APIVersion != "apps/v1" {
		t.Errorf("HPA scales %+v, not the deployment", ref)
	}
	if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 2 || *hpa.Spec.MinReplicas != *d.Spec.Replicas {
		t.Errorf("HPA minReplicas %v: want the deployment's %d (2 or more)", hpa.Spec.MinReplicas, *d.Spec.Replicas)
	}
	if hpa.Spec.MaxReplicas <= *hpa.Spec.MinReplicas {
		t.Errorf("HPA maxReplicas %d leaves no room to scale", hpa.Spec.MaxReplicas)
	}
	for _, m := range hpa.Spec.Metrics {
		if m.Resource != nil && m.Resource.Target.Type == autoscalingv2.UtilizationMetricType {
			if _, ok := c.Resources.Requests[m.Resource.Name]; !ok {
				t.Errorf("HPA scales on %s utilization, but the container requests no %s", m.Resource.Name, m.Resource.Name)
			}
		}
	}

	if sa := only[*corev1.ServiceAccount](t, objs); d.Spec.Template.Spec.ServiceAccountName != sa.Name {
		t.Errorf("pods run as %q, the manifests create %q", d.Spec.Template.Spec.ServiceAccountName, sa.Name)
	}
}

// In every shape, the configuration the pods mount is the one --config names, it passes the
// service's own check-config, and it listens on the ports the probes and Services use.
func TestConfigMapConfiguresThePods(t *testing.T) {
	for _, k := range kustomizations {
		t.Run(k.dir, func(t *testing.T) {
			data := mountedConfig(t, kustomize(t, k.dir))
			checkConfig(t, dockerBuilt(t, "build", "cognito-authz"), writeTemp(t, configKey, data))
		})
	}
}

// mountedConfig returns the configuration file the Deployment among objs runs with, after checking
// that it is the ConfigMap key --config names, mounted read-only as a whole directory (a subPath
// mount would never see an update, so live reload would not work), and that it listens on the
// container ports the probes and Services use.
func mountedConfig(t *testing.T, objs []object) []byte {
	t.Helper()
	d := only[*appsv1.Deployment](t, objs)
	c := container(t, d)
	cm := only[*corev1.ConfigMap](t, objs)

	configArg, ok := flagValue(c.Args, "--config")
	if !ok {
		t.Fatalf("args %q name no --config", c.Args)
	}
	var mountedFrom string
	for _, m := range c.VolumeMounts {
		if m.MountPath == path.Dir(configArg) {
			if !m.ReadOnly {
				t.Errorf("config mounted writable")
			}
			if m.SubPath != "" {
				t.Errorf("config mounted with subPath %q: the pods would never see an update", m.SubPath)
			}
			for _, v := range d.Spec.Template.Spec.Volumes {
				if v.Name == m.Name && v.ConfigMap != nil {
					mountedFrom = v.ConfigMap.Name
				}
			}
		}
	}
	if mountedFrom != cm.Name || path.Base(configArg) != configKey {
		t.Fatalf("--config %s is not key %s of ConfigMap %s", configArg, configKey, cm.Name)
	}
	data, ok := cm.Data[configKey]
	if !ok {
		t.Fatalf("ConfigMap has no %s", configKey)
	}
	cfg := parseServiceConfig(t, []byte(data))
	for _, l := range []struct{ key, addr, port string }{
		{"listen", cfg.Listen, "grpc"},
		{"admin_listen", cfg.AdminListen, "admin"},
		{"http_listen", cfg.HTTPListen, "http"},
	} {
		if l.addr == "" && l.key == "http_listen" {
			continue // off
		}
		if got, want := portOf(t, l.addr), strconv.Itoa(int(containerPort(t, c, l.port))); got != want {
			t.Errorf("%s %s, but the %s container port is %s", l.key, l.addr, l.port, want)
		}
	}
	return []byte(data)
}

// The image runs as the user the pod security context names.
func TestDeploymentUserMatchesImage(t *testing.T) {
	d, _ := baseDeployment(t)
	st, _ := mustParseDockerfile(t).stage(serviceStage)
	var user string
	for _, cmd := range st.Commands {
		if u, ok := cmd.(*instructions.UserCommand); ok {
			user = u.User
		}
	}
	uid, gid, _ := strings.Cut(user, ":")
	psc := d.Spec.Template.Spec.SecurityContext
	if psc == nil || psc.RunAsUser == nil || psc.RunAsGroup == nil {
		t.Fatal("the pod names no runAsUser and runAsGroup")
	}
	if got := strconv.FormatInt(*psc.RunAsUser, 10); got != uid {
		t.Errorf("runAsUser %s, the image's USER is %q", got, user)
	}
	if got := strconv.FormatInt(*psc.RunAsGroup, 10); got != gid {
		t.Errorf("runAsGroup %s, the image's USER is %q", got, user)
	}
}
