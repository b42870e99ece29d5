package cognitoapi

import "testing"

func TestPasswordPolicyViolation(t *testing.T) {
	tests := []struct {
		name     string
		policy   PasswordPolicy
		password string
		want     string
	}{
		{"meets the default", DefaultPasswordPolicy, "Carol-passw0rd", ""},
		{"too short", DefaultPasswordPolicy, "Ab1-", "Password did not conform with policy: Password not long enough"},
		{"length counts characters, not bytes", PasswordPolicy{MinimumLength: 4}, "äöü", "Password did not conform with policy: Password not long enough"},
		{"no lowercase", DefaultPasswordPolicy, "WEAKPASS1-", "Password did not conform with policy: Password must have lowercase characters"},
		{"no uppercase", DefaultPasswordPolicy, "password", "Password did not conform with policy: Password must have uppercase characters"},
		{"no digit", DefaultPasswordPolicy, "Password-", "Password did not conform with policy: Password must have numeric characters"},
		{"no symbol", DefaultPasswordPolicy, "Passw0rdd", "Password did not conform with policy: Password must have symbol characters"},
		{"a space is a symbol", DefaultPasswordPolicy, "Pass w0rd", ""},
		{"a policy that asks for nothing", PasswordPolicy{}, "x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.policy.Violation(tt.password); got != tt.want {
				t.Errorf("Violation(%q) = %q, want %q", tt.password, got, tt.want)
			}
		})
	}
}
