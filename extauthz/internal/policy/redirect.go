package policy

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/httptext"
)

// UnauthenticatedMode is what an unauthenticated browser navigation to a required route gets.
type UnauthenticatedMode string

// Unauthenticated modes.
const (
	UnauthenticatedDeny     UnauthenticatedMode = "deny"
	UnauthenticatedRedirect UnauthenticatedMode = "redirect"

	// DefaultUnauthenticated is policy.unauthenticated when SignIn.Unauthenticated is empty.
	DefaultUnauthenticated = UnauthenticatedDeny
)

// ReturnParam is the query parameter that carries, on the redirect to policy.login_url, the
// path the browser asked for; the sign-in page sends the browser back there once signed in, and
// must follow only a same-site relative path (SafeReturnPath).
const ReturnParam = "return_to"

// maxReturnPath bounds the path carried in the redirect: a longer one is dropped (the browser
// lands on the sign-in page with nowhere to return), so a redirect stays a small header.
const maxReturnPath = 2048

// SignIn is the sign-in redirect part of the policy section.
type SignIn struct {
	// Unauthenticated is the default of rules[].unauthenticated, for rules that say nothing,
	// context extensions and policy.default: deny (401) or redirect.
	Unauthenticated UnauthenticatedMode `yaml:"unauthenticated"`
	// LoginURL is where a redirected navigation goes: a same-site path, optionally with a query.
	LoginURL string `yaml:"login_url"`
}

func (m UnauthenticatedMode) validate() error {
	switch m {
	case "", UnauthenticatedDeny, UnauthenticatedRedirect:
		return nil
	}
	return fmt.Errorf("unknown value %q (want deny or redirect)", m)
}

func (s SignIn) validate(rules []Rule) error {
	if err := s.Unauthenticated.validate(); err != nil {
		return fmt.Errorf("policy.unauthenticated: %w", err)
	}
	if s.LoginURL != "" {
		if !SafeReturnPath(s.LoginURL) || strings.Contains(s.LoginURL, "#") {
			return fmt.Errorf("policy.login_url: %q must be a path on this site (start with one /, no scheme, host, backslash, fragment or control character)", s.LoginURL)
		}
		return nil
	}
	if s.Unauthenticated == UnauthenticatedRedirect {
		return fmt.Errorf("policy.login_url: needed by policy.unauthenticated: redirect")
	}
	for i, r := range rules {
		if r.Unauthenticated == UnauthenticatedRedirect {
			return fmt.Errorf("policy.login_url: needed by policy.rules[%d].unauthenticated: redirect", i)
		}
	}
	return nil
}

// SignInLocation returns where to send an unauthenticated request, and true, when it is a
// browser navigation (GET or HEAD whose Accept prefers text/html) to a required route whose rule
// (or policy.unauthenticated) says redirect. The location is policy.login_url with ReturnParam
// set to rawPath, percent-encoded; a rawPath that is not a safe same-site path is left out, so
// the redirect can never point off-site. Every other request keeps its 401. headers are the
// request's, by lower-case name; Accept is looked up only for a request that could be redirected.
func (c *Config) SignInLocation(req *Requirement, d Decision, method, rawPath string, headers map[string]string) (string, bool) {
	if d.Result != Unauthenticated || !req.redirect || req.Auth != AuthRequired || c.LoginURL == "" {
		return "", false
	}
	if !strings.EqualFold(method, "GET") && !strings.EqualFold(method, "HEAD") {
		return "", false
	}
	if !PrefersHTML(headers["accept"]) {
		return "", false
	}
	if !SafeReturnPath(rawPath) || len(rawPath) > maxReturnPath {
		return c.LoginURL, true
	}
	sep := "?"
	if strings.Contains(c.LoginURL, "?") {
		sep = "&"
	}
	return c.LoginURL + sep + ReturnParam + "=" + url.QueryEscape(rawPath), true
}

// SafeReturnPath reports that p, as sent and percent-decoded, is a path on this site: it starts
// with exactly one "/" (not "//" or "/\", which browsers read as another host), holds no
// backslash and no control character.
func SafeReturnPath(p string) bool {
	return sameSitePath(p) && sameSitePath(httptext.PercentDecode(p))
}

func sameSitePath(p string) bool {
	if len(p) == 0 || p[0] != '/' || (len(p) > 1 && (p[1] == '/' || p[1] == '\\')) {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f || p[i] == '\\' {
			return false
		}
	}
	return true
}

// PrefersHTML reports that an Accept header prefers text/html: text/html is listed with a
// quality above zero, and no other media range has a higher one, and application/json not as
// high. A browser's navigation sends "text/html,...;q=0.9,*/*;q=0.8"; fetch() sends "*/*" unless
// told otherwise.
func PrefersHTML(accept string) bool {
	html, json, other := -1.0, -1.0, -1.0
	for accept != "" {
		var item string
		item, accept, _ = strings.Cut(accept, ",")
		media, params, _ := strings.Cut(item, ";")
		q := 1.0
		for params != "" {
			var p string
			p, params, _ = strings.Cut(params, ";")
			k, v, _ := strings.Cut(p, "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && f >= 0 && f <= 1 {
					q = f
				} else {
					q = 0
				}
			}
		}
		switch media = strings.TrimSpace(media); {
		case strings.EqualFold(media, "text/html"):
			html = max(html, q)
		case strings.EqualFold(media, "application/json"):
			json = max(json, q)
		default:
			other = max(other, q)
		}
	}
	return html > 0 && html >= other && html > json
}
