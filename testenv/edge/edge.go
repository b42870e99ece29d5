// Package edge renders and runs the other edges that cognito-authz's HTTP forward-auth endpoint
// serves: nginx with auth_request, Traefik with ForwardAuth and Envoy with HTTP ext_authz. Each configuration comes from one
// template, rendered with real addresses into deploy/forwardauth/ (what users copy) and onto free
// loopback ports for the tests and the benchmark, so the shipped files are the ones tested.
package edge

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"text/template"

	"github.com/cognito-authz/cognito-authz/extauthz"
	"github.com/cognito-authz/cognito-authz/testenv/envoyconf"
)

// Params are everything that differs between renderings.
type Params struct {
	Title string // first comment line

	Listen  envoyconf.Endpoint // the proxy's listener; port 0 is any free port (Envoy only)
	Backend envoyconf.Endpoint // the app
	Authz   envoyconf.Endpoint // cognito-authz's HTTP forward-auth endpoint (--http-listen)

	// nginx only.
	AccessLog string // the access log's file

	// Envoy only.
	Admin        envoyconf.Endpoint // the admin API; port 0 is any free port
	AuthzTimeout string             // bound on one check, e.g. 0.25s; empty: envoyconf.DefaultAuthzTimeout
}

// Local is the preset of the committed files: every process on loopback, the ports of
// envoy/envoy-local.yaml, and cognito-authz's HTTP endpoint on 9002.
func Local(title string) Params {
	return Params{
		Title:   title,
		Listen:  envoyconf.Endpoint{Host: "127.0.0.1", Port: 8000},
		Backend: envoyconf.Endpoint{Host: "127.0.0.1", Port: 8081},
		Authz:   envoyconf.Endpoint{Host: "127.0.0.1", Port: 9002},
		Admin:   envoyconf.Endpoint{Host: "127.0.0.1", Port: 9901},

		AccessLog: "/var/log/nginx/access.log",
	}
}

// Committed maps each file under deploy/forwardauth/ to how it is rendered.
func Committed() map[string]func() ([]byte, error) {
	return map[string]func() ([]byte, error){
		"nginx.conf": func() ([]byte, error) {
			return RenderNginx(Local("nginx auth_request in front of the app, checked by cognito-authz's HTTP endpoint: local processes on loopback."))
		},
		"envoy-http-ext-authz.yaml": func() ([]byte, error) {
			return RenderEnvoyHTTP(Local("Envoy HTTP ext_authz in front of the app, checked by cognito-authz's HTTP endpoint: local processes on loopback."))
		},
		"traefik.yaml": func() ([]byte, error) {
			return RenderTraefikStatic(Local(traefikTitle), TraefikDynamicFile)
		},
		TraefikDynamicFile: func() ([]byte, error) {
			return RenderTraefikDynamic(Local(traefikTitle))
		},
	}
}

var (
	//go:embed nginx.conf.tmpl
	nginxText string
	//go:embed envoy-http.yaml.tmpl
	envoyHTTPText string
	//go:embed traefik.yaml.tmpl
	traefikStaticText string
	//go:embed traefik-dynamic.yaml.tmpl
	traefikDynamicText string

	funcs = template.FuncMap{
		"join": strings.Join,
		// yaml quotes a string as a JSON string, which is a YAML double-quoted scalar.
		"yaml": func(s string) string { b, _ := json.Marshal(s); return string(b) },
		// hostport is an endpoint as nginx takes it.
		"hostport": func(e envoyconf.Endpoint) string { return net.JoinHostPort(e.Host, strconv.Itoa(e.Port)) },
		// variable is the nginx variable suffix of a header name: x-user-sub -> x_user_sub.
		"variable": func(header string) string { return strings.ReplaceAll(header, "-", "_") },
	}
	nginxTemplate          = template.Must(template.New("nginx.conf").Funcs(funcs).Option("missingkey=error").Parse(nginxText))
	envoyHTTPTemplate      = template.Must(template.New("envoy-http.yaml").Funcs(funcs).Option("missingkey=error").Parse(envoyHTTPText))
	traefikStaticTemplate  = template.Must(template.New("traefik.yaml").Funcs(funcs).Option("missingkey=error").Parse(traefikStaticText))
	traefikDynamicTemplate = template.Must(template.New("traefik-dynamic.yaml").Funcs(funcs).Option("missingkey=error").Parse(traefikDynamicText))
)

// templateData is Params plus what the templates share.
type templateData struct {
	Params
	EnvoyVersion    string
	IdentityHeaders []string
	IdentityPrefix  string
	OwnedHeaders    []string
	// MethodOverrideHeaders go into the check beside the token's headers.
	MethodOverrideHeaders []string

	// nginx only.
	Nginx nginxSizes

	// Traefik only.
	TraefikVersion string
	OwnedRegex     string // every owned header and its underscore look-alikes
	DynamicFile    string // the static configuration's file provider
}

// RenderNginx returns the nginx configuration (a file to include inside http { }) for p.
func RenderNginx(p Params) ([]byte, error) {
	if err := p.check(false); err != nil {
		return nil, err
	}
	return render(nginxTemplate, p, "")
}

// RenderEnvoyHTTP returns the Envoy bootstrap for p.
func RenderEnvoyHTTP(p Params) ([]byte, error) {
	if p.AuthzTimeout == "" {
		p.AuthzTimeout = envoyconf.DefaultAuthzTimeout
	}
	if err := p.check(true); err != nil {
		return nil, err
	}
	return render(envoyHTTPTemplate, p, "")
}

func render(t *template.Template, p Params, dynamicFile string) ([]byte, error) {
	var b strings.Builder
	data := templateData{Params: p, EnvoyVersion: envoyconf.EnvoyVersion, IdentityHeaders: envoyconf.IdentityHeaders,
		IdentityPrefix: envoyconf.IdentityPrefix, OwnedHeaders: envoyconf.OwnedHeaders,
		MethodOverrideHeaders: extauthz.MethodOverrideHeaders,
		TraefikVersion:        TraefikVersion, OwnedRegex: OwnedRegex(), DynamicFile: dynamicFile,
		Nginx: nginxSizesFor(extauthz.DefaultMaxTokenBytes)}
	if err := t.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("edge: render %s: %w", t.Name(), err)
	}
	return []byte(b.String()), nil
}

func (p Params) check(envoy bool) error {
	var errs []error
	if strings.ContainsAny(p.Title, "\r\n") {
		errs = append(errs, errors.New("edge: title must be one line"))
	}
	upstream := func(name string, e envoyconf.Endpoint, zeroPortOK bool) {
		if e.Host == "" || strings.ContainsAny(e.Host, " ;{}'\"\r\n") {
			errs = append(errs, fmt.Errorf("edge: %s: bad host %q", name, e.Host))
		}
		if e.Port < 0 || e.Port > 65535 || (e.Port == 0 && !zeroPortOK) {
			errs = append(errs, fmt.Errorf("edge: %s: bad port %d", name, e.Port))
		}
	}
	upstream("listen", p.Listen, envoy)
	upstream("backend", p.Backend, false)
	upstream("authz", p.Authz, false)
	if !envoy && (p.AccessLog == "" || strings.ContainsAny(p.AccessLog, " ;{}'\"\r\n")) {
		errs = append(errs, fmt.Errorf("edge: bad access log %q", p.AccessLog))
	}
	if envoy {
		upstream("admin", p.Admin, true)
	}
	return errors.Join(errs...)
}
