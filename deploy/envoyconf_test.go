package deploy

import (
	"testing"

	"sigs.k8s.io/yaml"
)

// envoyConfig is the part of an Envoy bootstrap (envoy/envoy.yaml) the deployment must agree
// with. Envoy itself validates the whole file (testenv/envoyconf runs envoy --mode validate on it).
type envoyConfig struct {
	Admin struct {
		Address envoyAddress `json:"address"`
	} `json:"admin"`
	StaticResources struct {
		Listeners []struct {
			Name         string       `json:"name"`
			Address      envoyAddress `json:"address"`
			FilterChains []struct {
				Filters []struct {
					TypedConfig struct {
						CommonHTTPProtocolOptions struct {
							HeadersWithUnderscoresAction string `json:"headers_with_underscores_action"`
						} `json:"common_http_protocol_options"`
						RouteConfig struct {
							VirtualHosts []struct {
								Routes []envoyRoute `json:"routes"`
							} `json:"virtual_hosts"`
						} `json:"route_config"`
					} `json:"typed_config"`
				} `json:"filters"`
			} `json:"filter_chains"`
		} `json:"listeners"`
		Clusters []struct {
			Name           string `json:"name"`
			LoadAssignment struct {
				Endpoints []struct {
					LBEndpoints []struct {
						Endpoint struct {
							Address envoyAddress `json:"address"`
						} `json:"endpoint"`
					} `json:"lb_endpoints"`
				} `json:"endpoints"`
			} `json:"load_assignment"`
		} `json:"clusters"`
	} `json:"static_resources"`
}

type envoyAddress struct {
	SocketAddress struct {
		Address   string `json:"address"`
		PortValue int    `json:"port_value"`
	} `json:"socket_address"`
}

type envoyRoute struct {
	Match struct {
		Path                string `json:"path"`
		Prefix              string `json:"prefix"`
		PathSeparatedPrefix string `json:"path_separated_prefix"`
	} `json:"match"`
	TypedPerFilterConfig map[string]struct {
		Disabled      bool `json:"disabled"`
		CheckSettings struct {
			ContextExtensions map[string]string `json:"context_extensions"`
		} `json:"check_settings"`
	} `json:"typed_per_filter_config"`
}

// matchPath is the path or path prefix the route matches on, whichever it sets.
func (r envoyRoute) matchPath() string {
	for _, p := range []string{r.Match.Path, r.Match.PathSeparatedPrefix, r.Match.Prefix} {
		if p != "" {
			return p
		}
	}
	return ""
}

const extAuthzFilter = "envoy.filters.http.ext_authz"

// composeEnvoyConfig reads envoy/envoy.yaml, the configuration the compose stack mounts.
func composeEnvoyConfig(t *testing.T) envoyConfig { return envoyConfigFile(t, "envoy.yaml") }

// envoyConfigFile reads one of the configurations under envoy/.
func envoyConfigFile(t *testing.T, name string) envoyConfig {
	t.Helper()
	var c envoyConfig
	if err := yaml.Unmarshal(readFile(t, repoPath("envoy", name)), &c); err != nil {
		t.Fatalf("envoy/%s: %v", name, err)
	}
	if len(c.StaticResources.Listeners) == 0 || len(c.StaticResources.Clusters) == 0 {
		t.Fatalf("envoy/%s has no static listeners or clusters", name)
	}
	return c
}

// routes returns every route of every listener.
func (c envoyConfig) routes() []envoyRoute {
	var out []envoyRoute
	for _, l := range c.StaticResources.Listeners {
		for _, fc := range l.FilterChains {
			for _, f := range fc.Filters {
				for _, vh := range f.TypedConfig.RouteConfig.VirtualHosts {
					out = append(out, vh.Routes...)
				}
			}
		}
	}
	return out
}
