package forwardauth

import (
	"net/http"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// HeaderForwardedHost names the original request's host, set by the proxy in front. The policy's
// rules[].hosts are matched against it, so it is trusted only because the proxy sets it: the
// committed nginx configuration overwrites it (proxy_set_header), Traefik's ForwardAuth sets it
// itself unless trustForwardHeader is on. Every value is a reading (the strictest rule wins);
// with none, the host is unknown and every host's rules apply.
const HeaderForwardedHost = "X-Forwarded-Host"

// originalHosts are the hosts the original request may have been for: X-Forwarded-Host and, when
// the request is the original itself (Envoy's HTTP ext_authz), its own Host too.
func (h *Handler) originalHosts(r *http.Request) []string {
	hosts := nonEmpty(r.Header.Values(HeaderForwardedHost))
	if h.opts.RequestIsOriginal && !hasForwardedURI(r.Header) && r.Host != "" {
		hosts = append(hosts, r.Host)
	}
	return hosts
}

func hasForwardedURI(h http.Header) bool {
	return len(nonEmpty(h.Values(HeaderForwardedURI))) > 0 || len(nonEmpty(h.Values(HeaderOriginalURI))) > 0
}

// withHost adds the hosts to the check as Envoy's :authority lines, which Check reads as the
// request's host; any :authority or host line the client sent is dropped first.
func withHost(req *authv3.CheckRequest, hosts []string) *authv3.CheckRequest {
	hm := req.GetAttributes().GetRequest().GetHttp().GetHeaderMap()
	kept := hm.Headers[:0]
	for _, hv := range hm.Headers {
		if hv.Key != ":authority" && hv.Key != "host" {
			kept = append(kept, hv)
		}
	}
	for _, host := range hosts {
		kept = append(kept, &corev3.HeaderValue{Key: ":authority", Value: host})
	}
	hm.Headers = kept
	return req
}
