package policy

// What a Requirement keeps unexported, for the tests of package policy_test.

// RuleOf returns the index of the rule that decided r, or -1.
func RuleOf(r Requirement) int { return r.rule }

// FromContext reports whether Envoy's context_extensions decided r.
func FromContext(r Requirement) bool { return r.fromContext }

// GroupListsOf returns the group lists r asks a token to meet, one group of each.
func GroupListsOf(r Requirement) [][]string { return r.groupLists() }
