package cognitoapi

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// PasswordPolicy is a user pool's password policy, named as CreateUserPool's
// Policies.PasswordPolicy names it.
type PasswordPolicy struct {
	MinimumLength    int
	RequireUppercase bool
	RequireLowercase bool
	RequireNumbers   bool
	RequireSymbols   bool
}

// DefaultPasswordPolicy is what Cognito gives a pool that declares none.
var DefaultPasswordPolicy = PasswordPolicy{MinimumLength: 8, RequireUppercase: true, RequireLowercase: true, RequireNumbers: true, RequireSymbols: true}

// PasswordSymbols are the characters Cognito counts as symbols (a space too, but not at the start
// or the end).
const PasswordSymbols = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- "

// InvalidPasswordException is Cognito's error type for a password its pool's policy refuses.
const InvalidPasswordException = "InvalidPasswordException"

// Violation is Cognito's message for the first rule of the policy that password breaks, e.g.
// "Password did not conform with policy: Password must have uppercase characters", or "" when it
// meets them all.
func (p PasswordPolicy) Violation(password string) string {
	has := func(f func(rune) bool) bool { return strings.IndexFunc(password, f) >= 0 }
	symbol := func(r rune) bool { return strings.ContainsRune(PasswordSymbols, r) }
	var problem string
	switch {
	case utf8.RuneCountInString(password) < p.MinimumLength:
		problem = "Password not long enough"
	case p.RequireLowercase && !has(unicode.IsLower):
		problem = "Password must have lowercase characters"
	case p.RequireUppercase && !has(unicode.IsUpper):
		problem = "Password must have uppercase characters"
	case p.RequireNumbers && !has(unicode.IsDigit):
		problem = "Password must have numeric characters"
	case p.RequireSymbols && !has(symbol):
		problem = "Password must have symbol characters"
	default:
		return ""
	}
	return "Password did not conform with policy: " + problem
}
