package httptext_test

import (
	"testing"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/httptext"
)

func TestIsToken(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"x-access-token", true},
		{"GET", true},
		{"access_token", true},
		{"CognitoIdentityServiceProvider.abc123.LastAuthUser", true},
		{"!#$%&'*+-.^_`|~", true},
		{"", false},
		{"x token", false},
		{":path", false},
		{"a=b", false},
		{"a;b", false},
		{"a,b", false},
		{`"quoted"`, false},
		{"caf\u00e9", false},
		{"tab\there", false},
	}
	for _, tt := range tests {
		if got := httptext.IsToken(tt.in); got != tt.want {
			t.Errorf("IsToken(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestPercentDecode(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no escape", "/api/admin", "/api/admin"},
		{"lower-case hex", "/api/%61dmin", "/api/admin"},
		{"upper-case hex", "alice%40EXAMPLE%2Ecom", "alice@EXAMPLE.com"},
		{"encoded slash", "/api%2Fadmin", "/api/admin"},
		{"dot segments", "/%2e%2e/x", "/../x"},
		{"escape at the very end", "a%41", "aA"},
		{"invalid hex left alone", "/public/%zz", "/public/%zz"},
		{"one invalid digit left alone", "%4g%g4", "%4g%g4"},
		{"percent one before the end", "a%4", "a%4"},
		{"percent at the end", "a%", "a%"},
		{"lone percent", "%", "%"},
		{"escaped percent decoded once", "%2541", "%41"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := httptext.PercentDecode(tt.in); got != tt.want {
				t.Fatalf("PercentDecode(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
