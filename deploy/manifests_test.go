package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	networkingv1alpha3 "istio.io/api/networking/v1alpha3"
	securityv1 "istio.io/api/security/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwapiv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	strictjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// The API types the manifests may use. Anything else is an error: a kind the tests cannot check
// is a kind nobody checked.
var (
	scheme        = runtime.NewScheme()
	strictDecoder runtime.Decoder
)

func init() {
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme, autoscalingv2.AddToScheme,
		gwapiv1.Install, gwapiv1beta1.Install, egv1a1.AddToScheme, monitoringv1.AddToScheme,
	} {
		utilruntime.Must(add(scheme))
	}
	strictDecoder = serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
}

// Istio's resources are decoded apart: their specs are protocol buffers, checked with protojson,
// which rejects unknown fields.
var (
	istioAuthorizationPolicyGVK = schema.GroupVersionKind{Group: "security.istio.io", Version: "v1", Kind: "AuthorizationPolicy"}
	istioEnvoyFilterGVK         = schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1alpha3", Kind: "EnvoyFilter"}
)

// istioObject is an Istio resource with its spec as Istio reads it.
type istioObject[Spec proto.Message] struct {
	metav1.TypeMeta
	metav1.ObjectMeta
	Spec Spec
}

type (
	istioAuthorizationPolicy = istioObject[*securityv1.AuthorizationPolicy]
	istioEnvoyFilter         = istioObject[*networkingv1alpha3.EnvoyFilter]
)

// object is one decoded manifest.
type object struct {
	GVK       schema.GroupVersionKind
	Name      string
	Namespace string
	Obj       any // a pointer to the API type: *appsv1.Deployment, *istioAuthorizationPolicy, ...
}

// decodeStrict decodes one YAML document into its API type; unknown or duplicate fields, and
// unknown kinds, are errors.
func decodeStrict(doc []byte) (object, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return object{}, err
	}
	gvk := tm.GroupVersionKind()
	var istio interface{ GetObjectMeta() metav1.Object }
	var err error
	switch gvk {
	case istioAuthorizationPolicyGVK:
		istio, err = decodeIstio(doc, &securityv1.AuthorizationPolicy{})
	case istioEnvoyFilterGVK:
		istio, err = decodeIstio(doc, &networkingv1alpha3.EnvoyFilter{})
	}
	if err != nil {
		return object{}, fmt.Errorf("%s: %w", gvk.Kind, err)
	}
	if istio != nil {
		meta := istio.GetObjectMeta()
		return object{GVK: gvk, Name: meta.GetName(), Namespace: meta.GetNamespace(), Obj: istio}, nil
	}
	obj, got, err := strictDecoder.Decode(doc, nil, nil)
	if err != nil {
		return object{}, err
	}
	meta, err := metaOf(obj)
	if err != nil {
		return object{}, err
	}
	return object{GVK: *got, Name: meta.GetName(), Namespace: meta.GetNamespace(), Obj: obj}, nil
}

func metaOf(obj runtime.Object) (metav1.Object, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("%T has no object metadata", obj)
	}
	return m, nil
}

func decodeIstio[Spec proto.Message](doc []byte, spec Spec) (*istioObject[Spec], error) {
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return nil, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(js, &top); err != nil {
		return nil, err
	}
	for k := range top {
		if !slices.Contains([]string{"apiVersion", "kind", "metadata", "spec"}, k) {
			return nil, fmt.Errorf("unknown field %q", k)
		}
	}
	obj := &istioObject[Spec]{Spec: spec}
	if err := strictUnmarshal(js, &obj.TypeMeta); err != nil {
		return nil, err
	}
	if err := strictUnmarshal(top["metadata"], &obj.ObjectMeta); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	if err := protojson.Unmarshal(top["spec"], obj.Spec); err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	return obj, nil
}

// strictUnmarshal is Kubernetes' own strict JSON decoding, case-sensitive, for plain structs.
// TypeMeta is decoded from the whole object, so only its own fields are checked there.
func strictUnmarshal(data []byte, v any) error {
	if _, isTypeMeta := v.(*metav1.TypeMeta); isTypeMeta {
		return json.Unmarshal(data, v)
	}
	strict, err := strictjson.UnmarshalStrict(data, v)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// decodeAll decodes every document of a multi-document YAML stream.
func decodeAll(data []byte) ([]object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []object
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if js, err := yaml.YAMLToJSON(doc); err == nil && string(js) == "null" {
			continue // comments only
		}
		obj, err := decodeStrict(doc)
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
}

// kustomize builds dir as `kubectl apply -k dir` would and decodes every resource strictly.
func kustomize(t *testing.T, dir string) []object {
	t.Helper()
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var out []object
	for _, r := range resources.Resources() {
		doc, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		obj, err := decodeStrict(doc)
		if err != nil {
			t.Fatalf("kustomize build %s: %s %s: %v", dir, r.GetKind(), r.GetName(), err)
		}
		out = append(out, obj)
	}
	return out
}

// only returns the single object of type T among objs.
func only[T any](t *testing.T, objs []object) T {
	t.Helper()
	var found []T
	for _, o := range objs {
		if v, ok := o.Obj.(T); ok {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("want exactly one %T, found %d", zero, len(found))
	}
	return found[0]
}

func all[T any](objs []object) []T {
	var found []T
	for _, o := range objs {
		if v, ok := o.Obj.(T); ok {
			found = append(found, v)
		}
	}
	return found
}
