package deploy

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	"google.golang.org/protobuf/encoding/protojson"
	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	securityv1beta1 "istio.io/api/security/v1beta1"
	corev1 "k8s.io/api/core/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwapiv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	"sigs.k8s.io/yaml"
)

// authzService is the ClusterIP Service that meshes and gateways send checks to, and its gRPC port.
func authzService(t *testing.T, objs []object) (*corev1.Service, int32) {
	t.Helper()
	for _, s := range all[*corev1.Service](objs) {
		if s.Spec.ClusterIP == corev1.ClusterIPNone {
			continue
		}
		for _, p := range s.Spec.Ports {
			if p.Name == "grpc" {
				return s, p.Port
			}
		}
	}
	t.Fatal("no ClusterIP Service with a grpc port")
	return nil, 0
}

// istioMeshConfig reads istio/mesh-config.yaml, istiod's Helm values, as istiod reads meshConfig.
func istioMeshConfig(t *testing.T) *meshv1alpha1.MeshConfig {
	t.Helper()
	js, err := yaml.YAMLToJSON(readFile(t, "istio/mesh-config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]json.RawMessage
	if err := json.Unmarshal(js, &values); err != nil {
		t.Fatal(err)
	}
	if len(values) != 1 || values["meshConfig"] == nil {
		t.Fatalf("istio/mesh-config.yaml: want only the meshConfig value")
	}
	mc := &meshv1alpha1.MeshConfig{}
	if err := protojson.Unmarshal(values["meshConfig"], mc); err != nil {
		t.Fatalf("meshConfig: %v", err)
	}
	return mc
}

func TestIstioExtensionProvider(t *testing.T) {
	svc, port := authzService(t, kustomize(t, "istio"))
	var grpc *meshv1alpha1.MeshConfig_ExtensionProvider_EnvoyExternalAuthorizationGrpcProvider
	for _, p := range istioMeshConfig(t).GetExtensionProviders() {
		if p.GetName() == "cognito-authz" {
			grpc = p.GetEnvoyExtAuthzGrpc()
		}
	}
	if grpc == nil {
		t.Fatal("no envoyExtAuthzGrpc provider named cognito-authz")
	}
	if want := fmt.Sprintf("%s.%s.svc.cluster.local", svc.Name, svc.Namespace); grpc.GetService() != want || grpc.GetPort() != uint32(port) {
		t.Errorf("provider sends checks to %s:%d, want %s:%d", grpc.GetService(), grpc.GetPort(), want, port)
	}
	if grpc.GetFailOpen() {
		t.Error("failOpen: an unanswered check would let the request through")
	}
	if grpc.GetStatusOnError() != "503" {
		t.Errorf("statusOnError %q, want 503, the answer when keys are unavailable", grpc.GetStatusOnError())
	}
	if d := grpc.GetTimeout().AsDuration(); d <= 0 || d > time.Second {
		t.Errorf("timeout %v: want a short one, at most 1s", d)
	}
}

func TestIstioAuthorizationPolicySendsEveryRequest(t *testing.T) {
	ap := only[*istioAuthorizationPolicy](t, kustomize(t, "istio"))
	if ap.Spec.GetAction() != securityv1beta1.AuthorizationPolicy_CUSTOM {
		t.Errorf("action %v, want CUSTOM", ap.Spec.GetAction())
	}
	if ap.Spec.GetProvider().GetName() != "cognito-authz" {
		t.Errorf("provider %q, want the cognito-authz extension provider", ap.Spec.GetProvider().GetName())
	}
	if len(ap.Spec.GetSelector().GetMatchLabels()) == 0 && len(ap.Spec.GetTargetRefs()) == 0 {
		t.Error("the policy selects no workload")
	}
	// Only a rule without conditions matches every request; cognito-authz must see every one to
	// strip forged identity headers.
	rules := ap.Spec.GetRules()
	if len(rules) != 1 || len(rules[0].GetFrom()) > 0 || len(rules[0].GetTo()) > 0 || len(rules[0].GetWhen()) > 0 {
		t.Errorf("rules %v: want one rule with no condition, matching every request", rules)
	}
}

func TestEnvoyGatewaySecurityPolicy(t *testing.T) {
	objs := kustomize(t, "envoy-gateway")
	svc, port := authzService(t, objs)
	sp := only[*egv1a1.SecurityPolicy](t, objs)
	ea := sp.Spec.ExtAuth
	if ea == nil || ea.GRPC == nil {
		t.Fatal("no extAuth.grpc")
	}
	refs := ea.GRPC.BackendRefs
	if len(refs) != 1 {
		t.Fatalf("%d backendRefs, want the cognito-authz Service", len(refs))
	}
	ref := refs[0].BackendObjectReference
	if ref.Name != gwapiv1.ObjectName(svc.Name) || ref.Namespace == nil || string(*ref.Namespace) != svc.Namespace || ref.Port == nil || int32(*ref.Port) != port {
		t.Errorf("extAuth sends checks to %+v, want Service %s/%s port %d", ref, svc.Namespace, svc.Name, port)
	}
	if ea.FailOpen == nil || *ea.FailOpen {
		t.Error("failOpen must be set to false: an unanswered check would let the request through")
	}
	if ea.StatusOnError == nil || *ea.StatusOnError != 503 {
		t.Errorf("statusOnError %v, want 503", ea.StatusOnError)
	}
	if ea.Timeout == nil {
		t.Error("no timeout: Envoy Gateway's default is 10s")
	} else if d, err := time.ParseDuration(string(*ea.Timeout)); err != nil || d > time.Second {
		t.Errorf("timeout %s: want a short one, at most 1s", *ea.Timeout)
	}
	if len(ea.HeadersToExtAuth) > 0 {
		t.Errorf("headersToExtAuth %q: cognito-authz needs every header (Authorization, cookies, its own identity headers to strip)", ea.HeadersToExtAuth)
	}

	// The policy targets the app's route, in its own namespace.
	routes, err := decodeAll(readFile(t, "envoy-gateway/httproute.yaml"))
	if err != nil {
		t.Fatalf("envoy-gateway/httproute.yaml: %v", err)
	}
	route := only[*gwapiv1.HTTPRoute](t, routes)
	if len(sp.Spec.TargetRefs) != 1 || sp.Spec.TargetRefs[0].Kind != "HTTPRoute" || string(sp.Spec.TargetRefs[0].Name) != route.Name || sp.Namespace != route.Namespace {
		t.Errorf("the SecurityPolicy targets %+v, not HTTPRoute %s/%s", sp.Spec.TargetRefs, route.Namespace, route.Name)
	}

	// And the ReferenceGrant lets it reach the Service across namespaces.
	rg := only[*gwapiv1beta1.ReferenceGrant](t, objs)
	if rg.Namespace != svc.Namespace {
		t.Errorf("ReferenceGrant in %q, want the Service's namespace %q", rg.Namespace, svc.Namespace)
	}
	fromOK := slices.ContainsFunc(rg.Spec.From, func(f gwapiv1beta1.ReferenceGrantFrom) bool {
		return f.Group == egv1a1.GroupName && f.Kind == egv1a1.KindSecurityPolicy && string(f.Namespace) == sp.Namespace
	})
	toOK := slices.ContainsFunc(rg.Spec.To, func(to gwapiv1beta1.ReferenceGrantTo) bool {
		return to.Group == "" && to.Kind == "Service" && (to.Name == nil || string(*to.Name) == svc.Name)
	})
	if !fromOK || !toOK {
		t.Errorf("ReferenceGrant %+v does not let SecurityPolicies of %s use Service %s", rg.Spec, sp.Namespace, svc.Name)
	}
}

// Istio and Envoy Gateway cannot send per-route context_extensions, so each overlay's
// policy.rules must decide every route as Envoy's per-route settings do: envoy/envoy-local.yaml's,
// which are envoy/envoy.yaml's without the demo's web app and emulator (testenv/envoyconf's
// TestPresetsAgree holds them to that).
func TestGatewayRulesReplaceContextExtensions(t *testing.T) {
	type decision struct {
		path, auth     string
		groups, scopes []string
	}
	var want []decision
	for _, r := range envoyConfigFile(t, "envoy-local.yaml").routes() {
		pf, ok := r.TypedPerFilterConfig[extAuthzFilter]
		if !ok {
			continue
		}
		d := decision{path: r.matchPath(), auth: "off"}
		if !pf.Disabled {
			ext := pf.CheckSettings.ContextExtensions
			d.auth = ext["auth"]
			d.groups = strings.FieldsFunc(ext["groups"], func(r rune) bool { return r == ',' })
			d.scopes = strings.Fields(ext["scopes"])
		}
		want = append(want, d)
	}
	if len(want) == 0 {
		t.Fatal("envoy/envoy-local.yaml has no per-route ext_authz settings to compare with")
	}
	composeDefault := parseServiceConfig(t, readFile(t, repoPath("deploy", "compose", "cognito-authz.yaml"))).Policy.Default

	for _, dir := range []string{"istio", "envoy-gateway"} {
		t.Run(dir, func(t *testing.T) {
			cm := only[*corev1.ConfigMap](t, kustomize(t, dir))
			cfg := parseServiceConfig(t, []byte(cm.Data[configKey]))
			var got []decision
			for _, r := range cfg.Policy.Rules {
				if len(r.Methods) > 0 {
					t.Errorf("rule %s is limited to %q; Envoy's routes are not", r.PathPrefix, r.Methods)
				}
				got = append(got, decision{path: r.PathPrefix, auth: r.Auth, groups: r.GroupsAny, scopes: r.ScopesAll})
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("policy.rules decide\n  %v\nenvoy/envoy-local.yaml's routes decide\n  %v", got, want)
			}
			if cfg.Policy.Default != composeDefault {
				t.Errorf("policy.default %q, envoy.yaml's other routes get %q", cfg.Policy.Default, composeDefault)
			}
		})
	}
}

// The overlays change the rules only: pool, clients and everything else stay the base's.
func TestGatewayOverlaysKeepTheBaseConfig(t *testing.T) {
	strip := func(t *testing.T, data string) map[string]any {
		t.Helper()
		var m map[string]any
		if err := yaml.Unmarshal([]byte(data), &m); err != nil {
			t.Fatal(err)
		}
		if p, ok := m["policy"].(map[string]any); ok {
			delete(p, "rules")
		}
		return m
	}
	base := only[*corev1.ConfigMap](t, kustomize(t, "kubernetes")).Data[configKey]
	for _, dir := range []string{"istio", "envoy-gateway"} {
		t.Run(dir, func(t *testing.T) {
			overlay := only[*corev1.ConfigMap](t, kustomize(t, dir)).Data[configKey]
			if b, o := strip(t, base), strip(t, overlay); !reflect.DeepEqual(b, o) {
				t.Errorf("apart from policy.rules, the overlay's config\n  %v\ndiffers from the base's\n  %v", o, b)
			}
		})
	}
}

// Headers with an underscore in their name never reach the app through compose's Envoy, a mesh or
// a gateway: app servers that fold '_' into '-' would read x_user_sub as identity.
func TestMeshesDropUnderscoreHeaders(t *testing.T) {
	t.Run("compose", func(t *testing.T) {
		for _, l := range composeEnvoyConfig(t).StaticResources.Listeners {
			for _, fc := range l.FilterChains {
				for _, f := range fc.Filters {
					if got := f.TypedConfig.CommonHTTPProtocolOptions.HeadersWithUnderscoresAction; got != "DROP_HEADER" {
						t.Errorf("envoy/envoy.yaml listener %s: headers_with_underscores_action %q, want DROP_HEADER", l.Name, got)
					}
				}
			}
		}
	})
	t.Run("istio", func(t *testing.T) {
		objs := kustomize(t, "istio")
		ap := only[*istioAuthorizationPolicy](t, objs)
		ef := only[*istioEnvoyFilter](t, objs)
		if ef.Namespace != ap.Namespace || !reflect.DeepEqual(ef.Spec.GetWorkloadSelector().GetLabels(), ap.Spec.GetSelector().GetMatchLabels()) {
			t.Errorf("the EnvoyFilter selects %v in %s, not the workload the AuthorizationPolicy checks (%v in %s)",
				ef.Spec.GetWorkloadSelector().GetLabels(), ef.Namespace, ap.Spec.GetSelector().GetMatchLabels(), ap.Namespace)
		}
		var drops, strips bool
		for _, p := range ef.Spec.GetConfigPatches() {
			if p.GetMatch().GetContext().String() != "SIDECAR_INBOUND" {
				t.Errorf("patch %v applies to %v, want the inbound sidecar (requests to the app)", p.GetApplyTo(), p.GetMatch().GetContext())
			}
			value, err := protojson.Marshal(p.GetPatch().GetValue())
			if err != nil {
				t.Fatal(err)
			}
			var v struct {
				TypedConfig struct {
					Common struct {
						Action string `json:"headers_with_underscores_action"`
					} `json:"common_http_protocol_options"`
					Mutations struct {
						Request []map[string]any `json:"request_mutations"`
					} `json:"mutations"`
				} `json:"typed_config"`
			}
			if err := json.Unmarshal(value, &v); err != nil {
				t.Fatal(err)
			}
			drops = drops || v.TypedConfig.Common.Action == "DROP_HEADER"
			strips = strips || (p.GetPatch().GetOperation().String() == "INSERT_BEFORE" &&
				strings.Contains(fmt.Sprint(v.TypedConfig.Mutations.Request), "prefix:x-user-"))
		}
		if !drops {
			t.Error("no patch sets headers_with_underscores_action: DROP_HEADER on the inbound HTTP connection manager")
		}
		if !strips {
			t.Error("no patch removes every x-user- header before ext_authz")
		}
	})
	t.Run("envoy-gateway", func(t *testing.T) {
		ctp := only[*egv1a1.ClientTrafficPolicy](t, kustomize(t, "envoy-gateway"))
		routes, err := decodeAll(readFile(t, "envoy-gateway/httproute.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		parent := only[*gwapiv1.HTTPRoute](t, routes).Spec.ParentRefs[0]
		refs := ctp.Spec.TargetRefs
		if len(refs) != 1 || refs[0].Kind != "Gateway" || refs[0].Name != parent.Name || parent.Namespace == nil || ctp.Namespace != string(*parent.Namespace) {
			t.Errorf("the ClientTrafficPolicy in %s targets %+v, not the app's Gateway %+v", ctp.Namespace, refs, parent)
		}
		if h := ctp.Spec.Headers; h == nil || h.WithUnderscoresAction == nil || *h.WithUnderscoresAction != egv1a1.WithUnderscoresActionDropHeader {
			t.Errorf("headers.withUnderscoresAction is %v, want DropHeader", h)
		}
	})
}
