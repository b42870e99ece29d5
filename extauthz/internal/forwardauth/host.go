package forwardauth

import (
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/http1"
)

// HeaderForwardedHost names the original request's host, set by the proxy in front. The policy's
// rules[].hosts are matched against it, so it is trusted only because the proxy sets it: the
// committed nginx configuration overwrites it (proxy_set_header), Traefik's ForwardAuth sets it
// itself unless trustForwardHeader is on. Every value is a reading (the strictest rule wins);
// with none, the host is unknown and every host's rules apply.
const HeaderForwardedHost = "X-Forwarded-Host"

// originalHosts are the hosts the original request may have been for: X-Forwarded-Host and, when
// the request is the original itself (Envoy's HTTP ext_authz), its own Host too.
func (h *Handler) originalHosts(r *http1.Request) []string {
	hosts := nonEmpty(r.Values(HeaderForwardedHost))
	if h.opts.RequestIsOriginal && !hasForwardedURI(r) && r.Host != "" {
		hosts = append(hosts, r.Host)
	}
	return hosts
}

func hasForwardedURI(r *http1.Request) bool {
	return len(nonEmpty(r.Values(HeaderForwardedURI))) > 0 || len(nonEmpty(r.Values(HeaderOriginalURI))) > 0
}

// HeaderForwardedProto is the original request's scheme, set by the proxy like X-Forwarded-Host.
const HeaderForwardedProto = "X-Forwarded-Proto"

// siteLocation makes the sign-in redirect's Location, a path on this site, absolute on the
// original request's site when the proxy names it (X-Forwarded-Proto http or https and one
// X-Forwarded-Host of host characters): Traefik resolves a relative Location against the
// forward-auth endpoint's own address, which would send the browser there. Otherwise the path is
// left as it is (Envoy passes it on unchanged, and the browser resolves it on the site it is on).
func siteLocation(r *http1.Request, location string) string {
	if !strings.HasPrefix(location, "/") {
		return location
	}
	proto, host := nonEmpty(r.Values(HeaderForwardedProto)), nonEmpty(r.Values(HeaderForwardedHost))
	if len(proto) != 1 || len(host) != 1 || (proto[0] != "http" && proto[0] != "https") || !hostChars(host[0]) {
		return location
	}
	return proto[0] + "://" + host[0] + location
}

// hostChars reports that s is a host, with an optional port, of letters, digits, "-", "." and
// ":" (and the brackets of an IPv6 literal): nothing that could end the authority early.
func hostChars(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || strings.IndexByte("-.:[]", b) >= 0) {
			return false
		}
	}
	return true
}

// withSiteLocation is headers with the Location made absolute on the original site (siteLocation);
// the answer's own headers are shared, so a changed one is a copy.
func withSiteLocation(r *http1.Request, headers []*corev3.HeaderValueOption) []*corev3.HeaderValueOption {
	out := make([]*corev3.HeaderValueOption, len(headers))
	for i, opt := range headers {
		out[i] = opt
		if strings.EqualFold(opt.GetHeader().GetKey(), "location") {
			out[i] = &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: "location", Value: siteLocation(r, opt.GetHeader().GetValue())}}
		}
	}
	return out
}
