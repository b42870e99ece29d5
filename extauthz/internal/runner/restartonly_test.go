package runner

import (
	"os"
	"strings"
	"testing"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/config"
)

// TestRestartOnlySettingsAreDocumented: every setting a reload warns needs a restart is in the
// restart lists of docs/reference.md, README.md and docs/design.md.
func TestRestartOnlySettingsAreDocumented(t *testing.T) {
	// Each list is the few lines before (or, in the README, after) its marker.
	for _, doc := range []struct {
		path, marker string
		after        bool
	}{
		{"../../../docs/reference.md", "need a restart", false},
		{"../../../README.md", "**What needs a restart:**", true},
		{"../../../docs/design.md", "need a restart (a warning", false},
	} {
		b, err := os.ReadFile(doc.path)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Join(strings.Fields(string(b)), " ")
		i := strings.Index(text, doc.marker)
		if i < 0 {
			t.Fatalf("%s: no %q", doc.path, doc.marker)
		}
		list := text[max(0, i-150):i]
		if doc.after {
			list = text[i:min(len(text), i+len(doc.marker)+150)]
		}
		for _, c := range restartOnly(config.Default(), config.Default()) {
			key, _, _ := strings.Cut(c.key, " ")
			if strings.HasPrefix(key, "tls") {
				key = "TLS or mTLS on or off"
			}
			if !strings.Contains(list, key) {
				t.Errorf("%s: the restart list does not name %s: %q", doc.path, key, list)
			}
		}
	}
}
