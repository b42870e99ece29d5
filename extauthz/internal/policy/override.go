package policy

import (
	"net/url"
	"slices"
	"strings"
)

// MethodOverrideHeaders are the request headers app frameworks read as the request's real method
// (Express's method-override, Laravel, Symfony, Rails): a POST carrying X-HTTP-Method-Override:
// DELETE is served as a DELETE.
var MethodOverrideHeaders = []string{"x-http-method-override", "x-http-method", "x-method-override"}

// MethodOverrideParam is the query parameter Laravel and Symfony read as the real method.
const MethodOverrideParam = "_method"

// RequirementWithOverrides is RequirementAt, with every method the request's override headers
// (MethodOverrideHeaders, each comma-separated value) and its query's _method name judged as one
// more reading of the request: an app server may serve it as that method, so the strictest
// reading wins. headers are the request's, by lower-case name. Methods that no rule tells apart
// are judged once, so the cost stays linear in the headers whatever they repeat.
func (c *Config) RequirementWithOverrides(hosts []string, rawPath, method string, headers map[string]string, contextExtensions map[string]string) (req Requirement) {
	c.requirementAt(&req, hosts, rawPath, method, contextExtensions)
	if req.fromContext || !c.namesMethods() {
		return req // Envoy's route decided, or no rule tells methods apart: the method plays no part
	}
	judged := []string{c.methodClass(method)}
	also := func(m string) {
		m = strings.TrimSpace(m)
		if m == "" {
			return
		}
		if class := c.methodClass(m); !slices.Contains(judged, class) {
			judged = append(judged, class)
			req = req.and(c.RequirementAt(hosts, rawPath, m, contextExtensions))
		}
	}
	for _, name := range MethodOverrideHeaders {
		for m := range strings.SplitSeq(headers[name], ",") {
			also(m)
		}
	}
	if _, query, ok := strings.Cut(rawPath, "?"); ok && (strings.Contains(query, "method") || strings.Contains(query, "%")) {
		for pair := range strings.SplitSeq(query, "&") {
			k, v, _ := strings.Cut(pair, "=")
			if k, err := url.QueryUnescape(k); err == nil && k == MethodOverrideParam {
				if v, err := url.QueryUnescape(v); err == nil {
					also(v)
				}
			}
		}
	}
	return req
}

// RequirementAnyMethod is RequirementWithOverrides for a request whose headers were not read
// (more than authz.MaxHeaderLines lines): any override header may be among them, so every method
// a rule names is one more reading of the request, and the strictest wins.
func (c *Config) RequirementAnyMethod(hosts []string, rawPath, method string, contextExtensions map[string]string) Requirement {
	var every []string
	for i := range c.Rules {
		every = append(every, c.Rules[i].Methods...)
	}
	return c.RequirementWithOverrides(hosts, rawPath, method, map[string]string{MethodOverrideHeaders[0]: strings.Join(every, ",")}, contextExtensions)
}

// namesMethods reports that some rule lists methods: only then can another method be judged
// otherwise.
func (c *Config) namesMethods() bool {
	for i := range c.Rules {
		if len(c.Rules[i].Methods) > 0 {
			return true
		}
	}
	return false
}

// methodClass is the method as the rules tell it apart: the rule method it names
// (case-insensitively), HEAD (which GET rules cover), or "" for any method no rule names.
func (c *Config) methodClass(m string) string {
	if strings.EqualFold(m, "HEAD") {
		return "HEAD"
	}
	for i := range c.Rules {
		for _, rm := range c.Rules[i].Methods {
			if strings.EqualFold(rm, m) {
				return strings.ToUpper(rm)
			}
		}
	}
	return ""
}
