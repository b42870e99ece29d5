package bench

import (
	"strings"
	"testing"

	"github.com/cognito-authz/cognito-authz/testenv/envoyconf"
)

// TestVariantEditsChangeOneSetting: each Envoy variant edits the committed ext_authz configuration
// in exactly the setting it names, and refuses a configuration without it rather than running the
// committed one under the variant's name.
func TestVariantEditsChangeOneSetting(t *testing.T) {
	rendered, err := envoyconf.Render(envoyconf.Local())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		variant     string
		gone, added string
	}{
		{"map-headers", "encode_raw_headers: true", ""},
		{"google-grpc", "envoy_grpc:", `target_uri: "127.0.0.1:9001"`},
	} {
		t.Run(tc.variant, func(t *testing.T) {
			if !strings.Contains(string(rendered), tc.gone) {
				t.Fatalf("the committed configuration has no %q", tc.gone)
			}
			out, err := variants[tc.variant].edit(rendered, "127.0.0.1:9001")
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(out), tc.gone) {
				t.Errorf("still has %q", tc.gone)
			}
			if tc.added != "" && !strings.Contains(string(out), tc.added) {
				t.Errorf("has no %q", tc.added)
			}
			if _, err := variants[tc.variant].edit(out, "127.0.0.1:9001"); err == nil {
				t.Error("edited a configuration without the setting")
			}
		})
	}
}
