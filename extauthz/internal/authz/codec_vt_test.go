//go:build vtprotobuf

package authz

import (
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// Built with -tags vtprotobuf, every answer Check gives is encoded by generated code.
func TestCodecUsesGeneratedEncoder(t *testing.T) {
	for name, msg := range map[string]any{
		"authenticated": sampleAuthenticatedResponse(),
		"denied":        deniedResponse("{}"),
		"empty":         &authv3.CheckResponse{},
	} {
		if _, ok := msg.(vtMarshaler); !ok {
			t.Errorf("%s: %T has no generated encoder", name, msg)
		}
	}
}
